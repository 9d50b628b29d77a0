"""Reading raw inputs (DataFrames or dicts of arrays, lists, Series, tensors) without per-row Python.

Examples
--------
>>> import pandas as pd
>>> n_rows(pd.DataFrame({"a": [1, 2]}))
2
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estlab._util import numeric_series
from estlab.features.errors import FeatureColumnError, MissingColumnError, close_names


def _is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch: no torch loaded, no tensor)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _length(value: Any) -> int:
    if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray)) or _is_tensor(value):
        return int(value.shape[0]) if getattr(value, "ndim", 1) > 0 else 1
    return len(value)


def n_rows(data: Any) -> int:
    """Number of rows of a DataFrame or dict of equal-length values (checked).

    Examples
    --------
    >>> n_rows({"a": [1, 2, 3], "b": [4, 5, 6]})
    3
    """
    if isinstance(data, pd.DataFrame):
        return len(data)
    if not isinstance(data, dict):
        raise FeatureColumnError(
            f"features must be a pandas DataFrame or a dict of column -> values, got {type(data).__name__}."
        )
    lengths = {k: _length(v) for k, v in data.items()}
    if len(set(lengths.values())) > 1:
        raise FeatureColumnError(
            f"features: all columns must have the same number of rows, got lengths {lengths}; "
            "pass columns of equal length."
        )
    return next(iter(lengths.values()), 0)


def get_values(data: Any, key: str) -> Any:
    """Return the raw values stored under ``key``, or raise naming the key and close matches.

    Examples
    --------
    >>> get_values({"age": [1]}, "age")
    [1]
    """
    keys = data.columns if isinstance(data, pd.DataFrame) else data.keys()
    if key not in keys:
        raise MissingColumnError(
            f"column {key!r} is not in the input.{close_names(key, keys)} "
            f"Available columns: {sorted(map(str, keys))[:20]}. Add the column or fix the feature column's key."
        )
    value = data[key]
    if _is_tensor(value):
        value = value.detach().cpu().numpy()
    return value


def _first_listlike(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        if values.dtype != object:
            return False
        values = pd.Series(values)
    if isinstance(values, pd.Series):
        if values.dtype != object:
            return False
        nonnull = values.dropna()
        return bool(len(nonnull)) and isinstance(nonnull.iloc[0], (list, tuple, np.ndarray, set))
    if isinstance(values, (list, tuple)):
        return any(isinstance(v, (list, tuple, np.ndarray, set)) for v in values[:1000])
    return False


def _bad_numeric(series: pd.Series, key: str) -> FeatureColumnError:
    coerced = numeric_series(series)
    bad = coerced.isna() & series.notna()
    pos = int(np.flatnonzero(bad.to_numpy())[0])
    return FeatureColumnError(
        f"numeric column {key!r} holds a non-numeric value {series.iloc[pos]!r} (row {pos}). "
        "Convert the column to numbers (pd.to_numeric) or use a categorical column for it."
    )


def to_float(values: Any, key: str, num_elements: int) -> np.ndarray:
    """Raw numeric values -> float64 ``(N, num_elements)`` with NaN for missing; errors on strings.

    Examples
    --------
    >>> to_float([1, None, 3], "x", 1).ravel().tolist()
    [1.0, nan, 3.0]
    """
    if _first_listlike(values):
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        try:
            arr = np.stack([np.asarray(v, dtype=np.float64).ravel() for v in series.to_numpy()])
        except (TypeError, ValueError) as e:
            raise FeatureColumnError(f"numeric column {key!r}: rows must be equal-length numeric lists ({e}).") from None
    elif isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = values.astype(np.float64)
    else:
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            coerced = numeric_series(series)
            if bool((coerced.isna() & series.notna()).any()):
                raise _bad_numeric(series, key)
            arr = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    n = arr.shape[0]
    if arr.size != n * num_elements:
        raise FeatureColumnError(
            f"numeric column {key!r}: expected {num_elements} value(s) per row, got input of shape "
            f"{arr.shape}; fix the column's shape= or the input."
        )
    return arr.reshape(n, num_elements)


@dataclass(frozen=True)
class Ragged:
    """Flattened categorical values: ``values[i]`` sits at row ``rows[i]``, slot ``slots[i]``.

    For single-valued input ``rows`` and ``slots`` are ``None`` (row ``i`` holds ``values[i]``).
    """

    values: pd.Series
    rows: np.ndarray | None
    slots: np.ndarray | None
    n_rows: int
    width: int

    def pad(self, flat: np.ndarray, fill: float | int = -1, dtype: Any = np.int64) -> np.ndarray:
        """Scatter per-value results into a ``(n_rows, width)`` array filled with ``fill``."""
        if self.rows is None:
            return np.asarray(flat, dtype=dtype).reshape(self.n_rows, 1)
        out = np.full((self.n_rows, self.width), fill, dtype=dtype)
        out[self.rows, self.slots] = flat
        return out


def to_ragged(values: Any, key: str) -> Ragged:
    """Raw categorical values (scalars per row, lists per row, or a 2-D array) -> :class:`Ragged`.

    Examples
    --------
    >>> r = to_ragged([["a", "b"], [], ["c"]], "tags")
    >>> r.width, r.rows.tolist(), r.slots.tolist()
    (2, [0, 0, 2], [0, 1, 0])
    """
    if isinstance(values, np.ndarray) and values.ndim == 2:
        n, k = values.shape
        rows = np.repeat(np.arange(n), k)
        slots = np.tile(np.arange(k), n)
        return Ragged(pd.Series(values.ravel()), rows, slots, n, k)
    if isinstance(values, np.ndarray) and values.ndim > 2:
        raise FeatureColumnError(f"categorical column {key!r}: input must be 1-D or 2-D, got shape {values.shape}.")
    if not _first_listlike(values):
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        series = series.reset_index(drop=True)
        return Ragged(series, None, None, len(series), 1)
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy(), dtype=object)
    lengths = series.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray, set)) else 1).to_numpy()
    lengths = lengths.astype(np.int64)
    exploded = series.explode()
    keep = np.repeat(lengths > 0, np.maximum(lengths, 1))
    flat = exploded.loc[keep]
    rows = np.repeat(np.arange(len(series)), lengths)
    starts = np.cumsum(lengths) - lengths
    slots = np.arange(len(rows)) - np.repeat(starts, lengths)
    flat = pd.Series(flat.to_numpy(), dtype=object).infer_objects()
    return Ragged(flat, rows, slots, len(series), max(int(lengths.max(initial=0)), 1))


def padding_mask(values: Any) -> np.ndarray:
    """True where a categorical value is TF's padding: ``''`` (strings) or ``-1`` (integers).

    TF drops these before any lookup (``_to_sparse_input_and_drop_ignore_values``), so they get no id
    whatever the vocabulary, ``default_value`` or OOV buckets say. Missing values (None/NaN) are not padding.

    Examples
    --------
    >>> padding_mask(pd.Index(["a", "", None])).tolist(), padding_mask(pd.Index([3, -1])).tolist()
    ([False, True, False], [False, True])
    """
    index = values if isinstance(values, pd.Index) else pd.Index(values)
    if pd.api.types.is_bool_dtype(index.dtype):
        return np.zeros(len(index), dtype=bool)
    if pd.api.types.is_numeric_dtype(index.dtype):
        return np.asarray(index == -1, dtype=bool)
    return np.fromiter((_is_padding(v) for v in index), dtype=bool, count=len(index))


def _is_padding(value: Any) -> bool:
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.integer, np.floating)) and value == -1

