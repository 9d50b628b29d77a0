"""A ``:predict`` request body → validated per-column numpy arrays, with TF Serving's error answers.

The fast path reads row (``instances``) and columnar (``inputs``) bodies straight into one numpy
array per signature input (no DataFrame); anything unusual (missing features, defaults, wrong
types, multi-valued inputs, non-finite or huge numbers) goes through
:func:`estlab.export.inputs.to_columns`, which gives the exact error. Every problem is a
:class:`RequestError` with a 4xx status, never an exception of another kind.

Examples
--------
>>> from estlab.export.spec import TensorSpec
>>> request = parse_payload({"instances": [{"x": 1.5}]}, (TensorSpec("x", "float32"),), {}, ["serving_default"])
>>> request.columns["x"].tolist(), request.n_rows, request.row_format
([1.5], 1, True)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from estlab.export.inputs import InvalidInputError, to_columns, value_limit
from estlab.export.rest_json import JSONError, loads
from estlab.export.spec import TensorSpec

_NUMBER_TYPES = frozenset({int, float})
_MAYBE_NUMBER_TYPES = frozenset({int, float, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})


class RequestError(Exception):
    """A request answered with ``status`` and ``{"error": message}``.

    Examples
    --------
    >>> RequestError(400, "Missing 'inputs' or 'instances' key").status
    400
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class PredictRequest:
    """A validated ``:predict`` request: which signature, which answer shape, the input columns.

    Examples
    --------
    >>> PredictRequest("serving_default", True, {"x": np.array([1.0])}, 1).n_rows
    1
    """

    signature_name: str
    row_format: bool
    columns: dict[str, np.ndarray]
    n_rows: int

    def batch_key(self) -> tuple[tuple[str, str], ...]:
        """Requests whose columns have the same dtypes can share a batch (an int column with a
        missing value is float64: it never joins int64 ones, so encoding sees what it would alone)."""
        return tuple((name, values.dtype.str) for name, values in self.columns.items())


def parse_body(
    body: bytes,
    inputs: Sequence[TensorSpec],
    defaults: Mapping[str, Any],
    signatures: Collection[str],
    max_rows: int = 10_000,
) -> PredictRequest:
    """Parse and validate a ``:predict`` body.

    Raises
    ------
    RequestError
        400 for bad JSON, a body that is not an object, a bad signature, too many rows, or inputs
        that do not fit the signature (the message names the feature and the fix).

    Examples
    --------
    >>> from estlab.export.spec import TensorSpec
    >>> parse_body(b'{"inputs": {"x": [1, 2]}}', (TensorSpec("x", "float32"),), {}, ["serving_default"]).n_rows
    2
    """
    try:
        payload, strict = loads(body)
    except JSONError as error:
        raise RequestError(400, str(error)) from None
    if not isinstance(payload, dict):
        raise RequestError(
            400, f"JSON Value: request body must be a JSON object, got {type(payload).__name__}"
        )
    return parse_payload(payload, inputs, defaults, signatures, max_rows, strict=strict)


def parse_payload(
    payload: Mapping[str, Any],
    inputs: Sequence[TensorSpec],
    defaults: Mapping[str, Any],
    signatures: Collection[str],
    max_rows: int = 10_000,
    *,
    strict: bool = False,
) -> PredictRequest:
    """Validate a parsed ``:predict`` body (see :func:`parse_body`).

    ``strict`` says the numbers came from plain JSON (finite doubles); otherwise every number is
    checked on the careful path.

    Examples
    --------
    >>> from estlab.export.spec import TensorSpec
    >>> parse_payload({"rows": []}, (TensorSpec("x", "float32"),), {}, ["serving_default"])
    Traceback (most recent call last):
    estlab.export.rest_request.RequestError: Missing 'inputs' or 'instances' key
    """
    has_instances, has_inputs = "instances" in payload, "inputs" in payload
    if has_instances == has_inputs:
        raise RequestError(
            400,
            "Missing 'inputs' or 'instances' key"
            if not has_instances
            else "Request body must contain either 'instances' or 'inputs', not both",
        )
    signature_name = payload.get("signature_name") or "serving_default"
    if not isinstance(signature_name, str) or signature_name not in signatures:
        raise RequestError(
            400,
            f"Serving signature name: {signature_name!r:.100} not found in signature def; "
            f"available: {sorted(signatures)}",
        )
    data = payload["instances"] if has_instances else payload["inputs"]
    if has_instances and not isinstance(data, list):
        raise RequestError(400, "'instances' must be a JSON list of rows")
    if has_inputs and not isinstance(data, (dict, list)):
        raise RequestError(400, "'inputs' must be a JSON object of named columns")
    n_rows = _row_count(data)
    if n_rows > max_rows:
        raise RequestError(
            400,
            f"Request has {n_rows} rows, more than the limit of {max_rows} (--max-rows); split it into "
            "smaller requests",
        )
    columns = fast_columns(data, inputs) if strict and not defaults else None
    if columns is None:
        try:
            columns = to_columns(data, inputs, defaults, finite=True)
        except InvalidInputError as error:
            raise RequestError(400, str(error)) from None
        except RecursionError:
            raise RequestError(
                400,
                "input values are nested too deeply; send one value (or a flat list of numbers) per feature",
            ) from None
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows > max_rows:  # a columnar body whose first column was short
        raise RequestError(400, f"Request has {rows} rows, more than the limit of {max_rows} (--max-rows)")
    return PredictRequest(signature_name, has_instances, columns, rows)


def _row_count(data: Any) -> int:
    if isinstance(data, list):
        return len(data)
    lengths = [len(v) if isinstance(v, list) else 1 for v in data.values()]
    return max(lengths, default=0)


def fast_columns(data: Any, inputs: Sequence[TensorSpec]) -> dict[str, np.ndarray] | None:
    """One array per input for a plain body (rows or columns), or None to take the careful path
    (:func:`~estlab.export.inputs.to_columns`, which explains errors).

    Examples
    --------
    >>> from estlab.export.spec import TensorSpec
    >>> fast_columns([{"x": 1.5}, {"x": 2}], (TensorSpec("x", "float32"),))["x"].tolist()
    [1.5, 2.0]
    """
    if not inputs:
        return None
    if isinstance(data, list):
        if not data or not all(type(row) is dict for row in data):
            return None
        try:
            raw = {spec.name: [row[spec.name] for row in data] for spec in inputs}
        except KeyError:
            return None
    else:
        raw = {}
        for spec in inputs:
            values = data.get(spec.name)
            if type(values) is not list:
                return None
            raw[spec.name] = values
        if len({len(values) for values in raw.values()}) != 1:
            return None
    columns = {}
    for spec in inputs:
        array = _fast_array(raw[spec.name], spec)
        if array is None:
            return None
        columns[spec.name] = array
    return columns


def _fast_array(values: list[Any], spec: TensorSpec) -> np.ndarray | None:
    if len(spec.shape) != 1:
        return None
    types = set(map(type, values))
    if spec.dtype == "string":
        if not types <= _TEXT_TYPES:
            return None
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    if spec.dtype.startswith("int"):
        if types != {int}:
            return None  # missing values, whole floats and range checks: the careful path
        try:
            ints = np.array(values, dtype=np.int64)
        except OverflowError:
            return None
        if spec.dtype != "int64" and (np.abs(ints) > value_limit(spec.dtype)).any():
            return None
        return ints
    if not types <= _MAYBE_NUMBER_TYPES or not types & _NUMBER_TYPES:
        return None
    try:
        numbers = np.array(values, dtype=np.float64)  # None → NaN (missing)
    except (OverflowError, TypeError, ValueError):
        return None
    if (np.abs(numbers) > value_limit(spec.dtype)).any():
        return None
    return numbers
