"""``class_weight`` of the premade classifiers: one weight per class, multiplying each example's training loss.

The one place of the logic: :func:`resolve_class_weights` turns the constructor argument (``"balanced"`` or a
dict keyed by class label) into a weight per class id, from the training input of each ``train`` call, and
:func:`apply_class_weights` multiplies it into the example weights. ``Estimator.train`` trains through a
:class:`ClassWeightedHead` (the model's head, whose training ``loss`` applies them; everything else is the
head's own) and hands full-batch learners (baseline, boosted trees) the weighted example weights. With
``weight_column`` the two multiply: ``weight = weight_column value * class_weight[label]``.

Class weights shape training only (as in Keras and scikit-learn): evaluation metrics and their loss weigh
examples by ``weight_column`` alone.

Examples
--------
>>> import torch
>>> from estlab.estimators.heads import make_head
>>> head = make_head(2)
>>> w = resolve_class_weights({1: 3.0}, head, torch.tensor([0, 1, 1]))
>>> w.tolist()
[1.0, 3.0]
>>> apply_class_weights(w, torch.tensor([0, 1, 1]), torch.tensor([2.0, 1.0, 0.5])).tolist()
[2.0, 3.0, 1.5]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["ClassWeightedHead", "apply_class_weights", "resolve_class_weights", "validate_class_weight"]


def _classes(head: Any) -> list[Any]:
    """The class labels a ``class_weight`` dict may name: the vocabulary's strings, else the ids ``0..K-1``."""
    vocabulary = getattr(head, "label_vocabulary", None)
    n = int(getattr(head, "n_classes", 2) or 2)
    return list(vocabulary) if vocabulary else list(range(n))


def validate_class_weight(class_weight: Any, head: Any) -> None:
    """Check ``class_weight`` against the head; a ValueError names what was received and what is accepted.

    Examples
    --------
    >>> from estlab.estimators.heads import make_head
    >>> validate_class_weight({"cat": 2.0}, make_head(2, ["cat", "dog"]))
    >>> validate_class_weight({2: 1.0}, make_head(2))
    Traceback (most recent call last):
    ...
    ValueError: class_weight names class 2, which is not a class of this classifier; its classes are [0, 1]
    """
    if class_weight is None:
        return
    if getattr(head, "task", None) not in ("binary", "multiclass"):
        raise ValueError(f"class_weight is for single-label classifiers; this head is {type(head).__name__} "
                         "(use weight_column for per-example weights)")
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class label: weight}}; "
                             f"received {class_weight!r}")
        return
    if not isinstance(class_weight, Mapping):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class label: weight}}; received "
                         f"{type(class_weight).__name__}: {class_weight!r}")
    classes = _classes(head)
    for key, value in class_weight.items():
        if key not in classes:
            raise ValueError(f"class_weight names class {key!r}, which is not a class of this classifier; "
                             f"its classes are {classes}")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
                math.isfinite(value) and value >= 0):
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0; received {value!r}")


def resolve_class_weights(class_weight: Any, head: Any, class_ids: torch.Tensor | None) -> torch.Tensor | None:
    """A float32 weight per class id (``(K,)``), or None without ``class_weight``.

    ``"balanced"`` gives class ``c`` the weight ``n / (K * n_c)`` over the training labels ``class_ids`` (the
    rows' counts, not their ``weight_column``), as scikit-learn; a dict gives its classes their weight and the
    others 1.

    Examples
    --------
    >>> import torch
    >>> from estlab.estimators.heads import make_head
    >>> resolve_class_weights("balanced", make_head(2), torch.tensor([0, 0, 0, 1])).tolist()
    [0.6666666865348816, 2.0]
    """
    if class_weight is None:
        return None
    validate_class_weight(class_weight, head)
    classes = _classes(head)
    if class_weight == "balanced":
        if class_ids is None:
            raise ValueError("class_weight='balanced' needs the training labels in memory (a DataFrame, dict or "
                             "in-memory input_fn); with streamed input pass a dict {class label: weight}")
        counts = np.bincount(class_ids.reshape(-1).cpu().numpy().astype(np.int64), minlength=len(classes))
        empty = [classes[i] for i in np.flatnonzero(counts == 0)]
        if empty:
            raise ValueError(f"class_weight='balanced': class(es) {empty} have no rows in the training input; "
                             "pass a dict {class label: weight} instead")
        values = counts.sum() / (len(classes) * counts.astype(np.float64))
    else:
        values = np.array([float(class_weight.get(c, 1.0)) for c in classes], dtype=np.float64)
    return torch.as_tensor(values, dtype=torch.float32)


def apply_class_weights(class_weights: torch.Tensor | None, labels: torch.Tensor,
                        weights: torch.Tensor | None) -> torch.Tensor | None:
    """Example weights times each example's class weight (``weights`` itself when ``class_weights`` is None).

    ``labels`` are class ids, ``(N,)`` or ``(N, 1)``; ``weights`` ``(N,)`` or None (ones).

    Examples
    --------
    >>> import torch
    >>> apply_class_weights(torch.tensor([1.0, 4.0]), torch.tensor([[1], [0]]), None).tolist()
    [4.0, 1.0]
    """
    if class_weights is None:
        return weights
    per_row = class_weights.to(labels.device)[labels.reshape(-1).long()]
    return per_row if weights is None else weights.reshape(-1) * per_row.to(weights.dtype)


class ClassWeightedHead:
    """A head whose training ``loss`` multiplies the example weights by the class weights; all else is ``head``'s.

    ``Estimator.train`` puts it in the model for the training loop only; evaluation, prediction, checkpoints
    and export see the head itself.

    Examples
    --------
    >>> import torch
    >>> from estlab.estimators.heads import make_head
    >>> head = ClassWeightedHead(make_head(2, loss_reduction="sum"), torch.tensor([1.0, 0.0]))
    >>> float(head.loss(torch.zeros(2, 1), torch.tensor([[0.0], [1.0]])))  # log(2) for class 0, 0 for class 1
    0.6931471824645996
    >>> head.task
    'binary'
    """

    def __init__(self, head: Any, class_weights: torch.Tensor) -> None:
        self.head = head
        self.class_weights = class_weights

    def __getattr__(self, name: str) -> Any:
        if name == "head":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.head, name)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """The head's loss with each example's weight multiplied by its class weight."""
        return self.head.loss(logits, labels, apply_class_weights(self.class_weights, labels, weights))
