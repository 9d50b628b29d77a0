"""Evaluation metrics with TensorFlow's keys, computed over the whole evaluation input.

Pure numpy + scikit-learn functions; the heads (``estlab.estimators.heads``) call them with
concatenated logits turned into probabilities/predictions. Every value is a plain ``float``.

Conventions (documented differences from TF):

* ``auc`` is the exact weighted ROC AUC (``sklearn.metrics.roc_auc_score``), not TF's
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

import numpy as np
from sklearn import metrics as skm


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = float(np.sum(weights))
    if total <= 0.0:
        return float("nan")
    return float(np.sum(values * weights) / total)


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
    label_mean = _weighted_mean(labels, weights)
    two_classes = np.unique(labels[weights > 0]).size == 2
    if two_classes:
        auc = float(skm.roc_auc_score(labels, probabilities, sample_weight=weights))
        auc_pr = float(skm.average_precision_score(labels, probabilities, sample_weight=weights))
    else:
        auc = auc_pr = float("nan")
    return {
        "accuracy": _weighted_mean((predicted == labels).astype(np.float64), weights),
        "accuracy_baseline": max(label_mean, 1.0 - label_mean) if not math.isnan(label_mean) else label_mean,
        "auc": auc,
        "auc_precision_recall": auc_pr,
        "average_loss": loss_total / weight_total if weight_total > 0 else float("nan"),
        "label/mean": label_mean,
        "loss": float(loss),
        "precision": float(skm.precision_score(labels, predicted, sample_weight=weights, zero_division=0)),  # pyright: ignore[reportArgumentType]  # sklearn is untyped: pyright guesses str from 'warn'
        "prediction/mean": _weighted_mean(probabilities, weights),
        "recall": float(skm.recall_score(labels, predicted, sample_weight=weights, zero_division=0)),  # pyright: ignore[reportArgumentType]  # sklearn is untyped: pyright guesses str from 'warn'
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
