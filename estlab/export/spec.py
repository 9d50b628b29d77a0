"""Signatures of an export: input and output tensor specs, and serving input receivers.

A signature says what a served model takes (raw feature values, by name, with a dtype) and what
it returns (prediction keys). Everything here is a frozen dataclass that round-trips through JSON,
so an export can be read without estlab's training code.

Examples
--------
>>> spec = TensorSpec("age", "float32")
>>> TensorSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from estlab._util import warn_ignored_arguments
from estlab.features.dtypes import dtype_kind

#: dtypes an input or output may have, and their TensorFlow names (for the metadata API).
DTYPES: dict[str, str] = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "string": "DT_STRING",
    "bool": "DT_BOOL",
}


def dtype_name(dtype: Any, owner: str = "TensorSpec") -> str:
    """An export dtype name (``"float32"``, ``"int64"``, ``"string"``...) from a name, numpy or torch dtype, or type.

    Parameters
    ----------
    dtype : str, numpy dtype or type, torch dtype, ``str`` or ``bytes``
        What the caller gave as a dtype.
    owner : str
        Named in the error (the function or parameter that received ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> dtype_name("float"), dtype_name(np.int64), dtype_name(str)
    ('float32', 'int64', 'string')
    """
    name = dtype_kind(dtype)  # every spelling feature columns read (names, numpy/torch dtypes, types)
    if name not in DTYPES:
        raise ValueError(
            f"{owner}: dtype {dtype!r} is not supported; give one of {sorted(DTYPES)} as a name, a numpy "
            "dtype (np.float32) or a torch dtype (torch.float32)"
        )
    return name


def tensor_spec(name: str, value: Any, owner: str = "TensorSpec") -> TensorSpec:
    """A TensorSpec named ``name`` from a TensorSpec, a dtype, or anything with ``dtype`` and ``shape``.

    A spec-like value (a column's raw input; TF's placeholder shapes) keeps its shape, ``None`` read as
    ``-1``; an example batch (a numpy array or torch tensor) gives its dtype and trailing shape, its first
    dimension being the rows (as TF's ``build_raw_serving_input_receiver_fn`` reads its tensors); so does a
    pandas Series.

    Examples
    --------
    >>> import numpy as np
    >>> tensor_spec("x", np.zeros((5, 3), dtype=np.float32))
    TensorSpec(name='x', dtype='float32', shape=(-1, 3))
    """
    if isinstance(value, TensorSpec):
        return value if value.name == name else TensorSpec(name, value.dtype, value.shape)
    shape = getattr(value, "shape", None)
    if isinstance(value, type) or shape is None or not hasattr(value, "dtype"):
        return TensorSpec(name, dtype_name(value, f"{owner}: feature {name!r}"))
    dtype = dtype_name(value.dtype, f"{owner}: feature {name!r}")
    module = type(value).__module__
    if module.startswith(("numpy", "torch", "pandas")):  # an example batch: the first dimension is the rows
        return TensorSpec(name, dtype, (-1, *(int(d) for d in tuple(shape)[1:])))
    return TensorSpec(name, dtype, tuple(-1 if d is None else int(d) for d in shape) or (-1,))


#: TF's method names, per signature.
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a signature.

    Parameters
    ----------
    name : str
        Input feature name or output key.
    dtype : str
        One of ``DTYPES`` (``"float32"``, ``"int64"``, ``"string"``, ...).
    shape : tuple of int
        Shape with ``-1`` for the batch dimension, e.g. ``(-1,)`` for one value per row.

    Examples
    --------
    >>> TensorSpec("age", "float32").tf_dtype
    'DT_FLOAT'
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = (-1,)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(
                f"TensorSpec {self.name!r}: dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}"
            )
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def tf_dtype(self) -> str:
        """TensorFlow's name of the dtype (``DT_FLOAT``...)."""
        return DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(name=data["name"], dtype=data["dtype"], shape=tuple(data.get("shape", (-1,))))


@dataclass(frozen=True)
class SignatureDef:
    """A signature: method name, named inputs and named outputs (TF's ``SignatureDef``).

    Examples
    --------
    >>> sig = SignatureDef(PREDICT_METHOD, (TensorSpec("x", "float32"),), (TensorSpec("y", "float32"),))
    >>> sig.input_names, sig.output_names
    (['x'], ['y'])
    """

    method_name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_names(self) -> list[str]:
        """Input names in order."""
        return [spec.name for spec in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Output keys in order."""
        return [spec.name for spec in self.outputs]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "method_name": self.method_name,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignatureDef:
        """Inverse of :meth:`to_dict`."""
        return cls(
            method_name=data["method_name"],
            inputs=tuple(TensorSpec.from_dict(d) for d in data["inputs"]),
            outputs=tuple(TensorSpec.from_dict(d) for d in data["outputs"]),
        )


@dataclass(frozen=True)
class ServingInputReceiver:
    """What a serving input receiver fn returns: the raw inputs the served model accepts.

    Unlike TF, an export holds no Python code, so a receiver can only *declare* the inputs
    (names, dtypes, shapes, and optional defaults for features the client may omit); the fitted
    feature transformation then runs on them exactly as in training.

    Parameters
    ----------
    inputs : tuple of TensorSpec
        The accepted inputs. They must cover every raw feature the feature columns read,
        unless a default is given for it.
    defaults : mapping
        Feature name → value used when a request omits that feature.

    Examples
    --------
    >>> receiver = ServingInputReceiver((TensorSpec("age", "float32"),))
    >>> receiver.inputs[0].name
    'age'
    """

    inputs: tuple[TensorSpec, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SupervisedInputReceiver(ServingInputReceiver):
    """What a supervised receiver fn returns (TF's ``SupervisedInputReceiver``): features and labels declared.

    estlab exports the predict mode only, so an export serves the ``inputs`` (the features); ``labels``
    declares what a supervised (train/eval) signature would take.

    Examples
    --------
    >>> receiver = SupervisedInputReceiver((TensorSpec("x", "float32"),), labels=(TensorSpec("y", "int64"),))
    >>> [s.name for s in receiver.inputs], [s.name for s in receiver.labels]
    (['x'], ['y'])
    """

    labels: tuple[TensorSpec, ...] = ()


#: TF's names for a receiver's single (unnamed) feature, receiver tensor and label.
SINGLE_FEATURE_NAME, SINGLE_RECEIVER_NAME, SINGLE_LABEL_NAME = "feature", "input", "label"


def _named_specs(values: Any, single_name: str, owner: str) -> tuple[TensorSpec, ...]:
    if isinstance(values, Mapping):
        if not values:
            raise ValueError(
                f"{owner}: got an empty mapping; give name -> dtype, TensorSpec or example tensor"
            )
        return tuple(tensor_spec(str(key), value, owner) for key, value in values.items())
    return (tensor_spec(single_name, values, owner),)


class TensorServingInputReceiver(ServingInputReceiver):
    """A receiver for a model that takes a single tensor (TF's ``TensorServingInputReceiver``).

    An estlab export holds no graph, so the receiver declares that one input: ``features`` gives its dtype
    and shape (a dtype, a TensorSpec, or an example tensor/array whose first dimension is the rows), and
    ``receiver_tensors``, when a one-entry mapping, its name (default ``"input"``, TF's name for a single
    receiver tensor). The model reads it under that name.

    Examples
    --------
    >>> import numpy as np
    >>> TensorServingInputReceiver(np.zeros((2, 4), np.float32), {"x": None}).inputs
    (TensorSpec(name='x', dtype='float32', shape=(-1, 4)),)
    """

    def __init__(
        self,
        features: Any,
        receiver_tensors: Any = None,
        receiver_tensors_alternatives: Any = None,
        *,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        owner = "TensorServingInputReceiver"
        if features is None:
            raise ValueError(
                f"{owner}: features must be defined (a dtype, a TensorSpec or an example tensor)"
            )
        if isinstance(features, Mapping):
            raise ValueError(
                f"{owner}: features must be one tensor spec, got a mapping {sorted(features)}; use "
                "ServingInputReceiver / build_raw_serving_input_receiver_fn for a dict of features"
            )
        if receiver_tensors_alternatives is not None:
            raise ValueError(
                f"{owner}: receiver_tensors_alternatives are not supported (an export has one input "
                "signature); leave it out"
            )
        name = SINGLE_RECEIVER_NAME
        if isinstance(receiver_tensors, Mapping):
            if len(receiver_tensors) != 1:
                raise ValueError(
                    f"{owner}: receiver_tensors must name one input, got {sorted(receiver_tensors)}"
                )
            name = str(next(iter(receiver_tensors)))
        elif isinstance(features, TensorSpec):
            name = features.name
        super().__init__(inputs=(tensor_spec(name, features, owner),), defaults=dict(defaults or {}))


def build_raw_supervised_input_receiver_fn(
    features: Any, labels: Any, default_batch_size: int | None = None
) -> Callable[[], SupervisedInputReceiver]:
    """A receiver fn for raw features and labels (TF's ``build_raw_supervised_input_receiver_fn``).

    Parameters
    ----------
    features, labels : mapping or one spec
        Name → dtype, TensorSpec or example tensor; or one of those (named ``"input"`` / ``"label"``, as TF).
    default_batch_size : int, optional
        Accepted and ignored with a warning (the batch dimension of an export is dynamic).

    Examples
    --------
    >>> fn = build_raw_supervised_input_receiver_fn({"x": "float32"}, "int64")
    >>> [s.name for s in fn().inputs], [s.name for s in fn().labels]
    (['x'], ['label'])
    """
    owner = "build_raw_supervised_input_receiver_fn"
    warn_ignored_arguments(
        owner, {"default_batch_size": default_batch_size}, "the batch dimension of an export is dynamic"
    )
    inputs = _named_specs(features, SINGLE_RECEIVER_NAME, owner)
    label_specs = _named_specs(labels, SINGLE_LABEL_NAME, owner)
    overlap = sorted({s.name for s in inputs} & {s.name for s in label_specs})
    if overlap:
        raise ValueError(f"{owner}: features and labels must have distinct keys; both have {overlap}")

    def supervised_input_receiver_fn() -> SupervisedInputReceiver:
        return SupervisedInputReceiver(inputs=inputs, labels=label_specs)

    return supervised_input_receiver_fn


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn accepting raw feature values (TF's ``build_raw_serving_input_receiver_fn``).

    Parameters
    ----------
    features : mapping
        Feature name → dtype (``"float32"``, ``"int64"``, ``"string"``, a numpy or torch dtype) or a TensorSpec.
    defaults : mapping, optional
        Feature name → value used when a request omits that feature.

    Examples
    --------
    >>> fn = build_raw_serving_input_receiver_fn({"age": "float32", "color": "string"})
    >>> [spec.dtype for spec in fn().inputs]
    ['float32', 'string']
    """
    specs = tuple(
        value
        if isinstance(value, TensorSpec)
        else TensorSpec(name, dtype_name(value, "build_raw_serving_input_receiver_fn"))
        for name, value in features.items()
    )
    frozen_defaults = dict(defaults or {})

    def serving_input_receiver_fn() -> ServingInputReceiver:
        return ServingInputReceiver(inputs=specs, defaults=frozen_defaults)

    return serving_input_receiver_fn
