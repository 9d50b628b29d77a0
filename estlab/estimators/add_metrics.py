"""TF's ``tf.estimator.add_metrics``: a copy of an estimator whose evaluation reports more metrics.

``metric_fn(labels, predictions[, config])`` gets the whole evaluation input's labels (as the head encodes
them, e.g. class ids) and predictions (the dict ``predict`` yields, as tensors/arrays over all rows), and
returns ``{name: metric}`` with metric ops (``estlab.estimators.metrics.accuracy(labels, ...)``, TF's
``tf.compat.v1.metrics`` names), numbers or scalar tensors. The copy shares the model_dir, so it evaluates
what the original trained, as TF's.

Examples
--------
>>> from estlab.estimators import metrics
>>> def my_auc(labels, predictions):
...     return {"auc_again": metrics.auc(labels, predictions["logistic"])}
>>> estimator = add_metrics(estimator, my_auc)  # doctest: +SKIP
>>> estimator.evaluate(test_df)["auc_again"]  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from estlab.estimators.model_cache import ModelCache
from estlab.estimators.tf_model_fn import ModelFnHead, call_metric_fn

MetricFn = Callable[..., Mapping[str, Any]]


class MetricsHead:
    """A head that reports ``metric_fns``' metrics besides its own; everything else is the wrapped head's.

    Examples
    --------
    >>> from estlab.estimators.heads import RegressionHead
    >>> from estlab.estimators import metrics
    >>> head = MetricsHead(RegressionHead(), [lambda labels, predictions: {
    ...     "mse": metrics.mean_squared_error(labels, predictions["predictions"])}])
    >>> head.metrics(torch.tensor([[1.0], [3.0]]), torch.tensor([[1.0], [1.0]]))["mse"]
    2.0
    """

    def __init__(self, head: Any, metric_fns: Sequence[MetricFn]) -> None:
        self.head = head
        self.metric_fns = tuple(metric_fns)

    def __getattr__(self, name: str) -> Any:
        if name == "head":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.head, name)

    def metrics(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
                loss_sum: float | None = None, weight_sum: float | None = None,
                num_batches: int | None = None) -> dict[str, float]:
        """The head's metrics, then each ``metric_fn``'s over the whole input."""
        if isinstance(self.head, ModelFnHead):
            return self.head.metrics(logits, labels, weights, loss_sum, weight_sum, num_batches,
                                     metric_fns=self.metric_fns)
        result = self.head.metrics(logits, labels, weights, loss_sum=loss_sum, weight_sum=weight_sum,
                                   num_batches=num_batches)
        with torch.no_grad():
            predictions = self.head.predictions(logits)
        for fn in self.metric_fns:
            result.update(call_metric_fn(fn, labels, predictions))
        return result


def add_metrics(estimator: Any, metric_fn: MetricFn) -> Any:
    """A copy of ``estimator`` (same class, arguments and model_dir) that also reports ``metric_fn``'s metrics.

    Parameters
    ----------
    estimator : Estimator
        Any estlab estimator (premade, ``model_fn``, ``*Estimator(head=...)``).
    metric_fn : callable
        ``metric_fn(labels, predictions)`` (``config`` too when named) → ``{name: metric op or number}``.

    Returns
    -------
    Estimator
        The copy; the original is unchanged.

    Examples
    --------
    See the module docstring.
    """
    if not callable(metric_fn):
        raise TypeError(f"add_metrics: metric_fn must be callable, got {type(metric_fn).__name__}")
    estimator.model_dir  # noqa: B018  # a temporary model_dir is made now, so the copy shares it
    added = copy.copy(estimator)
    added._added_metric_fns = (*getattr(estimator, "_added_metric_fns", ()), metric_fn)
    # per-instance state of an Estimator: its own model cache and stop flag (the model_dir is shared)
    added._models = ModelCache(added, estimator._warm_start_from)
    added._stop_event = threading.Event()
    added._spec = None
    added._last_result = None
    return added


__all__ = ["MetricsHead", "add_metrics"]
