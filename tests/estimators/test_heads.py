"""Heads: label encoding, losses, predictions and metrics pinned to sklearn / hand computation."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

from estlab.estimators.heads import (
    BinaryClassHead,
    MultiClassHead,
    RegressionHead,
    head_from_dict,
    make_head,
)

LOGITS = torch.tensor([[2.0], [-1.0], [0.5], [-3.0], [1.0], [-0.2]])
LABELS = np.array([1, 0, 0, 0, 1, 1])
WEIGHTS = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0, 1.5])


def _bce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-logits))
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def test_make_head_picks_task() -> None:
    assert make_head(2).task == "binary"
    assert make_head(4).logits_dimension == 4
    assert make_head(None, label_dimension=2).logits_dimension == 2
    with pytest.raises(ValueError, match=r"n_classes must be an integer >= 2; received 1"):
        make_head(1)
    with pytest.raises(ValueError, match=r"label_vocabulary has 2 labels but n_classes=3; set n_classes=2"):
        make_head(3, label_vocabulary=["a", "b"])
    with pytest.raises(ValueError, match=r"loss_reduction='mean' is not supported"):
        make_head(2, loss_reduction="mean")


def test_binary_encode_labels_vocabulary_and_errors() -> None:
    head = BinaryClassHead(label_vocabulary=("<=50K", ">50K"))
    series = pd.Series(["<=50K", ">50K", ">50K"], dtype="str")
    assert head.encode_labels(series).tolist() == [[0.0], [1.0], [1.0]]
    with pytest.raises(ValueError, match=r"label '>50K\.' is not in label_vocabulary=.*Did you mean '>50K'"):
        head.encode_labels(np.array(["<=50K", ">50K."]))
    with pytest.raises(ValueError, match=r"labels are strings .* pass label_vocabulary=\['a', 'b'\]"):
        BinaryClassHead().encode_labels(pd.Series(["a", "b"]))
    with pytest.raises(ValueError, match=r"label 2 is outside n_classes=2"):
        BinaryClassHead().encode_labels(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"1 missing value"):
        BinaryClassHead().encode_labels(np.array([0.0, np.nan]))
    assert BinaryClassHead().encode_labels(np.array([True, False])).tolist() == [[1.0], [0.0]]


def test_binary_loss_reductions_match_hand_computation() -> None:
    head = BinaryClassHead()
    labels = head.encode_labels(LABELS)
    per = _bce(LOGITS.numpy().ravel().astype(np.float64), LABELS)
    w = WEIGHTS.numpy().astype(np.float64)
    assert float(head.loss(LOGITS, labels)) == pytest.approx(per.mean(), rel=1e-6)
    assert float(head.loss(LOGITS, labels, WEIGHTS)) == pytest.approx((per * w).sum() / 6, rel=1e-6)
    summed = BinaryClassHead(loss_reduction="sum").loss(LOGITS, labels, WEIGHTS)
    assert float(summed) == pytest.approx((per * w).sum(), rel=1e-6)


def test_binary_metrics_match_sklearn_with_weights() -> None:
    head = BinaryClassHead()
    labels = head.encode_labels(LABELS)
    m = head.metrics(LOGITS, labels, WEIGHTS)
    p = 1.0 / (1.0 + np.exp(-LOGITS.numpy().ravel().astype(np.float64)))
    w = WEIGHTS.numpy().astype(np.float64)
    pred = (p > 0.5).astype(int)
    per = _bce(LOGITS.numpy().ravel().astype(np.float64), LABELS)
    label_mean = (LABELS * w).sum() / w.sum()  # 5.5 / 9
    assert set(m) == {
        "accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss", "label/mean", "loss",
        "precision", "prediction/mean", "recall",
    }
    assert all(type(v) is float for v in m.values())
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(LABELS, pred, sample_weight=w))
    assert m["accuracy"] == pytest.approx((1 + 2 + 1 + 3) / 9)  # rows 0,1,3,4 are right
    assert m["label/mean"] == pytest.approx(5.5 / 9)
    assert m["accuracy_baseline"] == pytest.approx(max(label_mean, 1 - label_mean))
    assert m["auc"] == pytest.approx(skm.roc_auc_score(LABELS, p, sample_weight=w))
    assert m["auc_precision_recall"] == pytest.approx(skm.average_precision_score(LABELS, p, sample_weight=w))
    assert m["precision"] == pytest.approx(4 / 4.5)  # tp weight 1+3, fp weight 0.5
    assert m["recall"] == pytest.approx(4 / 5.5)  # positives weigh 1+3+1.5
    assert m["prediction/mean"] == pytest.approx((p * w).sum() / w.sum())
    assert m["average_loss"] == pytest.approx((per * w).sum() / w.sum(), rel=1e-6)
    assert m["loss"] == pytest.approx((per * w).sum() / 6, rel=1e-6)


def test_unweighted_loss_equals_average_loss_and_sum_reduction_divides_by_batches() -> None:
    labels = BinaryClassHead().encode_labels(LABELS)
    m = BinaryClassHead().metrics(LOGITS, labels)
    assert m["loss"] == pytest.approx(m["average_loss"])
    summed = BinaryClassHead(loss_reduction="sum").metrics(LOGITS, labels, num_batches=3)
    assert summed["loss"] == pytest.approx(m["average_loss"] * 6 / 3, rel=1e-6)


def test_caller_accumulated_loss_sum_is_used() -> None:
    labels = BinaryClassHead().encode_labels(LABELS)
    m = BinaryClassHead().metrics(LOGITS, labels, None, loss_sum=3.0, weight_sum=6.0)
    assert m["average_loss"] == 0.5


def test_single_class_auc_is_nan() -> None:
    head = BinaryClassHead()
    m = head.metrics(torch.tensor([[1.0], [2.0]]), head.encode_labels(np.array([1, 1])))
    assert math.isnan(m["auc"]) and m["accuracy"] == 1.0 and m["accuracy_baseline"] == 1.0


def test_binary_predictions_keys_and_values() -> None:
    head = BinaryClassHead(label_vocabulary=("no", "yes"))
    out = head.predictions(torch.tensor([[0.0], [2.0], [-1.0]]))
    assert list(out) == ["logits", "logistic", "probabilities", "class_ids", "classes", "all_class_ids", "all_classes"]
    assert out["class_ids"].tolist() == [[0], [1], [0]]
    assert out["classes"].tolist() == [["no"], ["yes"], ["no"]]
    assert out["probabilities"][1].tolist() == pytest.approx([1 - 0.8807971, 0.8807971])
    assert out["all_classes"].tolist() == [["no", "yes"]] * 3
    assert out["all_class_ids"].tolist() == [[0, 1]] * 3
    assert BinaryClassHead().predictions(torch.tensor([[1.0]]))["classes"].tolist() == [["1"]]


def test_multiclass_head_loss_predictions_metrics() -> None:
    head = MultiClassHead(n_classes=3, label_vocabulary=("a", "b", "c"))
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [0.5, 0.2, 0.1], [0.0, 2.0, 0.0]])
    labels = head.encode_labels(pd.Series(["a", "c", "b", "b"]))
    assert labels.tolist() == [0, 2, 1, 1]
    w = np.array([1.0, 1.0, 2.0, 1.0])
    p = torch.softmax(logits.double(), 1).numpy()
    per = -np.log(p[np.arange(4), labels.numpy()])
    assert float(head.loss(logits, labels)) == pytest.approx(per.mean(), rel=1e-6)
    m = head.metrics(logits, labels, torch.tensor(w))
    assert m["accuracy"] == pytest.approx(3 / 5)  # the third row (weight 2) is wrong
    assert m["average_loss"] == pytest.approx(skm.log_loss(labels.numpy(), p, sample_weight=w), rel=1e-6)
    assert m["recall/class_1"] == pytest.approx(1 / 3)
    out = head.predictions(logits)
    assert set(out) == {"logits", "probabilities", "class_ids", "classes", "all_class_ids", "all_classes"}
    assert out["classes"].ravel().tolist() == ["a", "c", "a", "b"]
    with pytest.raises(ValueError, match=r"label 'd' is not in label_vocabulary"):
        head.encode_labels(["a", "d"])
    with pytest.raises(ValueError, match=r"label 5 is outside n_classes=3"):
        MultiClassHead(n_classes=3).encode_labels(np.array([0, 5]))


def test_regression_head_metrics_match_hand_computation() -> None:
    head = RegressionHead()
    logits = torch.tensor([[1.0], [2.0], [4.0]])
    labels = head.encode_labels(pd.Series([1.5, 2.0, 2.0]))
    w = np.array([2.0, 1.0, 1.0])
    m = head.metrics(logits, labels, torch.tensor(w))
    mse = (2 * 0.25 + 0 + 4.0) / 4
    assert m["average_loss"] == pytest.approx(mse)
    assert m["rmse"] == pytest.approx(math.sqrt(mse))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error([1.5, 2, 2], [1, 2, 4], sample_weight=w))
    assert m["label/mean"] == pytest.approx((3.0 + 2 + 2) / 4)
    assert m["prediction/mean"] == pytest.approx((2.0 + 2 + 4) / 4)
    assert m["loss"] == pytest.approx((0.5 + 4.0) / 3)
    assert float(head.loss(logits, labels)) == pytest.approx((0.25 + 4.0) / 3)
    with pytest.raises(ValueError, match=r"regression labels must be numeric"):
        head.encode_labels(np.array(["x"], dtype=object))
    with pytest.raises(ValueError, match=r"set label_dimension=2"):
        head.encode_labels(np.zeros((3, 2)))


def test_multi_dimensional_regression_average_loss_is_per_element() -> None:
    head = RegressionHead(label_dimension=2)
    m = head.metrics(torch.tensor([[1.0, 0.0], [0.0, 0.0]]), head.encode_labels(np.zeros((2, 2))))
    assert m["average_loss"] == pytest.approx(0.25) and m["loss"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    "head",
    [BinaryClassHead(label_vocabulary=("x", "y"), weight_column="w"), MultiClassHead(n_classes=4),
     RegressionHead(label_dimension=3, loss_reduction="sum")],
)
def test_head_json_round_trip(head) -> None:
    assert head_from_dict(json.loads(json.dumps(head.to_dict()))) == head


def test_head_from_dict_unknown_type() -> None:
    with pytest.raises(ValueError, match=r"head type 'Nope' is unknown"):
        head_from_dict({"type": "Nope"})
