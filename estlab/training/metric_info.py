"""Which way each evaluation metric improves, and which metrics to show first: declared once, per head.

Torch-free: early stopping, exporters, the leaderboard and the charts read these declarations instead of
guessing from metric names. Each head in :mod:`estlab.estimators.heads` refers to its entry of
:data:`HEAD_METRICS` (keyed by the head's ``task``).

A metric unknown to every head counts as loss-like (lower is better): for a stop rule or a "best" export
that is the safe reading. :data:`OTHER_METRICS` declares the few non-head metrics the UI shows.

Examples
--------
>>> higher_is_better("auc"), higher_is_better("Δ average_loss"), higher_is_better("eval_test/accuracy")
(True, False, True)
>>> preferred_metrics("regression")
('rmse', 'mae', 'average_loss')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from estlab._util import did_you_mean


@dataclass(frozen=True)
class HeadMetrics:
    """The evaluation metrics of one head: direction per metric key, and the ones to show first.

    Parameters
    ----------
    directions : mapping of str to bool
        Metric key as the head reports it → ``True`` when higher is better. A per-class family is
        declared once by its base name (``"recall"`` covers ``"recall/class_<k>"``).
    preferred : tuple of str
        Metrics a leaderboard, an early-stopping rule or an exporter shows first, in order.

    Examples
    --------
    >>> HEAD_METRICS["multiclass"].preferred
    ('accuracy', 'average_loss')
    """

    directions: Mapping[str, bool]
    preferred: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "directions", MappingProxyType(dict(self.directions)))
        unknown = [m for m in self.preferred if m not in self.directions]
        if unknown:
            raise ValueError(f"HeadMetrics: {unknown} have no declared direction; add them to directions")


#: Metrics reported by every head (the loss and the label/prediction means are not scores).
_COMMON = {"loss": False, "average_loss": False, "label/mean": False, "prediction/mean": False}

#: One declaration per head task (``Head.task``): what its metrics are and which way they improve.
HEAD_METRICS: Mapping[str, HeadMetrics] = MappingProxyType({
    "binary": HeadMetrics(
        directions={**_COMMON, "accuracy": True, "accuracy_baseline": True, "auc": True,
                    "auc_precision_recall": True, "precision": True, "recall": True},
        preferred=("accuracy", "auc", "average_loss"),
    ),
    "multiclass": HeadMetrics(
        directions={"loss": False, "average_loss": False, "accuracy": True, "recall": True},
        preferred=("accuracy", "average_loss"),
    ),
    "regression": HeadMetrics(
        directions={**_COMMON, "rmse": False, "mae": False},
        preferred=("rmse", "mae", "average_loss"),
    ),
    # ``accuracy``/``precision``/``recall`` cover ``<metric>/positive_threshold_<t>``
    "multilabel": HeadMetrics(
        directions={"loss": False, "average_loss": False, "auc": True, "auc_precision_recall": True,
                    "accuracy": True, "precision": True, "recall": True},
        preferred=("auc", "average_loss"),
    ),
    "poisson_regression": HeadMetrics(
        directions={**_COMMON, "rmse": False, "mae": False},
        preferred=("average_loss", "rmse", "mae"),
    ),
    "logistic_regression": HeadMetrics(
        directions={**_COMMON, "rmse": False, "mae": False},
        preferred=("average_loss", "rmse", "mae"),
    ),
})

#: Metrics no head reports that tables and charts show (sklearn-style names, throughput).
OTHER_METRICS: Mapping[str, bool] = MappingProxyType({
    "r2": True,
    "mean_absolute_error": False,
    "mean_squared_error": False,
    "examples_per_sec": True,
})

#: Task filters accepted by :func:`preferred_metrics` → the head tasks they cover, in display order.
TASK_HEADS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "binary": ("binary",),
    "multiclass": ("multiclass",),
    "regression": ("regression",),
    "classification": ("binary", "multiclass"),
    "multilabel": ("multilabel",),
    "poisson_regression": ("poisson_regression",),
    "logistic_regression": ("logistic_regression",),
})


def _directions() -> dict[str, bool]:
    table = dict(OTHER_METRICS)
    for head in HEAD_METRICS.values():
        for metric, higher in head.directions.items():
            if table.setdefault(metric, higher) != higher:
                raise ValueError(f"metric {metric!r} is declared with both directions")
    return table


#: Every known metric key → higher is better (all heads merged with :data:`OTHER_METRICS`).
DIRECTIONS: Mapping[str, bool] = MappingProxyType(_directions())
_PER_CLASS = re.compile(r"^(?P<base>.+)/(class|positive_threshold)_[^/]+$")


def metric_key(label: str) -> str:
    """The metric key inside a column label or a prefixed name (``"Δ auc"`` → ``"auc"``).

    The label's last space-separated word is read; a per-class key keeps its base name
    (``"recall/class_2"`` → ``"recall"``); an unknown ``prefix/`` is dropped (``"eval_x/accuracy"``).

    Examples
    --------
    >>> metric_key("Δ label/mean"), metric_key("eval_x/recall/class_0"), metric_key("mystery")
    ('label/mean', 'recall', 'mystery')
    """
    key = str(label).strip().split(" ")[-1]
    while key not in DIRECTIONS:
        match = _PER_CLASS.match(key)
        if match and match.group("base") in DIRECTIONS:
            return match.group("base")
        if "/" not in key:
            break
        if (base := metric_key(key.rsplit("/", 1)[0])) in DIRECTIONS:  # a MultiHead's "<metric>/<head name>"
            return base
        key = key.split("/", 1)[1]
    return key


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better; ``False`` for losses, errors and unknown metrics.

    Accepts metric keys as heads report them (``"auc"``, ``"label/mean"``, ``"recall/class_1"``),
    leaderboard labels (``"Δ average_loss"``) and prefixed names (``"eval_test/accuracy"``).

    Examples
    --------
    >>> higher_is_better("accuracy"), higher_is_better("rmse"), higher_is_better("recall/class_3")
    (True, False, True)
    >>> higher_is_better("steps")  # unknown: loss-like
    False
    """
    return DIRECTIONS.get(metric_key(metric), False)


def preferred_metrics(task: str) -> tuple[str, ...]:
    """The metrics to show first for ``task`` (``"binary"``, ``"multiclass"``, ``"regression"``,
    ``"classification"``), in order.

    Examples
    --------
    >>> preferred_metrics("binary")
    ('accuracy', 'auc', 'average_loss')
    >>> preferred_metrics("classification")
    ('accuracy', 'auc', 'average_loss')
    """
    if task not in TASK_HEADS:
        raise ValueError(f"task={task!r} is not known; use one of {sorted(TASK_HEADS)}."
                         + did_you_mean(task, TASK_HEADS))
    ordered: dict[str, None] = {}
    for head in TASK_HEADS[task]:
        ordered.update(dict.fromkeys(HEAD_METRICS[head].preferred))
    return tuple(ordered)


__all__ = [
    "DIRECTIONS",
    "HEAD_METRICS",
    "OTHER_METRICS",
    "TASK_HEADS",
    "HeadMetrics",
    "higher_is_better",
    "metric_key",
    "preferred_metrics",
]
