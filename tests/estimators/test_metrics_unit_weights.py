"""Unweighted binary metrics take a shorter path (one integer sort, counts): exactly the same floats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estlab.estimators import metrics as m


def _stable_curve(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted curve by a stable argsort, as computed for any weights."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels, weights = scores[order], labels[order], weights[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), labels.size - 1]
    return np.cumsum(labels * weights)[last], np.cumsum((1.0 - labels) * weights)[last]


def _scores(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return rng.random(n)
    if kind == "ties":
        return np.round(rng.random(n), 2)
    if kind == "zeros_and_ones":  # -0.0 equals 0.0; saturated probabilities tie at 1.0
        return rng.choice([0.0, -0.0, 1.0, 0.5, 5e-324], n)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-rng.normal(0.0, 30.0, n)))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["uniform", "ties", "zeros_and_ones", "sigmoid"])
@pytest.mark.parametrize("n", [1, 2, 7, 4000])
def test_the_unit_curve_equals_the_weighted_curve(kind: str, n: int) -> None:
    rng = np.random.default_rng(n)
    scores = _scores(kind, n, rng)
    labels = rng.random(n) < 0.3
    assert m._sortable_probabilities(scores)
    tps, fps = m._binary_curve(labels, scores, np.ones(n))
    want_tps, want_fps = _stable_curve(labels, scores, np.ones(n))
    assert tps.dtype == want_tps.dtype == np.float64 and fps.dtype == np.float64
    np.testing.assert_array_equal(tps, want_tps)
    np.testing.assert_array_equal(fps, want_fps)


@pytest.mark.parametrize("kind", ["uniform", "ties", "zeros_and_ones", "sigmoid"])
def test_unweighted_binary_metrics_are_the_weighted_formulas_exactly(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 3001
    p = _scores(kind, n, rng)
    y = (rng.random(n) < 0.4).astype(np.float64)
    w = np.ones(n)
    got = m.binary_metrics(p, y, w, loss_total=12.5, weight_total=float(n), loss=0.25)
    predicted = (p > 0.5).astype(np.float64)
    tps, fps = _stable_curve(y > 0, p, w)
    label_mean = m._weighted_mean(y, w)
    want = {
        "accuracy": m._weighted_mean((predicted == y).astype(np.float64), w),
        "accuracy_baseline": max(label_mean, 1.0 - label_mean),
        "auc": m._roc_auc(tps, fps),
        "auc_precision_recall": m._average_precision(tps, fps),
        "average_loss": 12.5 / n,
        "label/mean": label_mean,
        "loss": 0.25,
        "precision": m.precision_score(y, predicted, w),
        "prediction/mean": m._weighted_mean(p, w),
        "recall": m.recall_score(y, predicted, w),
    }
    assert got == want


def test_scores_outside_zero_one_or_not_finite_take_the_general_path() -> None:
    assert not m._sortable_probabilities(np.array([0.2, -0.1]))
    assert not m._sortable_probabilities(np.array([0.2, np.inf]))
    assert not m._sortable_probabilities(np.array([0.2, np.nan]))
    assert not m._sortable_probabilities(np.array([0.2, 0.5], dtype=np.float32))
    scores = np.array([0.9, np.inf, np.inf, -2.0, 0.1])  # roc_auc_score takes any scores
    labels = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    tps, fps = _stable_curve(labels > 0, scores, np.ones(5))
    assert m.roc_auc_score(labels, scores, np.ones(5)) == m._roc_auc(tps, fps)


def test_one_class_or_no_rows_weighted_or_not() -> None:
    out = m.binary_metrics(np.array([0.2, 0.7]), np.array([1.0, 1.0]), np.ones(2), loss_total=1.0,
                           weight_total=2.0, loss=0.5)
    assert math.isnan(out["auc"]) and out["label/mean"] == 1.0 and out["precision"] == 1.0
    assert out["recall"] == 0.5 and out["accuracy"] == 0.5
    none_predicted = m.binary_metrics(np.array([0.2, 0.3]), np.array([1.0, 0.0]), np.ones(2), loss_total=1.0,
                                      weight_total=2.0, loss=0.5)
    assert none_predicted["precision"] == 0.0 and none_predicted["auc"] == 0.0  # the negative scores higher


@pytest.mark.parametrize("head_name", ["binary", "binary_sum", "multiclass", "regression"])
def test_head_metrics_without_weights_equal_weights_of_one(head_name: str) -> None:
    import torch

    from estlab.estimators.heads import BinaryClassHead, MultiClassHead, RegressionHead

    head, width = {
        "binary": (BinaryClassHead(), 1),
        "binary_sum": (BinaryClassHead(loss_reduction="sum"), 1),
        "multiclass": (MultiClassHead(n_classes=3), 3),
        "regression": (RegressionHead(label_dimension=2), 2),
    }[head_name]
    generator = torch.Generator().manual_seed(5)
    n = 4097
    logits = torch.randn(n, width, generator=generator) * 5
    if head_name == "regression":
        labels = torch.randn(n, 2, generator=generator)
    else:
        labels = torch.randint(0, max(width, 2), (n, 1), generator=generator).float()
    unweighted = head.metrics(logits, labels, None, num_batches=3)
    ones = head.metrics(logits, labels, torch.ones(n), num_batches=3)
    assert list(unweighted) == list(ones)
    assert all(unweighted[k] == ones[k] or (math.isnan(unweighted[k]) and math.isnan(ones[k])) for k in ones)
