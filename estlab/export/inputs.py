"""Raw prediction inputs → validated columns, for a loaded export and the predict server.

Accepted shapes: a DataFrame, a dict of columns (``{"age": [25, 38]}``, TF Serving's columnar
``inputs``) or a list of records (``[{"age": 25}, ...]``, TF Serving's row ``instances``).
Each signature input is checked against its dtype: a wrong type raises :class:`InvalidInputError`
(which the server answers with 400); missing values (``None``/``NaN``) pass through to the feature
transformation, which maps them like training did, as do unseen categories (to OOV buckets).
Columns the signature does not name (a label column, ids) are ignored.

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
    data: Any, inputs: Sequence[TensorSpec], defaults: Mapping[str, Any] | None = None
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

    Raises
    ------
    InvalidInputError
        On a missing input, a wrong type, ragged columns or an unsupported container.

    Examples
    --------
    >>> to_columns({"x": [1, None]}, (TensorSpec("x", "float32"),))["x"].tolist()
    [1.0, nan]
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
            values = _column_values(raw, spec)
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


def _column_values(raw: Any, spec: TensorSpec) -> np.ndarray:
    if len(spec.shape) > 1:
        rows = raw.tolist() if isinstance(raw, (pd.Series, np.ndarray)) else list(np.atleast_1d(raw))
        return _nested_numeric(rows, spec)
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
    return _numbers(values, spec)


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


def _numbers(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    integer = spec.dtype.startswith("int")
    if values.dtype.kind in "biuf":
        numeric = values.astype(np.float64)
    else:
        numeric = np.empty(len(values), dtype=np.float64)
        for index, value in enumerate(values):
            if value is None or value is pd.NA:
                numeric[index] = np.nan
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                numeric[index] = float(value)
            else:
                kind = "integers" if integer else "numbers"
                raise InvalidInputError(
                    f"input feature {spec.name!r} expects {kind} ({spec.dtype}); row {index} has {value!r} "
                    f"({type(value).__name__}). Send {kind} (unquoted in JSON) or null for missing."
                )
    if integer:
        present = ~np.isnan(numeric)
        if (numeric[present] != np.round(numeric[present])).any():
            bad = numeric[present][numeric[present] != np.round(numeric[present])][0]
            raise InvalidInputError(
                f"input feature {spec.name!r} expects integers ({spec.dtype}); received {float(bad)!r}. "
                "Send whole numbers."
            )
        if present.all():
            return numeric.astype(np.int64)
    return numeric


def _nested_numeric(rows: list[Any], spec: TensorSpec) -> np.ndarray:
    if spec.dtype == "string":
        raise InvalidInputError(f"input feature {spec.name!r}: multi-valued string inputs are not supported")
    try:
        array = np.asarray(
            [
                [np.nan if v is None else v for v in np.atleast_1d(np.asarray(row, dtype=object))]
                for row in rows
            ],
            dtype=np.float64,
        )
    except (TypeError, ValueError):
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
