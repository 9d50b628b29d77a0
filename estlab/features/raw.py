"""Reading raw inputs (DataFrames or dicts of arrays, lists, Series, tensors) without per-row Python.

Examples
--------
>>> import pandas as pd
>>> n_rows(pd.DataFrame({"a": [1, 2]}))
2
"""

from __future__ import annotations

import operator
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
    """Whether the first non-missing value is a list (a multi-valued column)."""
    if isinstance(values, np.ndarray):
        if values.dtype != object:
            return False
        if values.ndim == 1 and len(values):  # without a Series: one would copy strings into Arrow
            first = values[0]
            if isinstance(first, _LISTLIKE):
                return True
            if not _missing(first):
                return False
            present = np.flatnonzero(~pd.isna(values))
            return bool(len(present)) and isinstance(values[present[0]], _LISTLIKE)
        values = pd.Series(values)
    if isinstance(values, pd.Series):
        if values.dtype != object:
            return False
        nonnull = values.dropna()
        return bool(len(nonnull)) and isinstance(nonnull.iloc[0], _LISTLIKE)
    if isinstance(values, (list, tuple)):
        return any(isinstance(v, _LISTLIKE) for v in values[:1000])
    return False


def _missing(value: Any) -> bool:
    """Whether one scalar is missing as ``Series.dropna`` sees it (None, NaN, NA, NaT)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an object whose isna is not one truth value
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


_LISTLIKE = (list, tuple, np.ndarray, set)
#: ``pd.api.types.infer_dtype`` kinds of object values that are plain hashable scalars (no per-value check needed)
_PLAIN_KINDS = frozenset({"string", "integer", "floating", "boolean", "empty", "mixed-integer-float", "decimal",
                          "datetime", "date", "time", "timedelta", "period", "categorical"})


def _decode(value: bytes, key: str, row: int) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise FeatureColumnError(
            f"categorical column {key!r} holds bytes that are not valid UTF-8 ({value[:40]!r} at row {row}); "
            "bytes are read as UTF-8 text (b'red' is 'red'). Decode the column yourself, e.g. "
            "df[col].str.decode('latin-1'), or pass str values."
        ) from None


def _unhashable(value: Any, key: str, row: int, nested: bool) -> FeatureColumnError:
    where = f"the list in row {row}" if nested else f"row {row}"
    return FeatureColumnError(
        f"categorical column {key!r}: {where} holds a {type(value).__name__} ({str(value)[:60]!r}); each row "
        "must be one value (a str, bytes or int) or a flat list of them. Convert those values (e.g. to strings) "
        "or fix the input."
    )


def _kind(series: pd.Series) -> str:
    """``infer_dtype`` of an object series (one C pass); ``"typed"`` for any other dtype."""
    return pd.api.types.infer_dtype(series, skipna=True) if series.dtype == object else "typed"


def _scalars(series: pd.Series, key: str, rows: np.ndarray | None = None, kind: str | None = None) -> pd.Series:
    """Categorical scalars, checked: bytes decoded as UTF-8 (as TF reads string tensors), unhashables refused."""
    if series.dtype.kind == "S":
        series = pd.Series(series.to_numpy().astype(object), index=series.index)
    elif series.dtype != object:
        return series
    kind = _kind(series) if kind is None else kind
    if kind in _PLAIN_KINDS:
        return series
    values = series.to_numpy()
    row = (lambda i: int(i)) if rows is None else (lambda i: int(rows[i]))
    # one check per type, not per value: bytes are decoded, the first refused value (in row order) raises
    types = dict.fromkeys(map(type, values))
    if len(types) == 1 and issubclass(next(iter(types)), bytes):  # a bytes column
        return pd.Series(_decoded(values, np.arange(len(values)), key, row), index=series.index,
                         dtype=object).infer_objects()
    number = {t: n for n, t in enumerate(types)}
    codes = np.fromiter(map(number.__getitem__, map(type, values)), dtype=np.int64, count=len(values))
    first_refused = np.flatnonzero(np.isin(codes, [n for t, n in number.items()
                                                   if not issubclass(t, bytes) and _refused(t)]))[:1]
    where = np.flatnonzero(np.isin(codes, [n for t, n in number.items() if issubclass(t, bytes)]))
    if len(first_refused):
        where = where[where < first_refused[0]]  # only the rows before the first refused value
    out = values.copy()
    if len(where):
        out[where] = _decoded(values, where, key, row)
    if len(first_refused):
        i = first_refused[0]
        raise _unhashable(values[i], key, row(i), rows is not None)
    return pd.Series(out, index=series.index, dtype=object).infer_objects()


def _decoded(values: np.ndarray, where: np.ndarray, key: str, row: Any) -> np.ndarray:
    """``values[where]`` (bytes) decoded as UTF-8, as an object array; the first bad one raises naming its row."""
    decoded = np.empty(len(where), dtype=object)
    try:
        decoded[:] = list(map(_UTF8, values[where] if len(where) < len(values) else values))
    except UnicodeDecodeError:
        for i in where:
            _decode(values[i], key, row(i))
        raise
    return decoded


_UTF8 = operator.methodcaller("decode", "utf-8")


def _refused(kind: type) -> bool:
    """Whether values of this type can't be a categorical value (lists, dicts, other unhashable objects)."""
    if issubclass(kind, (*_LISTLIKE, dict)):
        return True
    return not issubclass(kind, (str, int, float, np.generic, type(None))) and getattr(kind, "__hash__", None) is None


def _any_listlike(series: pd.Series, kind: str) -> bool:
    if kind == "typed" or kind in _PLAIN_KINDS:
        return False
    return any(isinstance(v, _LISTLIKE) for v in series.to_numpy())


def to_ragged(values: Any, key: str) -> Ragged:
    """Raw categorical values (scalars per row, lists per row, or a 2-D array) -> :class:`Ragged`.

    Rows may mix scalars and lists (a scalar is a one-value row). Bytes are decoded as UTF-8, so ``b"red"``
    and ``"red"`` are the same value in every kind (vocabulary, hash, cross); a value that is neither a
    scalar nor a flat list (a dict, a nested list) raises naming the column.

    Examples
    --------
    >>> r = to_ragged([["a", "b"], [], ["c"]], "tags")
    >>> r.width, r.rows.tolist(), r.slots.tolist()
    (2, [0, 0, 2], [0, 1, 0])
    >>> to_ragged([b"red", "blue"], "color").values.tolist()
    ['red', 'blue']
    """
    if isinstance(values, np.ndarray) and values.ndim == 2:
        n, k = values.shape
        rows = np.repeat(np.arange(n), k)
        slots = np.tile(np.arange(k), n)
        return Ragged(_scalars(pd.Series(values.ravel()), key, rows), rows, slots, n, k)
    if isinstance(values, np.ndarray) and values.ndim > 2:
        raise FeatureColumnError(f"categorical column {key!r}: input must be 1-D or 2-D, got shape {values.shape}.")
    if not _first_listlike(values):
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        series = series.reset_index(drop=True)
        kind = _kind(series)
        if not _any_listlike(series, kind):
            return Ragged(_scalars(series, key, kind=kind), None, None, len(series), 1)
    series = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy(), dtype=object)
    lengths = series.map(lambda v: len(v) if isinstance(v, _LISTLIKE) else 1).to_numpy()
    lengths = lengths.astype(np.int64)
    exploded = series.explode()
    keep = np.repeat(lengths > 0, np.maximum(lengths, 1))
    flat = exploded.loc[keep]
    rows = np.repeat(np.arange(len(series)), lengths)
    starts = np.cumsum(lengths) - lengths
    slots = np.arange(len(rows)) - np.repeat(starts, lengths)
    flat = _scalars(pd.Series(flat.to_numpy(), dtype=object).infer_objects(), key, rows)
    return Ragged(flat, rows, slots, len(series), max(int(lengths.max(initial=0)), 1))


def padding_mask(values: Any) -> np.ndarray:
    """True where a categorical value is TF's padding: ``''`` (strings) or ``-1`` (integers).

    TF drops these before any lookup (``_to_sparse_input_and_drop_ignore_values``), so they get no id
    whatever the vocabulary, ``default_value`` or OOV buckets say. Missing values (None/NaN) are not padding,
    nor are booleans. Vectorised: string and numeric arrays compare in one pass; an object array of mixed
    types is compared one type at a time.

    Examples
    --------
    >>> padding_mask(pd.Index(["a", "", None])).tolist(), padding_mask(pd.Index([3, -1])).tolist()
    ([False, True, False], [False, True])
    """
    index = values if isinstance(values, pd.Index) else pd.Index(values)
    dtype = index.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.zeros(len(index), dtype=bool)
    if pd.api.types.is_numeric_dtype(dtype):
        return np.asarray(index == -1, dtype=bool)
    if isinstance(dtype, pd.StringDtype) or isinstance(dtype, pd.ArrowDtype) and pd.api.types.is_string_dtype(dtype):
        return _as_mask(index.array == "")
    array = index.to_numpy(dtype=object)
    kind = pd.api.types.infer_dtype(array, skipna=True)
    target = "" if kind == "string" else -1 if kind in ("integer", "floating", "mixed-integer-float") else None
    if target is not None:
        try:  # None and NaN compare False; pd.NA compares NA, which has no truth value
            return np.asarray(array == target, dtype=bool)
        except TypeError:
            pass
    mask = np.zeros(len(array), dtype=bool)
    present = np.flatnonzero(~pd.isna(array))  # missing values (None, NaN, NA, NaT) are never padding
    if len(present):
        mask[present] = _mixed_padding(array[present])
    return mask


def _as_mask(result: Any) -> np.ndarray:
    if isinstance(result, pd.api.extensions.ExtensionArray):
        return result.to_numpy(dtype=bool, na_value=False)
    return np.asarray(result, dtype=bool)


_NUMBER_TYPES = (int, float, np.integer, np.floating)


def _mixed_padding(array: np.ndarray) -> np.ndarray:
    """``padding_mask`` of an object array of mixed types: strings against ``''``, numbers against ``-1``."""
    mask = np.zeros(len(array), dtype=bool)
    types = list(map(type, array))
    number = {kind: i for i, kind in enumerate(dict.fromkeys(types))}
    codes = np.fromiter(map(number.__getitem__, types), dtype=np.int64, count=len(types))
    for kind, code in number.items():
        if issubclass(kind, str):
            target: Any = ""
        elif issubclass(kind, _NUMBER_TYPES) and not issubclass(kind, (bool, np.bool_)):
            target = -1
        else:
            continue
        where = np.flatnonzero(codes == code)
        mask[where] = _as_mask(array[where] == target)
    return mask
