"""Metric direction and preferred metrics: declared once per head, read by everyone."""

from __future__ import annotations

import pytest
import torch

from estlab.estimators.heads import BinaryClassHead, MultiClassHead, RegressionHead
from estlab.training.metric_info import HEAD_METRICS, higher_is_better, metric_key, preferred_metrics


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", True), ("accuracy_baseline", True), ("auc", True), ("auc_precision_recall", True),
        ("precision", True), ("recall", True), ("r2", True), ("recall/class_2", True),
        ("loss", False), ("average_loss", False), ("rmse", False), ("mae", False), ("label/mean", False),
        ("prediction/mean", False), ("mean_absolute_error", False),
    ],
)
def test_direction_of_every_declared_metric(metric: str, expected: bool) -> None:
    assert higher_is_better(metric) is expected


def test_labels_prefixes_and_unknown_metrics() -> None:
    assert higher_is_better("Δ average_loss") is False and higher_is_better("Δ auc") is True
    assert higher_is_better("eval_test/accuracy") is True and higher_is_better("eval_test/label/mean") is False
    assert metric_key("eval_x/recall/class_0") == "recall"
    assert higher_is_better("steps") is False and higher_is_better("precision_at_k") is False  # unknown: loss-like


def test_preferred_metrics_per_task() -> None:
    assert preferred_metrics("binary") == ("accuracy", "auc", "average_loss")
    assert preferred_metrics("multiclass") == ("accuracy", "average_loss")
    assert preferred_metrics("regression") == ("rmse", "mae", "average_loss")
    assert preferred_metrics("classification") == ("accuracy", "auc", "average_loss")
    with pytest.raises(ValueError, match=r"task='regresion' is not known.*Did you mean 'regression'"):
        preferred_metrics("regresion")


@pytest.mark.parametrize(
    ("head", "labels"),
    [
        (BinaryClassHead(), torch.tensor([[1.0], [0.0], [1.0]])),
        (MultiClassHead(n_classes=3), torch.tensor([0, 1, 2])),
        (RegressionHead(), torch.tensor([[1.0], [0.0], [2.0]])),
    ],
)
def test_each_head_declares_every_metric_it_reports(head, labels) -> None:
    assert type(head).metric_info is HEAD_METRICS[head.task]
    assert type(head).preferred_metrics() == preferred_metrics(head.task)
    reported = head.metrics(torch.zeros(3, head.logits_dimension), labels)
    assert {metric_key(k) for k in reported} == set(HEAD_METRICS[head.task].directions)
