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

#: dtypes an input or output may have, and their TensorFlow names (for the metadata API).
DTYPES: dict[str, str] = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "string": "DT_STRING",
    "bool": "DT_BOOL",
}

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


def build_raw_serving_input_receiver_fn(
    features: Mapping[str, str | TensorSpec], defaults: Mapping[str, Any] | None = None
) -> Callable[[], ServingInputReceiver]:
    """A receiver fn accepting raw feature values (TF's ``build_raw_serving_input_receiver_fn``).

    Parameters
    ----------
    features : mapping
        Feature name → dtype string (``"float32"``, ``"int64"``, ``"string"``) or a TensorSpec.
    defaults : mapping, optional
        Feature name → value used when a request omits that feature.

    Examples
    --------
    >>> fn = build_raw_serving_input_receiver_fn({"age": "float32", "color": "string"})
    >>> [spec.dtype for spec in fn().inputs]
    ['float32', 'string']
    """
    specs = tuple(
        value if isinstance(value, TensorSpec) else TensorSpec(name, value)
        for name, value in features.items()
    )
    frozen_defaults = dict(defaults or {})

    def serving_input_receiver_fn() -> ServingInputReceiver:
        return ServingInputReceiver(inputs=specs, defaults=frozen_defaults)

    return serving_input_receiver_fn
