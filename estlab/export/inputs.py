"""Raw prediction inputs → validated columns, for a loaded export and the predict server.

Accepted shapes: a DataFrame, a dict of columns (``{"age": [25, 38]}``, TF Serving's columnar
``inputs``) or a list of records (``[{"age": 25}, ...]``, TF Serving's row ``instances``).
Each signature input is checked against its dtype: a wrong type raises :class:`InvalidInputError`
(which the server answers with 400); missing values (``None``/``NaN``) pass through to the feature
transformation, which maps them like training did, as do unseen categories (to OOV buckets).
Columns the signature does not name (a label column, ids) are ignored. With ``finite=True`` (the
predict server) a non-finite number (``NaN``, ``Infinity``) or one beyond the input's dtype
(``1e308`` for a ``float32`` input, a 400-digit integer) is refused naming the feature and row.

Examples
--------
>>> from estlab.export.spec import TensorSpec
>>> specs = (TensorSpec("age", "float32"), TensorSpec("color", "string"))
>>> columns = to_columns([{"age": 25, "color": "red"}], specs)
>>> columns["age"].tolist(), columns["color"].tolist()
([25.0], ['red'])
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from estlab.export.spec import TensorSpec


class InvalidInputError(ValueError):
    """A prediction request that does not fit the signature (answered with HTTP 400).

    Examples
    --------
    >>> str(InvalidInputError("missing input feature 'age'"))
    "missing input feature 'age'"
    """


def count_rows(data: Any) -> int:
    """Number of rows in a DataFrame, dict of columns or list of records.

    Examples
    --------
    >>> count_rows({"a": [1, 2, 3]}), count_rows([{"a": 1}])
    (3, 1)
    """
    if isinstance(data, pd.DataFrame):
        return len(data)
    if isinstance(data, Mapping):
        for value in data.values():
            return 1 if np.ndim(value) == 0 else len(value)
        return 0
    return len(data)


def to_columns(
    data: Any,
    inputs: Sequence[TensorSpec],
    defaults: Mapping[str, Any] | None = None,
    *,
    finite: bool = False,
) -> dict[str, np.ndarray]:
    """Validate ``data`` against the signature ``inputs`` and return one array per input.

    Float inputs become ``float64`` arrays (``NaN`` for missing), integer inputs ``int64`` (or
    ``float64`` with ``NaN`` when values are missing), string inputs object arrays of ``str``/``None``.

    Parameters
    ----------
    data : DataFrame, dict of columns, or list of records
        The rows to predict.
    inputs : sequence of TensorSpec
        The signature's inputs.
    defaults : mapping, optional
        Values for inputs the request omits.
    finite : bool
        Refuse non-finite numbers and numbers beyond the input's dtype (``None``/null stays
        "missing"). Integers beyond an integer input's range are refused either way.

    Raises
    ------
    InvalidInputError
        On a missing input, a wrong type, ragged columns or an unsupported container.

    Examples
    --------
    >>> to_columns({"x": [1, None]}, (TensorSpec("x", "float32"),))["x"].tolist()
    [1.0, nan]
    >>> to_columns({"x": [1e308]}, (TensorSpec("x", "float32"),), finite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    estlab.export.inputs.InvalidInputError: input feature 'x' row 0 has 1e+308, beyond the range of float32 ...
    """
    defaults = defaults or {}
    columns = _as_column_mapping(data, [spec.name for spec in inputs])
    n_rows = None
    result: dict[str, np.ndarray] = {}
    for spec in inputs:
        if spec.name in columns:
            raw = columns[spec.name]
        elif spec.name in defaults:
            raw = None
        else:
            raise InvalidInputError(
                f"missing input feature {spec.name!r}: the signature expects {[s.name for s in inputs]}; "
                f"received {sorted(map(str, columns))}. Send a value (or null for missing) for every feature."
            )
        if raw is not None:
            try:
                values = _column_values(raw, spec, finite)
            except RecursionError:
                raise InvalidInputError(
                    f"input feature {spec.name!r} is nested too deeply; send one value (or a flat list of numbers) "
                    "per row."
                ) from None
            if n_rows is not None and len(values) != n_rows:
                raise InvalidInputError(
                    f"input feature {spec.name!r} has {len(values)} values but other features have {n_rows}; "
                    "send the same number of values for every feature."
                )
            n_rows = len(values)
            result[spec.name] = values
    n_rows = n_rows if n_rows is not None else count_rows(data)
    for spec in inputs:
        if spec.name not in result:
            result[spec.name] = _column_values([defaults[spec.name]] * n_rows, spec)
    for name, value in defaults.items():  # defaults for features the signature does not expose
        if name not in result:
            result[name] = np.asarray([value] * n_rows, dtype=object if isinstance(value, str) else None)
    return result


def _as_column_mapping(data: Any, names: list[str]) -> Mapping[str, Any]:
    if isinstance(data, pd.DataFrame):
        return {str(key): data[key] for key in data.columns}
    if isinstance(data, Mapping):
        return data
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence | np.ndarray):
        raise InvalidInputError(
            f"prediction input must be a DataFrame, a dict of columns or a list of records; "
            f"received {type(data).__name__}."
        )
    records = list(data)
    if len(names) == 1 and not any(isinstance(r, Mapping) for r in records):
        return {names[0]: records}  # TF Serving: bare values when the signature has one input
    columns: dict[str, list[Any]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInputError(
                f"instance {index} must be an object of named features like {{'{names[0]}': ...}}; "
                f"received {type(record).__name__} {record!r:.80}."
            )
        for name in names:
            if name in record:
                columns.setdefault(name, [None] * index).append(record[name])
            elif name in columns:
                raise InvalidInputError(
                    f"instance {index} lacks input feature {name!r} (earlier instances have it); "
                    "send every feature in every instance."
                )
        for name in names:
            if name in columns and len(columns[name]) != index + 1:
                raise InvalidInputError(
                    f"instance {index} lacks input feature {name!r} (earlier instances have it); "
                    "send every feature in every instance."
                )
    return columns


def _column_values(raw: Any, spec: TensorSpec, finite: bool = False) -> np.ndarray:
    if len(spec.shape) > 1:
        rows = raw.tolist() if isinstance(raw, (pd.Series, np.ndarray)) else list(np.atleast_1d(raw))
        return _nested_numeric(rows, spec, finite)
    values: np.ndarray
    if isinstance(raw, pd.Series):
        values = raw.to_numpy() if _is_numeric_dtype(raw.dtype) else raw.to_numpy(dtype=object)
    elif isinstance(raw, np.ndarray):
        values = raw
    elif isinstance(raw, (list, tuple)):
        values = np.empty(len(raw), dtype=object)
        values[:] = list(raw)
    elif np.ndim(raw) == 0:
        values = np.empty(1, dtype=object)
        values[0] = raw
    else:
        values = np.asarray(raw, dtype=object)
    if values.ndim != 1:
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        else:
            raise InvalidInputError(
                f"input feature {spec.name!r} must have one value per row; received shape {values.shape}."
            )
    if spec.dtype == "string":
        return _strings(values, spec)
    return _numbers(values, spec, finite)


def _is_numeric_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _strings(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if values.dtype.kind in "US":
        return values.astype(str).astype(object)
    if values.dtype.kind != "O":
        raise InvalidInputError(
            f"input feature {spec.name!r} expects strings; received {values.dtype} values "
            f"(e.g. {values[:1].tolist()}). Send text values (quoted in JSON)."
        )
    out = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            out[index] = None
        elif isinstance(value, (str, np.str_)):
            out[index] = str(value)
        else:
            raise InvalidInputError(
                f"input feature {spec.name!r} expects a string; row {index} has {value!r} "
                f"({type(value).__name__}). Send text values (quoted in JSON) or null for missing."
            )
    return out


def value_limit(dtype: str) -> float:
    """Largest magnitude an input of ``dtype`` holds (beyond it a value would overflow or wrap).

    Examples
    --------
    >>> value_limit("float32")
    3.4028234663852886e+38
    >>> value_limit("int64")
    9.223372036854776e+18
    """
    if dtype.startswith("int"):
        return float(np.iinfo(np.dtype(dtype)).max)
    return float(np.finfo(np.dtype(dtype)).max)


def out_of_range(spec: TensorSpec, index: int, value: Any) -> InvalidInputError:
    """The error for a number an input of ``spec.dtype`` cannot hold (or a non-finite one).

    Examples
    --------
    >>> str(out_of_range(TensorSpec("x", "float32"), 2, float("inf")))  # doctest: +ELLIPSIS
    "input feature 'x' row 2 has Infinity, a non-finite number; ..."
    """
    limit = value_limit(spec.dtype)
    if isinstance(value, float) and not np.isfinite(value):
        shown = "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        what = f"{shown}, a non-finite number"
    elif isinstance(value, int) and len(str(abs(value))) > 40:
        what = f"a {len(str(abs(value)))}-digit integer, beyond the range of {spec.dtype} (±{limit:.4g})"
    else:
        what = f"{value!r}, beyond the range of {spec.dtype} (±{limit:.4g})"
    return InvalidInputError(
        f"input feature {spec.name!r} row {index} has {what}; send a finite number within ±{limit:.4g} "
        "(or null for missing)."
    )


def _numbers(values: np.ndarray, spec: TensorSpec, finite: bool = False) -> np.ndarray:
    integer = spec.dtype.startswith("int")
    limit = value_limit(spec.dtype)
    if integer and values.dtype.kind in "iu":  # exact: no trip through float64 (2**53 + 1 stays itself)
        info = np.iinfo(np.dtype(spec.dtype))
        bad = np.flatnonzero((values < info.min) | (values > info.max))
        if len(bad):
            raise out_of_range(spec, int(bad[0]), int(values[bad[0]]))
        return values.astype(np.int64)
    exact_ints = integer and values.dtype.kind == "O"
    if values.dtype.kind in "biuf":
        numeric = values.astype(np.float64)
        if finite:
            bad = np.flatnonzero(np.abs(numeric) > limit)  # NaN here means missing (a DataFrame's NaN)
            if len(bad):
                raise out_of_range(spec, int(bad[0]), float(numeric[bad[0]]))
    else:
        numeric = np.empty(len(values), dtype=np.float64)
        for index, value in enumerate(values):
            if value is None or value is pd.NA:
                numeric[index] = np.nan
                exact_ints = False
            elif integer and isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
                info = np.iinfo(np.dtype(spec.dtype))
                if not info.min <= int(value) <= info.max:
                    raise out_of_range(spec, index, int(value))
                numeric[index] = float(value)
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                exact_ints = False
                try:
                    number = float(value)
                except OverflowError:  # an integer with hundreds of digits
                    raise out_of_range(spec, index, value) from None
                if (finite or integer) and not abs(number) <= limit:  # NaN, ±inf, or too big
                    raise out_of_range(spec, index, value if isinstance(value, int) else number)
                numeric[index] = number
            else:
                kind = "integers" if integer else "numbers"
                raise InvalidInputError(
                    f"input feature {spec.name!r} expects {kind} ({spec.dtype}); row {index} has {value!r} "
                    f"({type(value).__name__}). Send {kind} (unquoted in JSON) or null for missing."
                )
    if integer:
        if exact_ints:  # every value a whole int, already range-checked
            return np.array([int(v) for v in values], dtype=np.int64)
        present = ~np.isnan(numeric)
        if (numeric[present] != np.round(numeric[present])).any():
            bad = numeric[present][numeric[present] != np.round(numeric[present])][0]
            raise InvalidInputError(
                f"input feature {spec.name!r} expects integers ({spec.dtype}); received {float(bad)!r}. "
                "Send whole numbers."
            )
        if (np.abs(numeric[present]) >= limit).any():  # 2**63 and beyond would wrap around
            index = int(np.flatnonzero(present & (np.abs(numeric) >= limit))[0])
            raise out_of_range(
                spec, index, values[index] if values.dtype.kind == "O" else float(numeric[index])
            )
        if present.all():
            return numeric.astype(np.int64)
    return numeric


def _nested_numeric(rows: list[Any], spec: TensorSpec, finite: bool = False) -> np.ndarray:
    if spec.dtype == "string":
        raise InvalidInputError(f"input feature {spec.name!r}: multi-valued string inputs are not supported")
    try:
        listed = [np.atleast_1d(np.asarray(row, dtype=object)).tolist() for row in rows]
        if finite:
            _check_nested_finite(listed, spec)
        array = np.asarray(
            [[np.nan if v is None else v for v in row] for row in listed],
            dtype=np.float64,
        )
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(
            f"input feature {spec.name!r} expects {spec.shape[1:]} numbers per row; "
            f"received {rows[:1]!r:.80}. "
            "Send a list of numbers per row."
        ) from None
    expected = tuple(spec.shape[1:])
    if array.shape[1:] != expected:
        raise InvalidInputError(
            f"input feature {spec.name!r} expects shape {expected} per row; received {array.shape[1:]}."
        )
    return array


def _check_nested_finite(rows: list[list[Any]], spec: TensorSpec) -> None:
    limit = value_limit(spec.dtype)
    for index, row in enumerate(rows):
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # None is missing; other types fail the conversion with their own message
            try:
                number = float(value)
            except OverflowError:
                raise out_of_range(spec, index, value) from None
            if not np.isfinite(number) or abs(number) > limit:
                raise out_of_range(spec, index, value if isinstance(value, int) else number)
