"""Eval-set predictions of a lab run as a file in its model_dir (``eval_predictions.npz``), never in an event.

The worker writes the file atomically (temp file, fsync, rename) and reports only its path; the runs view
loads it when it draws a run's diagnostics. Plain arrays only: saved and loaded with ``allow_pickle=False``.

Examples
--------
>>> import tempfile, os
>>> path = save_predictions(os.path.join(tempfile.mkdtemp(), PREDICTIONS_FILE),
...                         {"task": "regression", "y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]})
>>> load_predictions(path)["y_pred"].tolist()
[1.5, 2.0]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

#: The file name of a run's eval-set predictions inside its model_dir.
PREDICTIONS_FILE = "eval_predictions.npz"
_KEYS = {"regression": ("y_true", "y_pred"), "classification": ("y_true", "probabilities", "y_pred")}


def _plain_array(values: Any) -> np.ndarray:
    """``values`` as an array numpy stores without pickle: object arrays become int64 (all ints) or str."""
    array = np.asarray(values)
    if array.dtype != object:
        return array
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in array.ravel()):
        return array.astype(np.int64)
    return array.astype(str)


def save_predictions(path: str, predictions: Mapping[str, Any]) -> str:
    """Write ``predictions`` (``task`` plus arrays, ``classes`` for classification) to ``path`` atomically.

    Parameters
    ----------
    path
        Target file, usually ``<model_dir>/eval_predictions.npz``.
    predictions
        ``{"task": "regression", "y_true", "y_pred"}`` or ``{"task": "classification", "y_true",
        "probabilities", "classes", "y_pred"}``.

    Returns
    -------
    str
        ``path``, once the file is complete.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> save_predictions(path, {"task": "classification", "y_true": ["a", "b"], "classes": ["a", "b"],
    ...                         "probabilities": [[0.9, 0.1], [0.3, 0.7]], "y_pred": ["a", "b"]}) == path
    True
    """
    task = predictions.get("task")
    if task not in _KEYS:
        raise ValueError(f"predictions: 'task' must be one of {sorted(_KEYS)}, got {task!r}")
    missing = [k for k in _KEYS[task] + (("classes",) if task == "classification" else ()) if k not in predictions]
    if missing:
        raise ValueError(f"predictions: {task} predictions need {missing}; got keys {sorted(predictions)}")
    arrays = {"task": np.asarray(task)}
    arrays.update({k: _plain_array(predictions[k]) for k in _KEYS[task]})
    if task == "classification":
        arrays["classes"] = _plain_array(list(predictions["classes"]))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".eval_predictions-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_predictions(path: str) -> dict[str, Any]:
    """Read a file written by :func:`save_predictions` (no pickle): ``task``, arrays, ``classes`` as a list.

    Examples
    --------
    >>> import tempfile, os
    >>> path = save_predictions(os.path.join(tempfile.mkdtemp(), "p.npz"),
    ...                         {"task": "regression", "y_true": [1.0], "y_pred": [0.5]})
    >>> sorted(load_predictions(path))
    ['task', 'y_pred', 'y_true']
    """
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, Any] = {key: data[key] for key in data.files}
    out["task"] = str(out["task"])
    if "classes" in out:
        out["classes"] = out["classes"].tolist()
    return out
