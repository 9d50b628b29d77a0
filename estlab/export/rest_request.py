"""A ``:predict`` request body → validated per-column numpy arrays, with TF Serving's error answers.

The fast path reads row (``instances``) and columnar (``inputs``) bodies straight into one numpy
array per signature input (no DataFrame); a string input's ``{"b64": "<base64>"}`` values (TF
Serving's bytes) are decoded as UTF-8 on both paths (:func:`b64_text`); anything unusual (missing features, defaults, wrong
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

import binascii
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
_B64_TEXT_TYPES = frozenset({str, type(None), dict})


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
            columns = to_columns(_decoded_b64(data, inputs, has_instances), inputs, defaults, finite=True)
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
            if dict not in types or not types <= _B64_TEXT_TYPES:
                return None
            decoded = _fast_b64(values)
            if decoded is None:
                return None
            values = decoded
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


def b64_text(value: Mapping[str, Any], spec: TensorSpec, where: str) -> str:
    """The text a ``{"b64": "<base64>"}`` JSON value holds (UTF-8 bytes) for the string input ``spec``.

    ``where`` names the value in the error (``"instance 3"``, ``"example 0"``). TF Serving's REST API
    sends bytes this way in ``:predict``, ``:classify`` and ``:regress`` bodies.

    Raises
    ------
    RequestError
        400 for another object, a numeric input, text that is not standard base64, or bytes that
        are not UTF-8; the message names the feature and where it was.

    Examples
    --------
    >>> from estlab.export.spec import TensorSpec
    >>> b64_text({"b64": "Ymx1ZQ=="}, TensorSpec("color", "string"), "instance 0")
    'blue'
    """
    if set(value) != {"b64"} or not isinstance(value["b64"], str):
        raise RequestError(
            400,
            f"Feature: {spec.name!r} of {where} has element with unexpected JSON type: Object; "
            'the only object accepted is {"b64": "<base64 text>"} for bytes',
        )
    if spec.dtype != "string":
        raise RequestError(
            400,
            f'Feature: {spec.name!r} of {where} is bytes ({{"b64": ...}}) but the input is '
            f"{spec.dtype}; send a number",
        )
    try:
        return _utf8_of_b64(value["b64"])
    except UnicodeDecodeError as error:
        raise RequestError(
            400,
            f"Feature: {spec.name!r} of {where}: its b64 bytes are not UTF-8 text ({error.reason} at "
            f"byte {error.start}); string features are read as UTF-8",
        ) from None
    except ValueError:  # binascii.Error
        raise RequestError(
            400,
            f"Unable to base64 decode feature {spec.name!r} of {where}; send standard base64 "
            "(A-Z, a-z, 0-9, +, /, '=' padding)",
        ) from None


def _utf8_of_b64(text: str) -> str:
    """Standard base64 (no other characters, no data after the padding) → UTF-8 text; raises
    ``binascii.Error`` or ``UnicodeDecodeError`` (both ``ValueError``)."""
    # strict_mode (Python 3.11, the floor of requires-python) is 2x faster than base64's regex check;
    # mypy checks against 3.10's stubs
    return binascii.a2b_base64(text, strict_mode=True).decode("utf-8")  # type: ignore[call-arg]


def _fast_b64(values: list[Any]) -> list[Any] | None:
    """``values`` with each well-formed ``{"b64": ...}`` decoded; None if one is not (the careful
    path explains it)."""
    decoded = list(values)
    for index, value in enumerate(values):
        if type(value) is dict:
            text = value.get("b64")
            if len(value) != 1 or type(text) is not str:
                return None
            try:
                decoded[index] = _utf8_of_b64(text)
            except ValueError:
                return None
    return decoded


def _decoded_b64(data: Any, inputs: Sequence[TensorSpec], row_format: bool) -> Any:
    """``data`` (rows or columns) with every ``{"b64": ...}`` value of an input decoded by
    :func:`b64_text` (the same object when it holds none)."""
    specs = {spec.name: spec for spec in inputs}
    if row_format:
        if not any(type(row) is dict and any(_has_b64(row.get(name)) for name in specs) for row in data):
            return data
        return [
            {
                name: _b64_values(value, specs[name], f"instance {index}") if name in specs else value
                for name, value in row.items()
            }
            if type(row) is dict
            else row
            for index, row in enumerate(data)
        ]
    if not isinstance(data, dict) or not any(_has_b64(data.get(name)) for name in specs):
        return data
    decoded = dict(data)
    for name, spec in specs.items():
        column = data.get(name)
        if type(column) is list:
            decoded[name] = [_b64_values(value, spec, f"row {index}") for index, value in enumerate(column)]
        elif column is not None:
            decoded[name] = _b64_values(column, spec, "row 0")
    return decoded


#: list levels searched for b64 values (a multi-valued input's rows); deeper nesting is left to
#: ``to_columns``, which names the input it does not fit
_B64_DEPTH = 4


def _has_b64(value: Any, depth: int = _B64_DEPTH) -> bool:
    if type(value) is dict:
        return "b64" in value
    return depth > 0 and type(value) is list and any(_has_b64(item, depth - 1) for item in value)


def _b64_values(value: Any, spec: TensorSpec, where: str, depth: int = _B64_DEPTH) -> Any:
    if type(value) is dict and "b64" in value:
        return b64_text(value, spec, where)
    if depth > 0 and type(value) is list:
        return [_b64_values(item, spec, where, depth - 1) for item in value]
    return value
