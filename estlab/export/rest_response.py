"""Prediction arrays → TF Serving's ``:predict`` answer, rendered as JSON bytes straight from arrays.

Row format (``instances``) gives ``{"predictions": [row, ...]}``, each row an object of outputs (the
bare value when the signature has one output); columnar (``inputs``) gives ``{"outputs": {name: [...]}}``
(the bare list for one output). Numbers keep their exact value (a float32 output is written as the
double it equals); ``NaN``/``Infinity`` are written as such, as TF Serving does.

Examples
--------
>>> render({"scores": np.array([[0.25, 0.75]], dtype=np.float32)}, row_format=True)
b'{"predictions":[[0.25,0.75]]}'
>>> render({"a": np.array([1]), "b": np.array(["x"], dtype=object)}, row_format=False)
b'{"outputs":{"a":[1],"b":["x"]}}'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from estlab.export.rest_json import dumps_finite


def prediction_payload(
    outputs: Mapping[str, np.ndarray], row_format: bool, *, share_rows: bool = False
) -> dict[str, Any]:
    """The answer as plain Python values (what :func:`render` serialises).

    ``share_rows`` lets rows that are all equal (``all_classes``...) share one list: faster to build,
    the same once serialised, but not for a caller who edits the lists.

    Examples
    --------
    >>> prediction_payload({"x": np.array([[1.0], [2.0]])}, row_format=True)
    {'predictions': [[1.0], [2.0]]}
    """
    keys = list(outputs)
    lists = [_listed(outputs[key]) if share_rows else outputs[key].tolist() for key in keys]
    if row_format:
        if len(keys) == 1:
            return {"predictions": lists[0]}
        return {"predictions": [dict(zip(keys, row)) for row in zip(*lists)]}
    if len(keys) == 1:
        return {"outputs": lists[0]}
    return {"outputs": dict(zip(keys, lists))}


def _listed(values: np.ndarray) -> list[Any]:
    """``values.tolist()``, sharing one list for rows that are all the same (``all_classes``...)."""
    if values.ndim == 2 and len(values) > 1 and values.dtype.kind in "iuOUb" and (values == values[0]).all():
        return [values[0].tolist()] * len(values)  # serialised the same; built once
    return values.tolist()


def render(outputs: Mapping[str, np.ndarray], row_format: bool) -> bytes:
    """JSON bytes of the ``:predict`` answer for ``outputs`` (one array per output, N rows each).

    Examples
    --------
    >>> render({"x": np.array([np.nan])}, row_format=False)
    b'{"outputs":[NaN]}'
    """
    finite = all(_finite(values) for values in outputs.values())
    return dumps_finite(prediction_payload(outputs, row_format, share_rows=True), finite)


def _finite(values: np.ndarray) -> bool:
    return values.dtype.kind != "f" or bool(np.isfinite(values).all())


def results_payload(verb: str, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """TF Serving's ``:classify`` / ``:regress`` answer as plain Python values (what :func:`render_results` writes).

    ``classify``: ``{"results": [[[label, score], ...], ...]}``, one list of (class, score) pairs per
    example from the signature's ``classes`` (string names, or integer ids written as text) and
    ``scores``; a signature with only one of them gives ``""`` labels or ``0.0`` scores, as TF Serving.
    ``regress``: ``{"results": [value, ...]}``, one number per example from ``outputs``.

    Examples
    --------
    >>> classes = np.array([["no", "yes"]], dtype=object)
    >>> results_payload("classify", {"classes": classes, "scores": np.array([[0.25, 0.75]], dtype=np.float32)})
    {'results': [[['no', 0.25], ['yes', 0.75]]]}
    >>> results_payload("regress", {"outputs": np.array([[1.5], [2.0]], dtype=np.float32)})
    {'results': [1.5, 2.0]}
    """
    if verb == "regress":
        values = outputs["outputs"]
        return {"results": values.reshape(len(values), -1)[:, 0].astype(np.float64).tolist()}
    classes = outputs.get("classes")
    scores = outputs.get("scores")
    shape_source = classes if classes is not None else scores
    assert shape_source is not None, "a classification signature has classes or scores"
    n_rows, n_classes = shape_source.shape
    if classes is None:
        labels = [[""] * n_classes] * n_rows
    elif classes.dtype.kind == "O":  # class names (str)
        labels = classes.tolist()
    else:  # class ids of a model_fn's ClassificationOutput
        labels = classes.astype(str).tolist()
    numbers = scores.astype(np.float64).tolist() if scores is not None else [[0.0] * n_classes] * n_rows
    return {
        "results": [
            [[label, score] for label, score in zip(row_labels, row_scores)]
            for row_labels, row_scores in zip(labels, numbers)
        ]
    }


def render_results(verb: str, outputs: Mapping[str, np.ndarray]) -> bytes:
    """JSON bytes of the ``:classify`` / ``:regress`` answer (see :func:`results_payload`).

    Examples
    --------
    >>> render_results("regress", {"outputs": np.array([0.5, np.inf])})
    b'{"results":[0.5,Infinity]}'
    """
    finite = all(_finite(values) for values in outputs.values())
    return dumps_finite(results_payload(verb, outputs), finite)
