"""TF's ``tf.estimator.MultiHead``: several named heads trained together on one model (multi-task learning).

The model produces ``logits_dimension = sum(head.logits_dimension)`` logits per example; they are split in
head order (or given as a dict keyed by head name) and each head computes its own loss, predictions and
metrics on its slice, as TF's ``MultiHead``:

* loss: ``sum(head_weights[i] * heads[i].loss)`` (all weights 1 by default);
* predictions: each head's, keyed by ``(head.name, key)`` tuples (``("head1", "probabilities")``);
* evaluation metrics: each head's, keyed ``<metric>/<head name>`` (``accuracy/head1``, ``loss/head1``), plus
  ``loss``, the weighted sum of the heads' losses;
* labels: one label per head, keyed by head name: a DataFrame input takes ``label=["head1", "head2"]`` (a label
  column named after each head), a dict of arrays or a TF ``input_fn`` a dict ``{head name: labels}``.

The encoded labels travel as one float64 tensor ``(N, sum(head.label_width))`` (exact for class ids and float32
labels), so batching, shuffling and distributed gathering treat them as any head's labels.

Examples
--------
>>> import torch
>>> from estlab.estimators.heads import BinaryClassHead, RegressionHead
>>> head = MultiHead([BinaryClassHead(name="click"), RegressionHead(name="dwell")], head_weights=[1.0, 0.5])
>>> head.logits_dimension
2
>>> labels = head.encode_labels({"click": [1, 0], "dwell": [2.0, 0.0]})
>>> round(float(head.loss(torch.zeros(2, 2), labels)), 4)  # log(2) + 0.5 * (4 + 0) / 2
1.6931
>>> sorted(head.predictions(torch.zeros(1, 2)))[:2]
[('click', 'all_class_ids'), ('click', 'all_classes')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from estlab.estimators.heads import Head, RawLabels, encode_named_labels, head_from_dict
from estlab.training.metric_info import HeadMetrics

#: Logits as a model_fn may give them: one ``(N, logits_dimension)`` tensor, or a dict keyed by head name.
Logits = torch.Tensor | Mapping[str, torch.Tensor]


def _check_heads(heads: Any) -> tuple[Head, ...]:
    if isinstance(heads, Head) or not isinstance(heads, Sequence) or not heads:
        raise ValueError(f"MultiHead: heads must be a non-empty list of heads; received {heads!r}.")
    for i, head in enumerate(heads):
        if not isinstance(head, Head) or isinstance(head, MultiHead):
            raise ValueError(
                f"MultiHead: heads[{i}] must be an estlab head (BinaryClassHead(name='a'), "
                f"RegressionHead(name='b'), ...), not a MultiHead; received {head!r}."
            )
        if head.name is None:
            raise ValueError(
                f"MultiHead: all given heads must have name specified; heads[{i}] "
                f"({type(head).__name__}) has none. Pass name='...' to each head."
            )
    names = [head.name for head in heads]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"MultiHead: head names must be unique; {duplicates} name several heads ({names}).")
    return tuple(heads)


def _check_weights(head_weights: Any, n_heads: int) -> tuple[float, ...] | None:
    if head_weights is None or (isinstance(head_weights, Sequence) and len(head_weights) == 0):
        return None
    if isinstance(head_weights, str) or not isinstance(head_weights, Sequence):
        raise ValueError(f"MultiHead: head_weights must be a list of numbers; received {head_weights!r}.")
    if len(head_weights) != n_heads:
        raise ValueError(
            f"MultiHead: heads and head_weights must have the same size; received {n_heads} heads "
            f"and {len(head_weights)} head_weights ({list(head_weights)})."
        )
    weights = []
    for w in head_weights:
        if (
            isinstance(w, bool)
            or not isinstance(w, (int, float, np.integer, np.floating))
            or not np.isfinite(w)
        ):
            raise ValueError(
                f"MultiHead: head_weights must be finite numbers; received {list(head_weights)}."
            )
        weights.append(float(w))
    return tuple(weights)


def _shared(heads: tuple[Head, ...], attribute: str, what: str) -> Any:
    values = [getattr(head, attribute) for head in heads]
    if any(v != values[0] for v in values[1:]):
        listed = ", ".join(f"{head.name}: {v!r}" for head, v in zip(heads, values, strict=True))
        raise ValueError(
            f"MultiHead: the {attribute} must be the same for all heads ({what}); received {listed}."
        )
    return values[0]


@dataclass(frozen=True, init=False)
class MultiHead(Head):
    """Several named heads over one model's logits (TF's ``tf.estimator.MultiHead``).

    Parameters
    ----------
    heads : list of Head
        The heads, each with a unique ``name``; the first is the default one at serving time.
    head_weights : list of float, optional
        Each head's weight in the training loss (all 1 when None).

    Examples
    --------
    >>> from estlab.estimators.heads import MultiClassHead, MultiLabelHead
    >>> head = MultiHead([MultiClassHead(3, name="topic"), MultiLabelHead(2, name="tags")])
    >>> head.logits_dimension, head.name
    (5, 'topic_tags')
    """

    heads: tuple[Head, ...] = ()
    head_weights: tuple[float, ...] | None = None

    task: ClassVar[str] = "multi_head"
    metric_info: ClassVar[HeadMetrics | None] = None

    def __init__(self, heads: Sequence[Head], head_weights: Sequence[float] | None = None) -> None:
        checked = _check_heads(heads)
        object.__setattr__(self, "heads", checked)
        object.__setattr__(self, "head_weights", _check_weights(head_weights, len(checked)))
        # one weight column and one loss reduction serve every head (estlab reads one weight per example)
        object.__setattr__(
            self,
            "weight_column",
            _shared(checked, "weight_column", "estlab reads one example weight per row"),
        )
        object.__setattr__(self, "loss_reduction", _shared(checked, "loss_reduction", "as TF requires"))
        object.__setattr__(self, "name", "_".join(str(head.name) for head in checked))

    def __post_init__(self) -> None:  # the constructor checks everything
        pass

    # ------------------------------------------------------------------ layout
    @property
    def head_names(self) -> tuple[str, ...]:
        """The heads' names, in order.

        Examples
        --------
        >>> from estlab.estimators.heads import RegressionHead
        >>> MultiHead([RegressionHead(name="a"), RegressionHead(name="b")]).head_names
        ('a', 'b')
        """
        return tuple(str(head.name) for head in self.heads)

    @property
    def logits_dimension(self) -> int:
        """The sum of the heads' ``logits_dimension``."""
        return sum(head.logits_dimension for head in self.heads)

    @property
    def label_width(self) -> int:  # noqa: D102 - see Head
        return sum(head.label_width for head in self.heads)

    @property
    def weights(self) -> tuple[float, ...]:
        """Each head's loss weight (``head_weights``, or ones)."""
        return self.head_weights if self.head_weights is not None else (1.0,) * len(self.heads)

    def split_logits(self, logits: Logits) -> dict[str, torch.Tensor]:
        """Each head's logits: columns of ``logits`` in head order, or the dict's entries (TF's dict of logits).

        Examples
        --------
        >>> from estlab.estimators.heads import MultiClassHead, RegressionHead
        >>> head = MultiHead([RegressionHead(name="a"), MultiClassHead(3, name="b")])
        >>> {k: v.shape[1] for k, v in head.split_logits(torch.zeros(4, 4)).items()}
        {'a': 1, 'b': 3}
        """
        if isinstance(logits, Mapping):
            missing = [name for name in self.head_names if name not in logits]
            if missing:
                raise ValueError(
                    f"MultiHead: logits has missing values for head(s) {missing}; the dict of logits "
                    f"must hold one entry per head {list(self.head_names)}."
                )
            out = {}
            for head in self.heads:
                value = torch.as_tensor(logits[str(head.name)])
                out[str(head.name)] = value.reshape(len(value), -1) if value.dim() != 2 else value
            return out
        sizes = [head.logits_dimension for head in self.heads]
        if logits.dim() != 2 or logits.shape[1] != sum(sizes):
            raise ValueError(
                f"MultiHead: could not split logits of shape {tuple(logits.shape)} among the heads "
                f"{list(self.head_names)} with logits dimensions {sizes}; the model must produce "
                f"(N, {sum(sizes)}) logits."
            )
        return dict(zip(self.head_names, torch.split(logits, sizes, dim=1), strict=True))

    def split_labels(self, labels: torch.Tensor | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each head's encoded labels from :meth:`encode_labels`' packed tensor (or a dict keyed by head name)."""
        if isinstance(labels, Mapping):
            missing = [name for name in self.head_names if name not in labels]
            if missing:
                raise ValueError(f"MultiHead: labels has missing values for head(s) {missing}.")
            return {name: labels[name] for name in self.head_names}
        packed = labels.reshape(len(labels), -1)
        widths = [head.label_width for head in self.heads]
        if packed.shape[1] != sum(widths):
            raise ValueError(
                f"MultiHead: encoded labels have {packed.shape[1]} column(s) but the heads "
                f"{list(self.head_names)} take {widths}; encode them with MultiHead.encode_labels."
            )
        parts = torch.split(packed, widths, dim=1)
        out = {}
        for head, part in zip(self.heads, parts, strict=True):
            value = part.to(head.label_dtype)
            out[str(head.name)] = value.reshape(-1) if head.label_dtype == torch.int64 else value
        return out

    # ------------------------------------------------------------------ labels and loss
    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """One label per head, keyed by head name → float64 ``(N, label_width)``, each head's encoding side by side.

        ``labels`` is a DataFrame with a column per head (``label=["head1", "head2"]``) or a dict
        ``{head name: labels}``; an error names the head's label column.

        Examples
        --------
        >>> from estlab.estimators.heads import MultiClassHead, RegressionHead
        >>> head = MultiHead([MultiClassHead(3, name="a"), RegressionHead(name="b")])
        >>> head.encode_labels(pd.DataFrame({"a": [2, 0], "b": [0.5, 1.5]})).tolist()
        [[2.0, 0.5], [0.0, 1.5]]
        """
        by_name = self._labels_by_name(labels)
        parts = []
        for head in self.heads:
            name = str(head.name)
            encoded = encode_named_labels(head, by_name[name], name)
            parts.append(encoded.reshape(len(encoded), -1).to(torch.float64))
        rows = {name: len(p) for name, p in zip(self.head_names, parts, strict=True)}
        if len(set(rows.values())) > 1:
            raise ValueError(
                f"MultiHead: the heads' labels have different numbers of rows {rows}; give every "
                "head one label per example."
            )
        return torch.cat(parts, dim=1)

    def _labels_by_name(self, labels: Any) -> dict[str, Any]:
        if isinstance(labels, pd.DataFrame):
            available = [str(c) for c in labels.columns]
            source: Mapping[str, Any] = {str(c): labels[c] for c in labels.columns}
        elif isinstance(labels, Mapping):
            available = [str(k) for k in labels]
            source = {str(k): v for k, v in labels.items()}
        else:
            what = type(labels).__name__
            raise ValueError(
                f"MultiHead: labels must be keyed by head name (one label per head {list(self.head_names)}); "
                f"received a {what}. Pass label={list(self.head_names)} with a DataFrame holding a column "
                "named after each head, or labels as a dict {head name: labels}."
            )
        missing = [name for name in self.head_names if name not in source]
        if missing:
            raise ValueError(
                f"MultiHead: labels has missing values for head(s) {missing}; received label columns {available}. "
                f"Name a label column after each head and pass label={list(self.head_names)}."
            )
        return {name: source[name] for name in self.head_names}

    def head_losses(
        self, logits: Logits, labels: Any, weights: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Each head's own training loss (unweighted by ``head_weights``), keyed by head name."""
        split, split_labels = self.split_logits(logits), self.split_labels(labels)
        return {
            name: head.loss(split[name], split_labels[name], weights)
            for name, head in zip(self.head_names, self.heads, strict=True)
        }

    def loss(self, logits: Logits, labels: Any, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``sum(head_weights[i] * heads[i].loss(...))`` (TF's merged training loss).

        Examples
        --------
        >>> from estlab.estimators.heads import RegressionHead
        >>> head = MultiHead([RegressionHead(name="a"), RegressionHead(name="b")], head_weights=[1, 3])
        >>> float(head.loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])))  # 1 + 3 * 4
        13.0
        """
        losses = self.head_losses(logits, labels, weights)
        total: torch.Tensor | None = None
        for w, value in zip(self.weights, losses.values(), strict=True):
            term = value if w == 1.0 else value * w
            total = term if total is None else total + term
        assert total is not None  # at least one head
        return total

    def unreduced_loss(self, logits: Logits, labels: Any) -> torch.Tensor:
        """Per-example ``sum(head_weights[i] * heads[i].unreduced_loss)`` ``(N,)``."""
        split, split_labels = self.split_logits(logits), self.split_labels(labels)
        terms = [
            w * head.unreduced_loss(split[name], split_labels[name])
            for w, name, head in zip(self.weights, self.head_names, self.heads, strict=True)
        ]
        return torch.stack(terms).sum(dim=0)

    # ------------------------------------------------------------------ predictions and metrics
    def predictions(self, logits: Logits) -> dict[tuple[str, str], torch.Tensor | np.ndarray]:  # type: ignore[override]
        """Every head's predictions, keyed by ``(head name, prediction key)`` as TF's ``MultiHead``."""
        split = self.split_logits(logits)
        return {
            (name, key): value
            for name, head in zip(self.head_names, self.heads, strict=True)
            for key, value in head.predictions(split[name]).items()
        }

    def coded_predictions(self) -> dict[Any, tuple[Any, np.ndarray]]:
        """Each head's coded string predictions under ``(head name, key)`` (see :meth:`Head.coded_predictions`)."""
        return {
            (name, key): ((name, ids), names)
            for name, head in zip(self.head_names, self.heads, strict=True)
            for key, (ids, names) in head.coded_predictions().items()
        }

    def metrics(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
        loss_sum: float | None = None,
        weight_sum: float | None = None,
        num_batches: int | None = None,
    ) -> dict[str, float]:
        """Each head's metrics keyed ``<metric>/<head name>``, plus ``loss``: the weighted sum of the heads' ``loss``.

        ``loss_sum`` and ``weight_sum`` are a single head's accumulators and are not used (each head computes
        its own from its logits).

        Examples
        --------
        >>> from estlab.estimators.heads import RegressionHead
        >>> head = MultiHead([RegressionHead(name="a"), RegressionHead(name="b")], head_weights=[1, 3])
        >>> m = head.metrics(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
        >>> m["loss/a"], m["loss/b"], m["loss"]
        (1.0, 4.0, 13.0)
        """
        del loss_sum, weight_sum
        split, split_labels = self.split_logits(logits), self.split_labels(labels)
        out: dict[str, float] = {}
        total = 0.0
        for w, name, head in zip(self.weights, self.head_names, self.heads, strict=True):
            result = head.unnamed_metrics(split[name], split_labels[name], weights, num_batches=num_batches)
            out.update({f"{key}/{name}": float(value) for key, value in result.items()})
            total += w * float(result["loss"])
        out["loss"] = total
        return out

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102 - metrics() is whole
        raise NotImplementedError("MultiHead computes its metrics head by head (MultiHead.metrics)")

    # ------------------------------------------------------------------ description
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description: the heads' own descriptions and the weights.

        Examples
        --------
        >>> from estlab.estimators.heads import RegressionHead
        >>> d = MultiHead([RegressionHead(name="a")], head_weights=[2.0]).to_dict()
        >>> d["type"], d["heads"][0]["name"], d["head_weights"]
        ('MultiHead', 'a', [2.0])
        """
        return {
            "type": "MultiHead",
            "heads": [head.to_dict() for head in self.heads],
            "head_weights": list(self.head_weights) if self.head_weights is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiHead:
        """Inverse of :meth:`to_dict`.

        Examples
        --------
        >>> from estlab.estimators.heads import RegressionHead
        >>> head = MultiHead([RegressionHead(name="a"), RegressionHead(name="b")])
        >>> MultiHead.from_dict(head.to_dict()) == head
        True
        """
        return cls([head_from_dict(d) for d in data["heads"]], data.get("head_weights"))


__all__ = ["MultiHead"]
