"""Evaluation metrics with TensorFlow's keys, computed over the whole evaluation input.

Pure numpy + scikit-learn functions; the heads (``estlab.estimators.heads``) call them with
concatenated logits turned into probabilities/predictions. Every value is a plain ``float``.

Conventions (documented differences from TF):

* ``auc`` is the exact weighted ROC AUC (numpy; equal to ``sklearn.metrics.roc_auc_score``), not TF's
  200-threshold approximation; ``auc_precision_recall`` is sklearn's ``average_precision_score``.
  Both are ``nan`` when the labels hold a single class.
* ``precision``/``recall``/``accuracy`` use the 0.5 probability threshold, as TF's binary head.
* ``average_loss`` is the weighted mean of per-example losses: ``sum(w * l) / sum(w)``.

Examples
--------
>>> import numpy as np
>>> m = binary_metrics(np.array([0.2, 0.8]), np.array([0, 1]), np.ones(2), loss_total=0.5, weight_total=2.0,
...                    loss=0.25)
>>> m["accuracy"], m["label/mean"]
(1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _weighted_mean(values: np.ndarray, weights: np.ndarray, unit: bool = False) -> float:
    """``sum(values * weights) / sum(weights)``; ``unit`` says every weight is 1.0 (the same value, no products)."""
    if unit and values.dtype == np.float64:  # x * 1.0 == x, a sum of ones is exact: the same float, fewer temporaries
        return float(np.sum(values) / float(values.size)) if values.size else float("nan")
    total = float(np.sum(weights))
    if total <= 0.0:
        return float("nan")
    return float(np.sum(values * weights) / total)


def _unit(weights: np.ndarray) -> bool:
    """Whether every weight is exactly 1.0 (unweighted examples)."""
    return bool(weights.size) and bool(np.all(weights == 1.0))



# Exact weighted ROC AUC, average precision, precision and recall in numpy: the same numbers as
# sklearn.metrics (roc_auc_score, average_precision_score, precision_score/recall_score with
# zero_division=0), pinned by tests/estimators/test_metrics.py; scikit-learn is not a core dependency.
def _binary_curve(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted true and false positives at each distinct score, highest score first (sklearn's ``_binary_clf_curve``).

    Only each run of equal scores' total enters the curve, so the order inside a run does not matter when the
    weights are integers (every partial sum is exact): then numpy's fast (vectorised, unstable) sort is used;
    fractional weights keep the stable sort, so their sums are added in the same order as before.
    """
    if labels.dtype == np.bool_ and _unit(weights) and _sortable_probabilities(scores):
        return _unit_curve(labels, scores)
    exact_sums = bool(np.all(weights == np.round(weights))) and float(np.abs(weights).sum()) < 2.0**53
    order = np.argsort(scores, kind=None if exact_sums else "mergesort")[::-1]
    scores, labels, weights = scores[order], labels[order], weights[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), labels.size - 1]
    tps = np.cumsum(labels * weights)[last]
    fps = np.cumsum((1.0 - labels) * weights)[last]
    return tps, fps


def _sortable_probabilities(scores: np.ndarray) -> bool:
    """Finite scores >= 0 (probabilities): their float64 bit patterns, read as integers, sort as the numbers do."""
    if scores.dtype != np.float64 or scores.ndim != 1 or not scores.size:
        return False
    low, high = scores.min(), scores.max()  # NaN makes both comparisons False
    return bool(low >= 0.0 and high < np.inf)


def _unit_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_binary_curve` of unweighted examples with :func:`_sortable_probabilities` scores, by one sort.

    Each example becomes one unsigned key, the score's bit pattern (``-0.0`` folded into ``0.0``) shifted left
    with the label in the lowest bit, so sorting the keys orders the scores as the float sort does and carries
    the labels along (no argsort, no gathers). Counts are integers, exact in any order: the same values as
    ``cumsum(labels * 1.0)`` and ``cumsum((1 - labels) * 1.0)``.
    """
    one = np.uint64(1)
    keys = (scores + 0.0).view(np.uint64) << one
    np.bitwise_or(keys, labels, out=keys)
    np.invert(keys, out=keys)
    keys.sort()
    np.invert(keys, out=keys)  # highest first, contiguous
    sorted_bits = keys >> one
    last = np.r_[np.flatnonzero(sorted_bits[1:] != sorted_bits[:-1]), keys.size - 1]
    tps = np.cumsum((keys & one).view(np.int64))[last].astype(np.float64)
    fps = (last + 1).astype(np.float64) - tps
    return tps, fps


def roc_auc_score(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """Exact weighted area under the ROC curve (both classes must carry weight)."""
    tps, fps = _binary_curve(np.asarray(labels, np.float64) > 0, np.asarray(scores, np.float64),
                             np.asarray(weights, np.float64))
    return _roc_auc(tps, fps)


def _roc_auc(tps: np.ndarray, fps: np.ndarray) -> float:
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def _average_precision(tps: np.ndarray, fps: np.ndarray) -> float:
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision_score(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> float:
    """Weighted average precision: ``sum_n (R_n - R_{n-1}) P_n`` over the distinct scores (no interpolation)."""
    tps, fps = _binary_curve(np.asarray(labels, np.float64) > 0, np.asarray(scores, np.float64),
                             np.asarray(weights, np.float64))
    return _average_precision(tps, fps)


def precision_score(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray, unit: bool = False) -> float:
    """Weighted precision of 0/1 predictions; 0 when nothing is predicted positive (``unit``: all weights 1)."""
    y, p, w = np.asarray(labels) > 0, np.asarray(predicted) > 0, np.asarray(weights, np.float64)
    if unit:  # sums of ones are exact: counts give the same floats
        denominator = float(np.count_nonzero(p))
        return float(np.count_nonzero(y & p)) / denominator if denominator != 0 else 0.0
    denominator = float(np.sum(w * p))
    return float(np.sum(w * (y & p))) / denominator if denominator != 0 else 0.0


def recall_score(labels: np.ndarray, predicted: np.ndarray, weights: np.ndarray, unit: bool = False) -> float:
    """Weighted recall of 0/1 predictions; 0 when no example is positive (``unit``: all weights 1)."""
    return precision_score(predicted, labels, weights, unit)


def _two_values(values: np.ndarray) -> bool:
    """``np.unique(values).size == 2`` without sorting."""
    if values.size == 0:
        return False
    low, high = values.min(), values.max()
    if np.isnan(low) or np.isnan(high):
        return bool(np.unique(values).size == 2)
    return bool(low != high and np.all((values == low) | (values == high)))


def binary_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    loss_total: float,
    weight_total: float,
    loss: float,
) -> dict[str, float]:
    """TF's binary-classification evaluation metrics.

    Parameters
    ----------
    probabilities : np.ndarray
        ``(N,)`` probability of the positive class.
    labels : np.ndarray
        ``(N,)`` 0/1 labels.
    weights : np.ndarray
        ``(N,)`` non-negative example weights (ones when unweighted).
    loss_total, weight_total : float
        ``sum(w * per_example_loss)`` and the sum of weights, giving ``average_loss``.
    loss : float
        The value reported under ``"loss"`` (see :meth:`Head.metrics`).

    Returns
    -------
    dict[str, float]
        ``accuracy, accuracy_baseline, auc, auc_precision_recall, average_loss, label/mean, loss,
        precision, prediction/mean, recall``.

    Examples
    --------
    >>> import numpy as np
    >>> m = binary_metrics(np.array([0.9, 0.4]), np.array([1, 1]), np.ones(2), loss_total=1.0,
    ...                    weight_total=2.0, loss=0.5)
    >>> m["recall"], m["accuracy_baseline"]
    (0.5, 1.0)
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    predicted = (probabilities > 0.5).astype(np.float64)
    unit = _unit(weights)  # unweighted: the same floats by cheaper sums (see _weighted_mean, precision_score)
    label_mean = _weighted_mean(labels, weights, unit)
    if _two_values(labels if unit else labels[weights > 0]):  # one sorted curve serves both areas
        tps, fps = _binary_curve(labels > 0, probabilities, weights)
        auc, auc_pr = _roc_auc(tps, fps), _average_precision(tps, fps)
    else:
        auc = auc_pr = float("nan")
    return {
        "accuracy": _weighted_mean((predicted == labels).astype(np.float64), weights, unit),
        "accuracy_baseline": max(label_mean, 1.0 - label_mean) if not math.isnan(label_mean) else label_mean,
        "auc": auc,
        "auc_precision_recall": auc_pr,
        "average_loss": loss_total / weight_total if weight_total > 0 else float("nan"),
        "label/mean": label_mean,
        "loss": float(loss),
        "precision": precision_score(labels, predicted, weights, unit),
        "prediction/mean": _weighted_mean(probabilities, weights, unit),
        "recall": recall_score(labels, predicted, weights, unit),
    }


def multiclass_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    loss_total: float,
    weight_total: float,
    loss: float,
) -> dict[str, float]:
    """TF's multi-class metrics (``accuracy, average_loss, loss``) plus per-class recall.

    Extras beyond TF: ``recall/class_<k>`` (weighted recall of class id ``k``, ``nan`` when the
    class is absent from the labels).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    >>> multiclass_metrics(p, np.array([0, 1]), np.ones(2), loss_total=1.0, weight_total=2.0,
    ...                    loss=0.5)["accuracy"]
    0.5
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    predicted = np.asarray(probabilities).argmax(axis=1)
    correct = (predicted == labels).astype(np.float64)
    result = {
        "accuracy": _weighted_mean(correct, weights),
        "average_loss": loss_total / weight_total if weight_total > 0 else float("nan"),
        "loss": float(loss),
    }
    for k in range(np.asarray(probabilities).shape[1]):
        mask = labels == k
        result[f"recall/class_{k}"] = _weighted_mean(correct[mask], weights[mask]) if mask.any() else float("nan")
    return result


def regression_metrics(
    predictions: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    loss_total: float,
    weight_total: float,
    loss: float,
) -> dict[str, float]:
    """TF's regression metrics plus ``rmse`` and ``mae`` (weighted, over all label dimensions).

    ``average_loss`` is the weighted mean squared error, so ``rmse == sqrt(average_loss)``.

    Examples
    --------
    >>> import numpy as np
    >>> m = regression_metrics(np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]]), np.ones(2),
    ...                        loss_total=1.0, weight_total=2.0, loss=0.5)
    >>> m["mae"], m["prediction/mean"]
    (0.5, 2.0)
    """
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(weights), -1)
    labels = np.asarray(labels, dtype=np.float64).reshape(len(weights), -1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    dims = predictions.shape[1]
    average_loss = loss_total / (weight_total * dims) if weight_total > 0 else float("nan")
    example_mae = np.abs(predictions - labels).mean(axis=1)
    return {
        "average_loss": average_loss,
        "label/mean": _weighted_mean(labels.mean(axis=1), weights),
        "loss": float(loss),
        "mae": _weighted_mean(example_mae, weights),
        "prediction/mean": _weighted_mean(predictions.mean(axis=1), weights),
        "rmse": math.sqrt(average_loss) if not math.isnan(average_loss) else average_loss,
    }


def _threshold_key(threshold: float) -> str:
    return f"{threshold:g}"


def multilabel_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    loss_total: float,
    weight_total: float,
    loss: float,
    thresholds: tuple[float, ...] = (),
) -> dict[str, float]:
    """TF's multi-label metrics over every (example, class) pair, each pair weighted by its example's weight.

    ``auc``/``auc_precision_recall`` are exact (sklearn) on the flattened pairs (TF's ``AUC`` with
    ``multi_label=False``); per threshold ``t``: ``accuracy/positive_threshold_<t>``, ``precision/...``,
    ``recall/...`` of ``probability > t``.

    Examples
    --------
    >>> import numpy as np
    >>> m = multilabel_metrics(np.array([[0.9, 0.2], [0.4, 0.7]]), np.array([[1, 0], [1, 1]]), np.ones(2),
    ...                        loss_total=1.0, weight_total=2.0, loss=0.5, thresholds=(0.5,))
    >>> m["auc"], m["recall/positive_threshold_0.5"]
    (1.0, 0.6666666666666666)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = probabilities.shape[1]
    p = probabilities.reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    w = np.repeat(np.asarray(weights, dtype=np.float64).reshape(-1), n_classes)
    if np.unique(y[w > 0]).size == 2:
        auc = roc_auc_score(y, p, w)
        auc_pr = average_precision_score(y, p, w)
    else:
        auc = auc_pr = float("nan")
    result = {
        "auc": auc,
        "auc_precision_recall": auc_pr,
        "average_loss": loss_total / weight_total if weight_total > 0 else float("nan"),
        "loss": float(loss),
    }
    for threshold in thresholds:
        predicted = (p > threshold).astype(np.float64)
        key = _threshold_key(threshold)
        result[f"accuracy/positive_threshold_{key}"] = _weighted_mean((predicted == y).astype(np.float64), w)
        result[f"precision/positive_threshold_{key}"] = precision_score(y, predicted, w)
        result[f"recall/positive_threshold_{key}"] = recall_score(y, predicted, w)
    return result


def link_regression_metrics(
    predictions: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    *,
    loss_total: float,
    weight_total: float,
    loss: float,
) -> dict[str, float]:
    """Metrics of a regression head with a link (Poisson's ``exp``, logistic's ``sigmoid``).

    ``average_loss`` is the head's own weighted mean loss (``loss_total / (weight_total * dims)``);
    ``label/mean``, ``prediction/mean`` (TF's) and ``mae``, ``rmse`` are of the predicted values.

    Examples
    --------
    >>> import numpy as np
    >>> m = link_regression_metrics(np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]]), np.ones(2),
    ...                             loss_total=3.0, weight_total=2.0, loss=1.5)
    >>> m["average_loss"], m["rmse"], m["prediction/mean"]
    (1.5, 0.7071067811865476, 2.0)
    """
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(weights), -1)
    labels = np.asarray(labels, dtype=np.float64).reshape(len(weights), -1)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    dims = predictions.shape[1]
    error = predictions - labels
    mse = _weighted_mean((error**2).mean(axis=1), weights)
    return {
        "average_loss": loss_total / (weight_total * dims) if weight_total > 0 else float("nan"),
        "label/mean": _weighted_mean(labels.mean(axis=1), weights),
        "loss": float(loss),
        "mae": _weighted_mean(np.abs(error).mean(axis=1), weights),
        "prediction/mean": _weighted_mean(predictions.mean(axis=1), weights),
        "rmse": math.sqrt(mse) if not math.isnan(mse) else mse,
    }


# ---------------------------------------------------------------------------------------------------------
# TF's ``tf.compat.v1.metrics.*`` for a model_fn's ``eval_metric_ops``: computed over the whole input.


def as_numpy(values: Any) -> np.ndarray:
    """A tensor, Series or array-like as a numpy array (tensors are detached and moved to the CPU).

    Examples
    --------
    >>> as_numpy([1, 2]).tolist()
    [1, 2]
    """
    detach = getattr(values, "detach", None)
    if detach is not None:
        return detach().cpu().numpy()
    to_numpy = getattr(values, "to_numpy", None)
    return to_numpy() if to_numpy is not None else np.asarray(values)


def is_stateful_metric(metric: Any) -> bool:
    """Whether ``metric`` follows torchmetrics' protocol (``update``, ``compute``, ``reset``).

    Examples
    --------
    >>> is_stateful_metric(len)
    False
    """
    return all(callable(getattr(metric, name, None)) for name in ("update", "compute", "reset"))


@dataclass(frozen=True)
class MetricOp:
    """A metric bound to one batch's tensors, as TF's ``(value_op, update_op)`` pair: what ``eval_metric_ops`` holds.

    estlab collects ``labels``/``predictions``/``weights`` of every evaluation batch and computes ``metric``
    once over the whole input: a callable ``metric(labels, predictions)`` (or ``(labels, predictions,
    weights)`` when weights were given) on numpy arrays, or a torchmetrics-like object (``update(predictions,
    labels)`` per batch, then ``compute()``).

    Examples
    --------
    >>> op = accuracy(labels=np.array([1, 0]), predictions=np.array([1, 1]))
    >>> op.compute()
    0.5
    """

    metric: Any
    labels: Any = None
    predictions: Any = None
    weights: Any = None
    name: str | None = None

    def compute(self) -> float:
        """The metric over this op's own tensors (one batch, or the whole input when given whole)."""
        return compute_metric_ops([self])


def compute_metric_ops(ops: Sequence[MetricOp]) -> float:
    """One metric over the concatenated tensors of ``ops`` (one op per batch, the same metric).

    Examples
    --------
    >>> compute_metric_ops([mean(np.array([1.0, 2.0])), mean(np.array([6.0]))])
    3.0
    """
    metric = ops[0].metric
    if is_stateful_metric(metric):
        metric.reset()
        for op in ops:
            metric.update(op.predictions, op.labels)
        value = metric.compute()
        return float(as_numpy(value))

    def joined(field_name: str) -> np.ndarray | None:
        parts = [getattr(op, field_name) for op in ops]
        if any(p is None for p in parts):
            return None
        arrays = [as_numpy(p) for p in parts]
        return np.concatenate([a.reshape(len(a), -1) if a.ndim > 1 else a.reshape(-1) for a in arrays])

    labels, predictions, weights = joined("labels"), joined("predictions"), joined("weights")
    value = metric(labels, predictions) if weights is None else metric(labels, predictions, weights)
    return float(value)


def _flat_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else np.broadcast_to(np.asarray(weights, np.float64).reshape(-1), (n,))


def _accuracy(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    y, p = labels.reshape(-1), predictions.reshape(-1)
    return _weighted_mean((y == p).astype(np.float64), _flat_weights(weights, len(y)))


def _mean(labels: Any, values: np.ndarray, weights: np.ndarray | None = None) -> float:
    v = values.reshape(-1)
    return _weighted_mean(v.astype(np.float64), _flat_weights(weights, len(v)))


def _squared_error(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    error = (predictions.astype(np.float64) - labels.astype(np.float64)).reshape(-1)
    return _weighted_mean(error**2, _flat_weights(weights, len(error)))


def _root_squared_error(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    return math.sqrt(_squared_error(labels, predictions, weights))


def _absolute_error(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    error = (predictions.astype(np.float64) - labels.astype(np.float64)).reshape(-1)
    return _weighted_mean(np.abs(error), _flat_weights(weights, len(error)))


def _precision(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    y, p = labels.reshape(-1) > 0, predictions.reshape(-1) > 0
    w = _flat_weights(weights, len(y))
    return precision_score(y, p, w)


def _recall(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    y, p = labels.reshape(-1) > 0, predictions.reshape(-1) > 0
    w = _flat_weights(weights, len(y))
    return recall_score(y, p, w)


def _auc(curve: str) -> Any:
    def auc_value(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
        y, p = labels.reshape(-1).astype(np.float64), predictions.reshape(-1).astype(np.float64)
        w = _flat_weights(weights, len(y))
        if np.unique(y[w > 0]).size != 2:
            return float("nan")
        score = roc_auc_score if curve == "ROC" else average_precision_score
        return score(y, p, w)

    return auc_value


def accuracy(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
             updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.accuracy``: share of ``predictions == labels``, over the whole input.

    ``metrics_collections``/``updates_collections`` are accepted for TF's argument order and unused.

    Examples
    --------
    >>> accuracy(np.array([0, 1, 2]), np.array([0, 1, 1])).compute()
    0.6666666666666666
    """
    return MetricOp(_accuracy, labels, predictions, weights, name)


def mean(values: Any, weights: Any = None, metrics_collections: Any = None, updates_collections: Any = None,
         name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.mean`` of ``values`` over the whole input.

    Examples
    --------
    >>> mean(np.array([1.0, 3.0]), weights=np.array([3.0, 1.0])).compute()
    1.5
    """
    return MetricOp(_mean, None, values, weights, name)


def mean_squared_error(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
                       updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.mean_squared_error``.

    Examples
    --------
    >>> mean_squared_error(np.array([1.0, 2.0]), np.array([2.0, 2.0])).compute()
    0.5
    """
    return MetricOp(_squared_error, labels, predictions, weights, name)


def root_mean_squared_error(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
                            updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.root_mean_squared_error``.

    Examples
    --------
    >>> root_mean_squared_error(np.array([0.0, 0.0]), np.array([3.0, 4.0])).compute() == 12.5 ** 0.5
    True
    """
    return MetricOp(_root_squared_error, labels, predictions, weights, name)


def mean_absolute_error(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
                        updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.mean_absolute_error``.

    Examples
    --------
    >>> mean_absolute_error(np.array([0.0, 0.0]), np.array([1.0, -3.0])).compute()
    2.0
    """
    return MetricOp(_absolute_error, labels, predictions, weights, name)


def precision(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
              updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.precision`` (labels and predictions read as booleans, ``> 0``).

    Examples
    --------
    >>> precision(np.array([1, 0, 1]), np.array([1, 1, 0])).compute()
    0.5
    """
    return MetricOp(_precision, labels, predictions, weights, name)


def recall(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
           updates_collections: Any = None, name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.recall`` (labels and predictions read as booleans, ``> 0``).

    Examples
    --------
    >>> recall(np.array([1, 0, 1]), np.array([1, 1, 0])).compute()
    0.5
    """
    return MetricOp(_recall, labels, predictions, weights, name)


def auc(labels: Any, predictions: Any, weights: Any = None, num_thresholds: int = 200, metrics_collections: Any = None,
        updates_collections: Any = None, curve: str = "ROC", name: str | None = None) -> MetricOp:
    """TF's ``tf.compat.v1.metrics.auc``: exact (sklearn) ROC or PR AUC; ``num_thresholds`` is unused.

    Examples
    --------
    >>> auc(np.array([0, 1, 1]), np.array([0.2, 0.9, 0.1])).compute()
    0.5
    """
    if curve not in ("ROC", "PR"):
        raise ValueError(f"auc: curve={curve!r}; use 'ROC' or 'PR'")
    return MetricOp(_auc(curve), labels, predictions, weights, name)


TF_METRICS = ("accuracy", "auc", "mean", "mean_absolute_error", "mean_squared_error", "precision", "recall",
              "root_mean_squared_error")
