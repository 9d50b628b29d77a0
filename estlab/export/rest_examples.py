"""A ``:classify`` / ``:regress`` request body → validated per-column numpy arrays (TF Serving's REST API).

The body is ``{"signature_name": ..., "context": {feature: value}, "examples": [{feature: value}, ...]}``:
each example is a ``tf.Example`` written as JSON, ``context`` holds features shared by every example
(merged into each; a feature may not be in both). A value is a JSON number or string, ``{"b64": ...}``
for bytes, or a list of such values (a one-element list for a single-valued feature, as a
``tf.Example`` holds it). ``null`` is a missing value, as in ``:predict``; a feature an example leaves
out takes the export's default, and without one the request is refused naming the feature.

The rows go through the same checks as ``:predict`` rows (:func:`~estlab.export.inputs.to_columns`),
so the model sees exactly what ``:predict`` would give it. The signature must be a classification
(``:classify``) or regression (``:regress``) one; without ``signature_name``, the one TF's
``serving_default`` is for the head (:func:`default_signature`). Every problem is a
:class:`~estlab.export.rest_request.RequestError` (400) with TF Serving's message and a fix.

Examples
--------
>>> from estlab.export.spec import CLASSIFY_METHOD, SignatureDef, TensorSpec
>>> inputs = (TensorSpec("x", "float32"), TensorSpec("color", "string"))
>>> signatures = {"classification": SignatureDef(CLASSIFY_METHOD, inputs, (TensorSpec("scores", "float32", (-1, 2)),))}
>>> request = parse_examples_payload(
...     {"context": {"color": "red"}, "examples": [{"x": 1.5}, {"x": [2]}]},
...     "classify", inputs, {}, signatures, "classification")
>>> request.columns["x"].tolist(), request.columns["color"].tolist(), request.signature_name
([1.5, 2.0], ['red', 'red'], 'classification')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from estlab.export.inputs import InvalidInputError, to_columns
from estlab.export.rest_json import JSONError, loads
from estlab.export.rest_request import RequestError, b64_text, fast_columns
from estlab.export.spec import CLASSIFY_METHOD, PREDICT_METHOD, REGRESS_METHOD, SignatureDef, TensorSpec

#: the method a signature must have for each verb, and the verb's name in TF's messages
VERB_METHODS = {"classify": CLASSIFY_METHOD, "regress": REGRESS_METHOD}
_VERB_WORDS = {"classify": "classification", "regress": "regression"}
_JSON_TYPES = {dict: "Object", list: "Array", str: "String", bool: "Bool", type(None): "Null"}


@dataclass
class ExamplesRequest:
    """A validated ``:classify`` / ``:regress`` request: the verb, its signature, the input columns.

    Examples
    --------
    >>> ExamplesRequest("regress", "regression", {"x": np.array([1.0])}, 1).batch_key()
    (('x', '<f8'),)
    """

    verb: str
    signature_name: str
    columns: dict[str, np.ndarray]
    n_rows: int

    def batch_key(self) -> tuple[tuple[str, str], ...]:
        """Requests whose columns have the same dtypes can share a batch (with ``:predict`` ones too)."""
        return tuple((name, values.dtype.str) for name, values in self.columns.items())


def default_signature(signatures: Mapping[str, SignatureDef], first_head: str | None = None) -> str:
    """The signature ``:classify`` / ``:regress`` use without ``signature_name``: TF's ``serving_default``.

    An export whose ``serving_default`` classifies or regresses (TF's ``export_outputs``) keeps it.
    A premade head's export has a ``predict`` ``serving_default`` (estlab serves raw features), so the
    one TF's export would have made ``serving_default`` is used: ``classification`` for a classifier,
    ``regression`` for a regressor (the first head's, ``<head>/classification``..., for a ``MultiHead``).

    Examples
    --------
    >>> from estlab.export.spec import SignatureDef
    >>> predict = SignatureDef(PREDICT_METHOD, (), ())
    >>> default_signature({"serving_default": predict, "predict": predict, "regression": predict})
    'regression'
    """
    serving_default = signatures.get("serving_default")
    if serving_default is not None and serving_default.method_name != PREDICT_METHOD:
        return "serving_default"
    prefix = f"{first_head}/" if first_head else ""
    for name in ("classification", "regression"):
        if prefix + name in signatures:
            return prefix + name
    return "serving_default"


def parse_examples_body(
    body: bytes,
    verb: str,
    inputs: Sequence[TensorSpec],
    defaults: Mapping[str, Any],
    signatures: Mapping[str, SignatureDef],
    default_signature_name: str,
    max_rows: int = 10_000,
) -> ExamplesRequest:
    """Parse and validate a ``:classify`` / ``:regress`` body.

    Raises
    ------
    RequestError
        400 for bad JSON, a body that is not an object, no ``examples``, a signature that is unknown or
        does not classify/regress, too many examples, or values that do not fit the inputs.

    Examples
    --------
    >>> from estlab.export.spec import SignatureDef, TensorSpec
    >>> sig = SignatureDef(REGRESS_METHOD, (TensorSpec("x", "float32"),), (TensorSpec("outputs", "float32", (-1, 1)),))
    >>> parse_examples_body(b'{"examples": [{"x": 1}]}', "regress", sig.inputs, {}, {"regression": sig},
    ...                     "regression").n_rows
    1
    """
    try:
        payload, strict = loads(body)
    except JSONError as error:
        raise RequestError(400, str(error)) from None
    if not isinstance(payload, dict):
        raise RequestError(400, f"JSON Value: request body must be a JSON object, got {_json_type(payload)}")
    return parse_examples_payload(
        payload, verb, inputs, defaults, signatures, default_signature_name, max_rows, strict=strict
    )


def parse_examples_payload(
    payload: Mapping[str, Any],
    verb: str,
    inputs: Sequence[TensorSpec],
    defaults: Mapping[str, Any],
    signatures: Mapping[str, SignatureDef],
    default_signature_name: str,
    max_rows: int = 10_000,
    *,
    strict: bool = False,
) -> ExamplesRequest:
    """Validate a parsed ``:classify`` / ``:regress`` body (see :func:`parse_examples_body`).

    ``strict`` says the numbers came from plain JSON (finite doubles), which allows the fast path.

    Examples
    --------
    >>> parse_examples_payload({"instances": []}, "classify", (), {}, {}, "serving_default")
    Traceback (most recent call last):
    estlab.export.rest_request.RequestError: When method is classify, key 'examples' is expected and was not found; ...
    """
    if verb not in VERB_METHODS:
        raise ValueError(f"verb must be one of {sorted(VERB_METHODS)}; got {verb!r}")
    requested = payload.get("signature_name")
    if requested is not None and not isinstance(requested, str):
        raise RequestError(
            400,
            f"JSON Value: {requested!r:.100} not formatted correctly. 'signature_name' key must be a string value.",
        )
    examples = payload.get("examples")
    if "examples" not in payload:
        hint = (
            "'instances' and 'inputs' are :predict's keys; "
            if "instances" in payload or "inputs" in payload
            else ""
        )
        raise RequestError(
            400,
            f"When method is {verb}, key 'examples' is expected and was not found; {hint}send "
            '{"examples": [{"feature": value, ...}, ...]}',
        )
    if not isinstance(examples, list):
        raise RequestError(
            400, f"Expecting 'examples' value to be an list/array; got JSON {_json_type(examples)}"
        )
    if not examples:
        raise RequestError(400, "'examples' value is an empty array; send at least one example")
    if len(examples) > max_rows:
        raise RequestError(
            400,
            f"Request has {len(examples)} examples, more than the limit of {max_rows} (--max-rows); split it "
            "into smaller requests",
        )
    context = payload.get("context")
    if "context" in payload and not isinstance(context, dict):
        raise RequestError(
            400, f"'context' must be a JSON object of features (an Example); got JSON {_json_type(context)}"
        )
    for index, example in enumerate(examples):
        if not isinstance(example, dict):
            raise RequestError(
                400,
                f"Example must be JSON object but got JSON {_json_type(example)} (example {index}); send "
                '{"feature": value, ...} per example',
            )
        if context:
            shared = sorted(set(context).intersection(example))
            if shared:
                raise RequestError(
                    400,
                    f"feature {shared[0]!r:.100} is in both 'context' and example {index}; features in "
                    "'context' must not appear in 'examples': send it in one place",
                )
    signature_name = _resolve_signature(verb, requested or default_signature_name, signatures, len(examples))
    rows = [{**context, **example} for example in examples] if context else examples
    columns = fast_columns(rows, inputs) if strict and not defaults else None
    if columns is None:
        columns = _careful_columns(rows, inputs, defaults)
    return ExamplesRequest(verb, signature_name, columns, len(examples))


def _resolve_signature(verb: str, name: str, signatures: Mapping[str, SignatureDef], n_rows: int) -> str:
    """Check that ``name`` is a signature of the verb's method whose outputs TF Serving can answer with."""
    word = _VERB_WORDS[verb]
    method = VERB_METHODS[verb]
    suitable = sorted(key for key, signature in signatures.items() if signature.method_name == method)
    if suitable:
        fix = f'name one of this export\'s {word} signatures with "signature_name": {suitable}'
    else:
        other = ":regress" if verb == "classify" else ":classify"
        fix = f"this export has no {word} signature (its head does not {verb}): use :predict or {other}"
    if name not in signatures:
        raise RequestError(400, f"No signature was found with the name: {name:.200}; {fix}")
    signature = signatures[name]
    if signature.method_name != method:
        raise RequestError(
            400,
            f"Expected {word} signature method_name to be {method}. Was: {signature.method_name}; {fix}",
        )
    outputs = {spec.name: spec for spec in signature.outputs}
    if verb == "classify":
        present = [outputs[key] for key in ("classes", "scores") if key in outputs]
        if not present:
            raise RequestError(
                400,
                f'Expected classification signature outputs to contain at least one of "classes" or "scores". '
                f"Signature {name!r} has {sorted(outputs)}",
            )
        for spec in present:
            if len(spec.shape) != 2:
                raise RequestError(
                    400, f"Expected Tensor shape: [batch_size num_classes] but got {_shape(spec, n_rows)}"
                )
        if len(present) == 2 and present[0].shape[1] != present[1].shape[1]:
            raise RequestError(
                400,
                "Tensors class and score should match in dim_size(1). "
                f"Got {present[0].shape[1]} vs. {present[1].shape[1]}",
            )
    else:
        value = outputs.get("outputs")
        if value is None:
            raise RequestError(400, f"No regression outputs found in signature {name!r}: {sorted(outputs)}")
        if not (len(value.shape) == 1 or (len(value.shape) == 2 and value.shape[1] == 1)):
            raise RequestError(
                400,
                "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                f"{_shape(value, n_rows)}; a regression with several outputs is served by :predict",
            )
    return name


def _careful_columns(
    rows: Sequence[Mapping[str, Any]], inputs: Sequence[TensorSpec], defaults: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Columns from tf.Example-style values (one-element lists, b64, defaults), checked by ``to_columns``."""
    raw: dict[str, list[Any]] = {}
    for spec in inputs:
        values = []
        for index, row in enumerate(rows):
            if spec.name in row:
                values.append(_feature_value(row[spec.name], spec, index))
            elif spec.name in defaults:
                values.append(defaults[spec.name])
            else:
                raise RequestError(
                    400,
                    f"Feature: {spec.name!r} is required but could not be found in example {index}; the "
                    f"signature's features are {[s.name for s in inputs]}. Send it in every example or in "
                    "'context' (null for a missing value).",
                )
        raw[spec.name] = values
    try:
        return to_columns(raw, inputs, defaults, finite=True)
    except InvalidInputError as error:
        raise RequestError(400, str(error).replace(" row ", " example ")) from None
    except RecursionError:
        raise RequestError(400, "feature values are nested too deeply; send a value or a flat list") from None


def _feature_value(value: Any, spec: TensorSpec, index: int) -> Any:
    """One example's value of ``spec`` as ``to_columns`` reads a row: a scalar, or a list for a
    multi-valued input."""
    if isinstance(value, list):
        items = [_element(item, spec, index) for item in value]
        if len(spec.shape) > 1:
            return items
        if len(items) != 1:
            raise RequestError(
                400,
                f"Feature: {spec.name!r} of example {index} has {len(items)} values; the input takes one "
                "value per example: send a value or a one-element list",
            )
        return items[0]
    return _element(value, spec, index)


def _element(value: Any, spec: TensorSpec, index: int) -> Any:
    if isinstance(value, bool):
        return int(value) if spec.dtype.startswith("int") else value  # a tf.Example holds a bool as int64
    if isinstance(value, dict):
        return b64_text(value, spec, f"example {index}")
    if isinstance(value, list):
        raise RequestError(
            400,
            f"Feature: {spec.name!r} of example {index} has element with unexpected JSON type: Array; "
            "send a value or a flat list of values",
        )
    return value


def _shape(spec: TensorSpec, n_rows: int) -> str:
    return "[" + ",".join(str(n_rows if i == 0 else d) for i, d in enumerate(spec.shape)) + "]"


def _json_type(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "Number"
    return _JSON_TYPES.get(type(value), type(value).__name__)
