"""``estlab.estimator.export``: TF's ``tf.estimator.export`` names over ``estlab.export``, and parse specs.

An estlab export holds no Python code: a serving input receiver *declares* the raw inputs (name, dtype,
shape) and the exported program applies the fitted feature columns to them. The served model takes rows
as JSON (TF Serving's REST ``instances``/``inputs``), so TF's parsing receiver, which parsed serialized
``tf.Example`` protos, becomes a receiver of the same features sent as JSON rows. A feature spec
(:func:`make_parse_example_spec`, TF's ``tf.feature_column.make_parse_example_spec``) maps each raw key to a
:class:`~estlab.export.spec.TensorSpec`.

Examples
--------
>>> from estlab import feature_column as fc
>>> spec = make_parse_example_spec([fc.numeric_column("age"), fc.categorical_column_with_hash_bucket("job", 10)])
>>> [(s.name, s.dtype) for s in build_parsing_serving_input_receiver_fn(spec)().inputs]
[('age', 'float32'), ('job', 'string')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from estlab._util import warn_ignored_arguments
from estlab.export.spec import DTYPES, ServingInputReceiver, TensorSpec

__all__ = [
    "ServingInputReceiver",
    "TensorSpec",
    "build_parsing_serving_input_receiver_fn",
    "build_raw_serving_input_receiver_fn",
    "classifier_parse_example_spec",
    "make_parse_example_spec",
    "regressor_parse_example_spec",
]

_DTYPE_ALIASES = {"float": "float32", "double": "float64", "int": "int64", "str": "string", "object": "string",
                  "bytes": "string", "bool_": "bool"}


def _dtype_name(dtype: Any, owner: str) -> str:
    """An estlab dtype name (``"float32"``, ``"int64"``, ``"string"``...) from a name, a numpy dtype or a type."""
    if isinstance(dtype, str):
        name = dtype
    elif dtype in (str, bytes):
        name = "string"
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = getattr(dtype, "name", str(dtype))
    name = _DTYPE_ALIASES.get(name, name)
    if name.startswith(("str", "<U", "|S")):
        name = "string"
    if name not in DTYPES:
        raise ValueError(f"{owner}: dtype {dtype!r} is not one of {sorted(DTYPES)}")
    return name


def _tensor_spec(name: str, value: Any, owner: str) -> TensorSpec:
    """A TensorSpec from a TensorSpec, a spec with ``dtype``/``shape`` (a column's raw input) or a dtype."""
    if isinstance(value, TensorSpec):
        return value if value.name == name else TensorSpec(name, value.dtype, value.shape)
    shape = getattr(value, "shape", None)
    if not isinstance(value, type | np.ndarray) and shape is not None and hasattr(value, "dtype"):
        return TensorSpec(name, _dtype_name(value.dtype, owner), tuple(-1 if d is None else d for d in shape))
    return TensorSpec(name, _dtype_name(value, owner))


def make_parse_example_spec(feature_columns: Iterable[Any]) -> dict[str, TensorSpec]:
    """The raw inputs the columns read, ``{key: TensorSpec}`` (TF's ``tf.feature_column.make_parse_example_spec``).

    Parameters
    ----------
    feature_columns : iterable of feature columns
        The columns a model reads (crossed and embedded columns contribute their source keys).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> make_parse_example_spec([fc.numeric_column("x", shape=2)])
    {'x': TensorSpec(name='x', dtype='float32', shape=(-1, 2))}
    """
    from estlab.features import FeatureTransformer

    specs = FeatureTransformer(list(feature_columns)).raw_input_specs()
    return {key: TensorSpec(key, spec.dtype, spec.shape) for key, spec in specs.items()}


def _weight_key(weight_column: Any) -> str | None:
    if weight_column is None or isinstance(weight_column, str):
        return weight_column
    return str(getattr(weight_column, "key", getattr(weight_column, "name", weight_column)))


def classifier_parse_example_spec(feature_columns: Iterable[Any], label_key: str, label_dtype: Any = "int64",
                                  label_default: Any = None, weight_column: Any = None) -> dict[str, TensorSpec]:
    """:func:`make_parse_example_spec` plus the label and weight keys (TF's ``classifier_parse_example_spec``).

    ``label_default`` is accepted and ignored with a warning (estlab reads labels from the data as given).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> spec = classifier_parse_example_spec([fc.numeric_column("x")], "y", label_dtype=str)
    >>> spec["y"]
    TensorSpec(name='y', dtype='string', shape=(-1,))
    """
    warn_ignored_arguments("classifier_parse_example_spec", {"label_default": label_default})
    spec = make_parse_example_spec(feature_columns)
    return _with_label(spec, label_key, _dtype_name(label_dtype, "classifier_parse_example_spec"), 1, weight_column)


def regressor_parse_example_spec(feature_columns: Iterable[Any], label_key: str, label_dtype: Any = "float32",
                                 label_default: Any = None, label_dimension: int = 1,
                                 weight_column: Any = None) -> dict[str, TensorSpec]:
    """:func:`make_parse_example_spec` plus the label and weight keys (TF's ``regressor_parse_example_spec``).

    ``label_default`` is accepted and ignored with a warning.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> regressor_parse_example_spec([fc.numeric_column("x")], "y", label_dimension=2)["y"].shape
    (-1, 2)
    """
    warn_ignored_arguments("regressor_parse_example_spec", {"label_default": label_default})
    spec = make_parse_example_spec(feature_columns)
    dtype = _dtype_name(label_dtype, "regressor_parse_example_spec")
    return _with_label(spec, label_key, dtype, label_dimension, weight_column)


def _with_label(spec: dict[str, TensorSpec], label_key: str, dtype: str, dimension: int,
                weight_column: Any) -> dict[str, TensorSpec]:
    if label_key in spec:
        raise ValueError(f"label_key {label_key!r} is also a feature key the columns read; use another name")
    spec[label_key] = TensorSpec(label_key, dtype, (-1,) if dimension == 1 else (-1, dimension))
    weight = _weight_key(weight_column)
    if weight is not None and weight not in spec:
        spec[weight] = TensorSpec(weight, "float32")
    return spec


def build_parsing_serving_input_receiver_fn(
    feature_spec: Mapping[str, Any], default_batch_size: int | None = None, *,
    defaults: Mapping[str, Any] | None = None,
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn for the features of ``feature_spec``, sent as JSON rows (TF's parsing receiver).

    Parameters
    ----------
    feature_spec : mapping
        ``{key: TensorSpec}`` from :func:`make_parse_example_spec` (or key → dtype name such as ``"float32"``).
    default_batch_size : int, optional
        TF's fixed batch size: accepted and ignored with a warning (the batch dimension is dynamic).
    defaults : mapping, optional
        Keyword-only (estlab): key → value used when a request omits that feature (TF: the spec's defaults).

    Examples
    --------
    >>> receiver = build_parsing_serving_input_receiver_fn({"age": "float32"})()
    >>> receiver.inputs
    (TensorSpec(name='age', dtype='float32', shape=(-1,)),)
    """
    warn_ignored_arguments("build_parsing_serving_input_receiver_fn", {"default_batch_size": default_batch_size},
                           "the batch dimension of an export is dynamic")
    owner = "build_parsing_serving_input_receiver_fn"
    if not isinstance(feature_spec, Mapping) or not feature_spec:
        raise ValueError(f"{owner}: feature_spec must be a non-empty mapping key -> TensorSpec, e.g. "
                         f"estlab.estimator.export.make_parse_example_spec(feature_columns); got {feature_spec!r}")
    inputs = tuple(_tensor_spec(str(key), value, owner) for key, value in feature_spec.items())
    frozen_defaults = dict(defaults or {})

    def serving_input_receiver_fn() -> ServingInputReceiver:
        return ServingInputReceiver(inputs=inputs, defaults=frozen_defaults)

    return serving_input_receiver_fn


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, Any], default_batch_size: int | None = None, *,
    defaults: Mapping[str, Any] | None = None,
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn accepting raw feature values, in TF's parameter order (TF's ``build_raw_serving_input_receiver_fn``).

    Parameters
    ----------
    features : mapping
        Feature key → dtype name (``"float32"``, ``"int64"``, ``"string"``), numpy dtype, or TensorSpec.
    default_batch_size : int, optional
        Accepted and ignored with a warning (the batch dimension is dynamic).
    defaults : mapping, optional
        Keyword-only (estlab): key → value used when a request omits that feature.

    Examples
    --------
    >>> fn = build_raw_serving_input_receiver_fn({"age": np.float32, "color": "string"})
    >>> [spec.dtype for spec in fn().inputs]
    ['float32', 'string']
    """
    warn_ignored_arguments("build_raw_serving_input_receiver_fn", {"default_batch_size": default_batch_size},
                           "the batch dimension of an export is dynamic")
    owner = "build_raw_serving_input_receiver_fn"
    inputs = tuple(_tensor_spec(str(key), value, owner) for key, value in features.items())
    frozen_defaults = dict(defaults or {})

    def serving_input_receiver_fn() -> ServingInputReceiver:
        return ServingInputReceiver(inputs=inputs, defaults=frozen_defaults)

    return serving_input_receiver_fn
