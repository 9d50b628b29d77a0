"""Head outputs of an export: logits → TF's prediction keys, without estlab's estimators package.

The numeric part (``logistic``, ``probabilities``, ``class_ids``, ...) runs inside the exported
program (:class:`HeadOutputs`), so the ``.pt2`` and ``.onnx`` files give it directly; the string
part (``classes``, ``all_classes``) is a vocabulary lookup described in JSON (:class:`Lookup`).
The same arithmetic as ``estlab.estimators.heads`` (sigmoid / softmax / argmax), so an export
predicts exactly what the estimator does.

Examples
--------
>>> import torch
>>> spec = HeadSpec.from_head_dict({"type": "BinaryClassHead", "label_vocabulary": ["no", "yes"]})
>>> out = HeadOutputs(spec)(torch.tensor([[2.0], [-1.0]]))
>>> out["class_ids"].tolist(), spec.lookups()[0].apply(out)["classes"].tolist()
([[1], [0]], [['yes'], ['no']])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from estlab.export.spec import CLASSIFY_METHOD, PREDICT_METHOD, REGRESS_METHOD, SignatureDef, TensorSpec

HEAD_KINDS = (
    "binary",
    "multiclass",
    "regression",
    "custom",
    "multi",
    "multilabel",
    "poisson_regression",
    "logistic_regression",
)
_TYPE_TO_KIND = {"BinaryClassHead": "binary", "MultiClassHead": "multiclass", "RegressionHead": "regression"}
#: heads a single-head export traces as ``"custom"`` outputs, which a ``MultiHead`` export computes itself
_SUB_HEAD_KINDS = {
    **_TYPE_TO_KIND,
    "MultiLabelHead": "multilabel",
    "PoissonRegressionHead": "poisson_regression",
    "LogisticRegressionHead": "logistic_regression",
}
#: regression heads through a link function: ``predictions = link(logits)``
_LINK_KINDS = ("poisson_regression", "logistic_regression")


@dataclass(frozen=True)
class Lookup:
    """A string output made by indexing a vocabulary with an integer output.

    Examples
    --------
    >>> Lookup("classes", "class_ids", ("a", "b")).apply({"class_ids": np.array([[1]])})["classes"].tolist()
    [['b']]
    """

    name: str
    source: str
    vocabulary: tuple[str, ...]

    def apply(self, outputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``{name: vocabulary[outputs[source]]}`` as an object array of ``str``."""
        ids = outputs[self.source]
        ids = ids.detach().cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
        return {self.name: np.asarray(self.vocabulary, dtype=object)[ids]}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"name": self.name, "source": self.source, "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lookup:
        """Inverse of :meth:`to_dict`."""
        return cls(data["name"], data["source"], tuple(str(v) for v in data["vocabulary"]))


@dataclass(frozen=True)
class HeadSpec:
    """What the export needs to know about a head.

    Parameters
    ----------
    kind : str
        ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"custom"`` (a custom estimator's
        ``predictions_fn``, whose numeric outputs are listed in ``outputs``).
    n_classes : int
        Number of classes (classification) or ``label_dimension`` (regression).
    label_vocabulary : tuple of str, optional
        Class names; ``"0"``, ``"1"``... when ``None``.
    outputs : tuple of TensorSpec
        The outputs of a ``"custom"`` head (empty otherwise).
    signature_layout : tuple, optional
        For a ``"custom"`` head whose ``model_fn`` gave TF's ``export_outputs``: its signatures, as
        ``((name, method_name, ((output name, program output key), ...)), ...)``; empty: the default
        ``serving_default``/``predict`` signatures over every output.
    heads : tuple, optional
        For a ``"multi"`` head (``MultiHead``): ``((head name, HeadSpec), ...)`` in order; its outputs are
        the heads' outputs named ``<head name>/<key>``, and its signatures TF's: ``<head name>`` (that
        head's ``serving_default``), ``<head name>/<signature>``, ``predict`` (every head's outputs) and
        ``serving_default`` (the first head's).

    Examples
    --------
    >>> HeadSpec("multiclass", 3).class_names
    ('0', '1', '2')
    """

    kind: str
    n_classes: int = 1
    label_vocabulary: tuple[str, ...] | None = None
    outputs: tuple[TensorSpec, ...] = ()
    signature_layout: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    heads: tuple[tuple[str, HeadSpec], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"HeadSpec kind must be one of {list(HEAD_KINDS)}, got {self.kind!r}")

    @classmethod
    def from_head_dict(cls, data: Mapping[str, Any]) -> HeadSpec:
        """From ``estlab.estimators.heads.Head.to_dict()``.

        Examples
        --------
        >>> HeadSpec.from_head_dict({"type": "RegressionHead", "label_dimension": 2})
        HeadSpec(kind='regression', n_classes=2, label_vocabulary=None, outputs=(), signature_layout=(), heads=())
        """
        head_type = data.get("type")
        if head_type == "MultiHead":
            return cls._multi_from_head_dict(data)
        if head_type not in _TYPE_TO_KIND:
            raise ValueError(
                f"head type {head_type!r} cannot be exported; supported: {sorted(_TYPE_TO_KIND)}. "
                "Give the estimator one of these heads or export its raw output with a 'logits' head."
            )
        kind = _TYPE_TO_KIND[head_type]
        vocab = data.get("label_vocabulary")
        vocab = tuple(str(v) for v in vocab) if vocab is not None else None
        if kind == "binary":
            return cls(kind, 2, vocab)
        if kind == "multiclass":
            return cls(kind, int(data["n_classes"]), vocab)
        return cls(kind, int(data.get("label_dimension", 1)), None)

    @classmethod
    def _multi_from_head_dict(cls, data: Mapping[str, Any]) -> HeadSpec:
        heads = []
        for sub in data["heads"]:
            kind = _SUB_HEAD_KINDS.get(str(sub.get("type")))
            if kind is None:
                raise ValueError(
                    f"MultiHead export: head {sub.get('name')!r} is a {sub.get('type')}, which a multi-head export "
                    f"cannot serve; its heads must be among {sorted(_SUB_HEAD_KINDS)}. Export a model whose "
                    "MultiHead uses only those heads, or predict with the estimator."
                )
            if kind == "multilabel":
                vocab = sub.get("label_vocabulary")
                spec = cls(
                    kind, int(sub["n_classes"]), tuple(str(v) for v in vocab) if vocab is not None else None
                )
            elif kind in _LINK_KINDS:
                spec = cls(kind, int(sub.get("label_dimension", 1)))
            else:
                spec = cls.from_head_dict(sub)
            heads.append((str(sub["name"]), spec))
        spec = cls("multi", heads=tuple(heads))
        return cls("multi", spec.logits_dimension, heads=tuple(heads))

    @property
    def logits_dimension(self) -> int:
        """Width of the logits the program's head reads."""
        if self.kind == "multi":
            return sum(sub.logits_dimension for _, sub in self.heads)
        return 1 if self.kind == "binary" else self.n_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in id order."""
        if self.label_vocabulary is not None:
            return self.label_vocabulary
        return tuple(str(i) for i in range(self.n_classes))

    @property
    def is_classifier(self) -> bool:
        """Whether the head classifies."""
        return self.kind in ("binary", "multiclass")

    def program_outputs(self) -> tuple[TensorSpec, ...]:
        """The numeric outputs the program returns, in order."""
        if self.kind == "multi":
            return tuple(
                TensorSpec(f"{name}/{spec.name}", spec.dtype, spec.shape)
                for name, sub in self.heads
                for spec in sub.program_outputs()
            )
        n = self.n_classes
        if self.kind == "binary":
            return (
                TensorSpec("logits", "float32", (-1, 1)),
                TensorSpec("logistic", "float32", (-1, 1)),
                TensorSpec("probabilities", "float32", (-1, 2)),
                TensorSpec("class_ids", "int64", (-1, 1)),
                TensorSpec("all_class_ids", "int64", (-1, 2)),
            )
        if self.kind == "multiclass":
            return (
                TensorSpec("logits", "float32", (-1, n)),
                TensorSpec("probabilities", "float32", (-1, n)),
                TensorSpec("class_ids", "int64", (-1, 1)),
                TensorSpec("all_class_ids", "int64", (-1, n)),
            )
        if self.kind == "regression":
            return (TensorSpec("predictions", "float32", (-1, n)),)
        if self.kind == "multilabel":
            return (
                TensorSpec("logits", "float32", (-1, n)),
                TensorSpec("probabilities", "float32", (-1, n)),
                TensorSpec("all_class_ids", "int64", (-1, n)),
            )
        if self.kind in _LINK_KINDS:
            return (TensorSpec("predictions", "float32", (-1, n)), TensorSpec("logits", "float32", (-1, n)))
        return self.outputs

    def lookups(self) -> tuple[Lookup, ...]:
        """String outputs made from the program's integer outputs."""
        if self.kind == "multi":
            return tuple(
                Lookup(f"{name}/{lookup.name}", f"{name}/{lookup.source}", lookup.vocabulary)
                for name, sub in self.heads
                for lookup in sub.lookups()
            )
        if self.kind == "multilabel":
            return (Lookup("all_classes", "all_class_ids", self.class_names),)
        if not self.is_classifier:
            return ()
        return (
            Lookup("classes", "class_ids", self.class_names),
            Lookup("all_classes", "all_class_ids", self.class_names),
        )

    def predict_outputs(self) -> tuple[TensorSpec, ...]:
        """All outputs of the ``predict`` signature, in TF's order."""
        if self.kind == "multi":
            return tuple(
                TensorSpec(f"{name}/{spec.name}", spec.dtype, spec.shape)
                for name, sub in self.heads
                for spec in sub.predict_outputs()
            )
        numeric = {spec.name: spec for spec in self.program_outputs()}
        if self.kind == "multilabel":
            return (*numeric.values(), TensorSpec("all_classes", "string", (-1, self.n_classes)))
        if not self.is_classifier:
            return tuple(numeric.values())
        n = self.n_classes
        order = [
            "logits",
            "logistic",
            "probabilities",
            "class_ids",
            "classes",
            "all_class_ids",
            "all_classes",
        ]
        strings = {
            "classes": TensorSpec("classes", "string", (-1, 1)),
            "all_classes": TensorSpec("all_classes", "string", (-1, n)),
        }
        return tuple(numeric.get(key) or strings[key] for key in order if key in numeric or key in strings)

    def signatures(self, inputs: tuple[TensorSpec, ...]) -> dict[str, tuple[SignatureDef, dict[str, str]]]:
        """TF's signatures for this head: name → (SignatureDef, output name → predictions key).

        ``serving_default`` and ``predict`` return every prediction key; ``classification``
        returns ``classes``/``scores`` and ``regression`` returns ``outputs`` (as TF's heads).
        """
        if self.signature_layout:
            return self._declared_signatures(inputs)
        if self.kind == "multi":
            return self._multi_signatures(inputs)
        predict = SignatureDef(PREDICT_METHOD, inputs, self.predict_outputs())
        identity = {name: name for name in predict.output_names}
        result: dict[str, tuple[SignatureDef, dict[str, str]]] = {
            "serving_default": (predict, identity),
            "predict": (predict, identity),
        }
        n = self.n_classes
        if self.is_classifier or self.kind == "multilabel":
            classify = SignatureDef(
                CLASSIFY_METHOD,
                inputs,
                (TensorSpec("classes", "string", (-1, n)), TensorSpec("scores", "float32", (-1, n))),
            )
            result["classification"] = (classify, {"classes": "all_classes", "scores": "probabilities"})
        if self.kind in ("binary", "regression", *_LINK_KINDS):
            regress = SignatureDef(
                REGRESS_METHOD,
                inputs,
                (TensorSpec("outputs", "float32", (-1, 1 if self.kind == "binary" else n)),),
            )
            result["regression"] = (
                regress,
                {"outputs": "logistic" if self.kind == "binary" else "predictions"},
            )
        return result

    def _multi_signatures(
        self, inputs: tuple[TensorSpec, ...]
    ) -> dict[str, tuple[SignatureDef, dict[str, str]]]:
        """TF's ``MultiHead`` signatures: the first head's ``serving_default``, each head's signatures under
        ``<head>`` / ``<head>/<signature>``, and ``predict`` over every head's outputs (``<head>/<key>``)."""
        result: dict[str, tuple[SignatureDef, dict[str, str]]] = {}
        for i, (name, sub) in enumerate(self.heads):
            for signature_name, (signature, keys) in sub.signatures(inputs).items():
                mapping = {output: f"{name}/{key}" for output, key in keys.items()}
                if signature_name == "serving_default":
                    if i == 0:
                        result["serving_default"] = (signature, mapping)
                    result[name] = (signature, mapping)
                else:
                    result[f"{name}/{signature_name}"] = (signature, mapping)
        predict = SignatureDef(PREDICT_METHOD, inputs, self.predict_outputs())
        result["predict"] = (predict, {output: output for output in predict.output_names})
        return result

    def _declared_signatures(
        self, inputs: tuple[TensorSpec, ...]
    ) -> dict[str, tuple[SignatureDef, dict[str, str]]]:
        """The signatures of ``signature_layout``, each output typed as the program output it reads."""
        specs = {spec.name: spec for spec in self.program_outputs()}
        result: dict[str, tuple[SignatureDef, dict[str, str]]] = {}
        for name, method, pairs in self.signature_layout:
            outputs = tuple(TensorSpec(out, specs[key].dtype, specs[key].shape) for out, key in pairs)
            result[name] = (SignatureDef(method, inputs, outputs), dict(pairs))
        return result

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        vocab = list(self.label_vocabulary) if self.label_vocabulary is not None else None
        data: dict[str, Any] = {
            "kind": self.kind,
            "n_classes": self.n_classes,
            "label_vocabulary": vocab,
            "outputs": [spec.to_dict() for spec in self.outputs],
        }
        if self.heads:
            data["heads"] = [{"name": name, **sub.to_dict()} for name, sub in self.heads]
        if self.signature_layout:
            data["signature_layout"] = [
                {"name": name, "method_name": method, "output_keys": dict(pairs)}
                for name, method, pairs in self.signature_layout
            ]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeadSpec:
        """Inverse of :meth:`to_dict`."""
        vocab = data.get("label_vocabulary")
        outputs = tuple(TensorSpec.from_dict(d) for d in data.get("outputs", ()))
        layout = tuple(
            (
                str(d["name"]),
                str(d["method_name"]),
                tuple((str(k), str(v)) for k, v in d["output_keys"].items()),
            )
            for d in data.get("signature_layout", ())
        )
        heads = tuple((str(d["name"]), cls.from_dict(d)) for d in data.get("heads", ()))
        return cls(
            data["kind"],
            int(data["n_classes"]),
            tuple(vocab) if vocab is not None else None,
            outputs,
            layout,
            heads,
        )


class HeadOutputs(nn.Module):
    """Logits → the head's numeric predictions (part of the exported program).

    Examples
    --------
    >>> import torch
    >>> HeadOutputs(HeadSpec("regression", 1))(torch.tensor([[1.5]]))["predictions"].tolist()
    [[1.5]]
    """

    def __init__(self, spec: HeadSpec) -> None:
        super().__init__()
        self.kind = spec.kind
        self.n_classes = spec.n_classes
        # a MultiHead's heads: each reads its slice of the logits, its outputs are named ``<head>/<key>``
        self.names = [name for name, _ in spec.heads]
        self.sizes = [sub.logits_dimension for _, sub in spec.heads]
        self.parts = nn.ModuleList([HeadOutputs(sub) for _, sub in spec.heads])

    def forward(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """Numeric predictions, keyed as ``HeadSpec.program_outputs``."""
        if self.kind == "binary":
            logits = logits.reshape(-1, 1)
            logistic = torch.sigmoid(logits)
            return {
                "logits": logits,
                "logistic": logistic,
                "probabilities": torch.cat([1 - logistic, logistic], dim=1),
                "class_ids": (logits > 0).to(torch.int64),
                "all_class_ids": _all_ids(logits, 2),
            }
        if self.kind == "multiclass":
            return {
                "logits": logits,
                "probabilities": torch.softmax(logits, dim=1),
                "class_ids": logits.argmax(dim=1, keepdim=True),
                "all_class_ids": _all_ids(logits, self.n_classes),
            }
        if self.kind == "regression":
            return {"predictions": logits.reshape(-1, self.n_classes)}
        if self.kind == "multilabel":
            return {
                "logits": logits,
                "probabilities": torch.sigmoid(logits),
                "all_class_ids": _all_ids(logits, self.n_classes),
            }
        if self.kind == "poisson_regression":
            return {"predictions": torch.exp(logits), "logits": logits}
        if self.kind == "logistic_regression":
            return {"predictions": torch.sigmoid(logits), "logits": logits}
        if self.kind == "multi":
            out = {}
            for name, part, piece in zip(
                self.names, self.parts, torch.split(logits, self.sizes, dim=1), strict=True
            ):
                out.update({f"{name}/{key}": value for key, value in part(piece).items()})
            return out
        raise ValueError("HeadOutputs: a 'custom' head computes its outputs with its own predictions_fn")


def _all_ids(logits: torch.Tensor, n_classes: int) -> torch.Tensor:
    row = torch.arange(n_classes, dtype=torch.int64, device=logits.device)
    return torch.zeros_like(logits[:, :1], dtype=torch.int64) + row
