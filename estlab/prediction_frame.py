"""Prediction arrays as a DataFrame, one row per example: ``Estimator.predict_frame`` and a loaded export's.

Vector outputs become ``<key>_<i>`` columns, except ``probabilities`` and (multi-class) ``logits``, whose columns
are named by class (``probabilities_<class>``) when the predictions carry ``all_classes``. Built column by column
(``tests/estimators/test_prediction_frame.py`` pins that the fast paths give the general conversion's frame):

* the arrays come in blocks of many batches (``PREDICTION_BLOCK_ROWS`` rows for estlab's heads), so each key
  is concatenated from a few pieces, not one view per batch;
* string predictions that a head declares as class names looked up by ids (``Head.coded_predictions``:
  ``classes`` by ``class_ids``, ``all_classes`` by ``all_class_ids``) become string columns by taking from the
  few class names (an Arrow ``take``), not by converting one Python string per row.

Examples
--------
>>> import numpy as np
>>> blocks = [{"class_ids": np.array([[1], [0]]), "classes": np.array([["b"], ["a"]], dtype=object)}]
>>> frame = predictions_frame(blocks, coded={"classes": ("class_ids", np.array(["a", "b"], dtype=object))})
>>> frame["classes"].tolist()
['b', 'a']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from estlab._util import PER_CLASS_KEYS


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def predictions_frame(blocks: Iterable[Mapping[str, np.ndarray]], index: pd.Index | None = None,
                      keys: Iterable[str] | None = None,
                      coded: Mapping[str, tuple[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """One row per example from blocks (or batches) of prediction arrays, indexed by ``index``.

    ``coded`` maps a string key to ``(ids key, names)`` when every value of it is ``names[ids]`` (see
    ``Head.coded_predictions``); those columns are built from the ids. ``keys`` keeps those predictions only,
    in that order (an unknown key is an error naming the valid ones); ``index`` is used when its length
    matches the number of rows. A zero-row input takes its class names from ``blocks.class_names``
    (``PredictionBatches``).

    Examples
    --------
    >>> predictions_frame([{"p": np.array([[0.1, 0.9]]), "c": np.array([1])}]).columns.tolist()
    ['p_0', 'p_1', 'c']
    """
    parts: dict[str, list[np.ndarray]] = {}
    for block in blocks:
        for key, value in block.items():
            parts.setdefault(key, []).append(np.asarray(value))
    if parts and all(isinstance(k, tuple) for k in parts):  # a MultiHead's (head name, key) predictions
        return _per_head_frame(parts, index, keys, coded)
    first = parts.get("all_classes", [np.empty(0)])[0]  # every row holds the same class names
    names = ([_text(v) for v in first.reshape(len(first), -1)[0]] if len(first)
             else getattr(blocks, "class_names", None))  # zero rows: the names the blocks carry
    if keys is not None:
        wanted = list(keys)
        unknown = [k for k in wanted if k not in parts]
        if unknown and parts:
            raise ValueError(f"predict_keys: {unknown} are not predictions of this model; "
                             f"valid keys are {sorted(parts)}")
        selected = [k for k in wanted if k in parts]
    else:
        selected = list(parts)
    out: dict[str, Any] = {}
    for key in selected:
        columns = _string_columns(parts[key], parts, (coded or {}).get(key))
        if columns is None:
            values = _concatenate(parts[key])
            columns = [values[:, i] for i in range(values.shape[1])]
        width = len(columns)
        if width == 1:
            out[key] = columns[0]
            continue
        by_class = key in PER_CLASS_KEYS and names is not None and len(names) == width
        labels = names if by_class and names is not None else [str(i) for i in range(width)]
        out.update({f"{key}_{label}": column for label, column in zip(labels, columns, strict=True)})
    frame = pd.DataFrame(out)
    if index is not None and len(index) == len(frame):
        frame.index = index
    return frame


def _per_head_frame(parts: Mapping[Any, list[np.ndarray]], index: pd.Index | None, keys: Iterable[Any] | None,
                    coded: Mapping[Any, tuple[Any, np.ndarray]] | None) -> pd.DataFrame:
    """Each head's frame (its keys ``(head, key)``) with its columns named ``<head>/<column>``, side by side."""
    wanted = None if keys is None else list(keys)
    if wanted is not None and (unknown := [k for k in wanted if k not in parts]):
        raise ValueError(f"predict_keys: {unknown} are not predictions of this model; valid keys are {sorted(parts)}")
    frames = []
    for head in dict.fromkeys(k[0] for k in parts):
        own = {k[1]: v for k, v in parts.items() if k[0] == head}
        blocks = [{k: v[i] for k, v in own.items()} for i in range(len(next(iter(own.values()))))]
        head_keys = None if wanted is None else [k[1] for k in wanted if k[0] == head]
        head_coded = {k[1]: (ids[1], names) for k, (ids, names) in (coded or {}).items() if k[0] == head}
        if head_keys != []:
            frames.append(predictions_frame(blocks, keys=head_keys, coded=head_coded).add_prefix(f"{head}/"))
    frame = pd.concat(frames, axis=1) if frames else pd.DataFrame()
    if index is not None and len(index) == len(frame):
        frame.index = index
    return frame


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    """The pieces of one key as one ``(rows, width)`` array."""
    values = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    width = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
    return values.reshape(len(values), width)


def _string_columns(pieces: list[np.ndarray], parts: Mapping[str, list[np.ndarray]],
                    code: tuple[str, np.ndarray] | None) -> list[Any] | None:
    """The columns of a coded string key taken from its class names by its ids; None to convert as usual.

    The names are converted once, as pandas converts a column of them (``str`` under pandas 3), and each
    column is ``names.take(ids)``: the same array the row-by-row conversion gives. The strings themselves
    are not even concatenated.
    """
    if code is None:
        return None
    ids_key, names = code
    id_pieces = parts.get(ids_key)
    if id_pieces is None or len(id_pieces) != len(pieces) or not sum(len(p) for p in pieces):
        return None
    if any(v.dtype != object or i.shape != v.shape or i.dtype.kind not in "iu"
           for v, i in zip(pieces, id_pieces, strict=True)):
        return None
    names = np.asarray(names, dtype=object)
    if names.ndim != 1 or not all(isinstance(v, str) for v in names):
        return None
    ids = _concatenate(id_pieces)
    converted = pd.Series(names).array  # the strings as pandas converts them in a column
    return [converted.take(ids[:, i]) for i in range(ids.shape[1])]


__all__ = ["predictions_frame"]
