"""``estlab.estimator.export``: TF's ``tf.estimator.export`` names over ``estlab.export``, and parse specs.

An estlab export holds no Python code: a serving input receiver *declares* the raw inputs (name, dtype,
shape) and the exported program applies the fitted feature columns to them. The served model takes rows
as JSON (TF Serving's REST ``instances``/``inputs``), so TF's parsing receiver, which parsed serialized
``tf.Example`` protos, becomes a receiver of the same features sent as JSON rows. A feature spec
(:func:`make_parse_example_spec`, TF's ``tf.feature_column.make_parse_example_spec``) maps each raw key to a
:class:`~estlab.export.spec.TensorSpec`. A dtype may be a name, a numpy or a torch dtype; a numpy array or
torch tensor gives its dtype and trailing shape (its first dimension is the rows).

A custom ``model_fn`` names its export's signatures with TF's ``export_outputs`` objects
(:class:`PredictOutput`, :class:`ClassificationOutput`, :class:`RegressionOutput`, from
:mod:`estlab.export.outputs`), served under TF's output names.

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

from estlab._util import warn_ignored_arguments
from estlab.export.outputs import ClassificationOutput, ExportOutput, PredictOutput, RegressionOutput
from estlab.export.spec import (
    ServingInputReceiver,
    SupervisedInputReceiver,
    TensorServingInputReceiver,
    TensorSpec,
    build_raw_supervised_input_receiver_fn,
    dtype_name,
    tensor_spec,
)

__all__ = [
    "ClassificationOutput",
    "ExportOutput",
    "PredictOutput",
    "RegressionOutput",
    "ServingInputReceiver",
    "SupervisedInputReceiver",
    "TensorServingInputReceiver",
    "TensorSpec",
    "build_parsing_serving_input_receiver_fn",
    "build_raw_serving_input_receiver_fn",
    "build_raw_supervised_input_receiver_fn",
    "classifier_parse_example_spec",
    "make_parse_example_spec",
    "regressor_parse_example_spec",
]

def _dtype_name(dtype: Any, owner: str) -> str:
    """An estlab dtype name (``"float32"``, ``"int64"``, ``"string"``...) from a name, a numpy or torch dtype, a type."""
    return dtype_name(dtype, owner)


_tensor_spec = tensor_spec


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
        Feature key → dtype name (``"float32"``, ``"int64"``, ``"string"``), a numpy or torch dtype, a TensorSpec,
        or an example batch (a numpy array or torch tensor: its dtype and trailing shape).
    default_batch_size : int, optional
        Accepted and ignored with a warning (the batch dimension is dynamic).
    defaults : mapping, optional
        Keyword-only (estlab): key → value used when a request omits that feature.

    Examples
    --------
    >>> import numpy as np
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
