"""TF's other heads (multi-label, Poisson, logistic regression) and the *Estimator(head=...) premades."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimator.inputs import numpy_input_fn
from estlab.estimators.head_estimators import DNNEstimator, DNNLinearCombinedEstimator, LinearEstimator
from estlab.estimators.heads import (
    LogisticRegressionHead,
    MultiLabelHead,
    PoissonRegressionHead,
    head_from_dict,
)
from estlab.training.config import RunConfig
from estlab.training.metric_info import higher_is_better, preferred_metrics

LOGITS = torch.tensor([[2.0, -1.0, 0.5], [-1.0, 1.0, -2.0]])
MULTI_HOT = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])


def _bce(z: float, y: float) -> float:
    return math.log1p(math.exp(z)) - y * z


def test_multilabel_head_loss_predictions_metrics_by_hand():
    head = MultiLabelHead(3, thresholds=[0.5])
    per_example = [np.mean([_bce(float(z), float(y)) for z, y in zip(LOGITS[i], MULTI_HOT[i])]) for i in range(2)]
    assert float(head.loss(LOGITS, MULTI_HOT)) == pytest.approx(np.mean(per_example), rel=1e-6)
    weighted = head.loss(LOGITS, MULTI_HOT, torch.tensor([1.0, 3.0]))
    assert float(weighted) == pytest.approx((per_example[0] + 3 * per_example[1]) / 2, rel=1e-6)
    predictions = head.predictions(LOGITS)
    assert sorted(predictions) == ["all_class_ids", "all_classes", "logits", "probabilities"]
    np.testing.assert_allclose(predictions["probabilities"], torch.sigmoid(LOGITS))
    m = head.metrics(LOGITS, MULTI_HOT)
    # pairs (p, y): (.88,1) (.27,0) (.62,1) (.27,0) (.73,1) (.12,1); p > 0.5: 1 0 1 0 1 0
    assert m["accuracy/positive_threshold_0.5"] == pytest.approx(5 / 6)
    assert m["precision/positive_threshold_0.5"] == 1.0
    assert m["recall/positive_threshold_0.5"] == 0.75
    assert m["auc"] == 0.75  # 6 of 8 (positive, negative) pairs ordered, the two 0.27 ties with 0.12 below
    assert m["average_loss"] == pytest.approx(np.mean(per_example), rel=1e-6)
    assert head_from_dict(head.to_dict()) == head


def test_multilabel_labels_as_id_lists_and_vocabulary():
    assert MultiLabelHead(3).encode_labels([[2], [0, 1], []]).tolist() == [[0, 0, 1], [1, 1, 0], [0, 0, 0]]
    head = MultiLabelHead(2, label_vocabulary=["cat", "dog"])
    assert head.encode_labels([["dog"], ["cat", "dog"]]).tolist() == [[0.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match="not in label_vocabulary"):
        head.encode_labels([["cow"]])
    with pytest.raises(ValueError, match="n_classes=3"):
        MultiLabelHead(2).encode_labels(np.zeros((2, 3)))


def test_poisson_head_by_hand():
    head = PoissonRegressionHead()
    logits, labels = torch.tensor([[0.5], [-1.0]]), torch.tensor([[3.0], [1.0]])
    stirling = 3 * math.log(3) - 3 + 0.5 * math.log(2 * math.pi * 3)  # only for labels > 1
    expected = [math.exp(0.5) - 3 * 0.5 + stirling, math.exp(-1.0) + 1.0]
    assert float(head.loss(logits, labels)) == pytest.approx(np.mean(expected), rel=1e-6)
    no_full = PoissonRegressionHead(compute_full_loss=False)
    assert float(no_full.loss(logits, labels)) == pytest.approx((math.exp(0.5) - 1.5 + math.exp(-1.0) + 1.0) / 2)
    predictions = head.predictions(logits)
    np.testing.assert_allclose(predictions["predictions"].reshape(-1), [math.exp(0.5), math.exp(-1.0)], rtol=1e-6)
    m = head.metrics(logits, labels)
    assert m["prediction/mean"] == pytest.approx((math.exp(0.5) + math.exp(-1.0)) / 2)
    assert m["label/mean"] == 2.0
    assert m["average_loss"] == pytest.approx(np.mean(expected), rel=1e-6)
    assert m["mae"] == pytest.approx((abs(math.exp(0.5) - 3) + abs(math.exp(-1.0) - 1)) / 2)
    with pytest.raises(ValueError, match="counts"):
        head.encode_labels([-1.0])
    assert head_from_dict(no_full.to_dict()) == no_full


def test_logistic_regression_head_by_hand():
    head = LogisticRegressionHead()
    logits, labels = torch.tensor([[0.0], [2.0]]), torch.tensor([[0.3], [1.0]])
    expected = [_bce(0.0, 0.3), _bce(2.0, 1.0)]
    assert float(head.loss(logits, labels)) == pytest.approx(np.mean(expected), rel=1e-6)
    np.testing.assert_allclose(head.predictions(logits)["predictions"].reshape(-1), [0.5, 1 / (1 + math.exp(-2))])
    m = head.metrics(logits, labels)
    assert m["prediction/mean"] == pytest.approx((0.5 + 1 / (1 + math.exp(-2))) / 2)
    assert m["label/mean"] == pytest.approx(0.65)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        head.encode_labels([1.5])
    assert head_from_dict(head.to_dict()) == head


def test_new_heads_declare_metric_directions():
    assert higher_is_better("accuracy/positive_threshold_0.5") and higher_is_better("auc_precision_recall")
    assert not higher_is_better("average_loss")
    assert preferred_metrics("multilabel") == ("auc", "average_loss")
    assert preferred_metrics("poisson_regression") == ("average_loss", "rmse", "mae")
    assert MultiLabelHead.preferred_metrics() == ("auc", "average_loss")


def _multilabel_data() -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0, x.sum(1) > 0], 1).astype(np.int64)
    return {"a": x[:, 0], "b": x[:, 1]}, y


def test_dnn_estimator_with_multilabel_head_trains(tmp_path):
    x, y = _multilabel_data()
    columns = [fc.numeric_column("a"), fc.numeric_column("b")]
    est = DNNEstimator(MultiLabelHead(3), hidden_units=[8], feature_columns=columns, model_dir=str(tmp_path),
                       config=RunConfig(random_seed=0), learning_rate=0.05)
    first = est.train(numpy_input_fn(x, y, batch_size=32, num_epochs=None, shuffle=True), steps=1).evaluate(
        numpy_input_fn(x, y, shuffle=False))
    result = est.train(numpy_input_fn(x, y, batch_size=32, num_epochs=None, shuffle=True), steps=99).evaluate(
        numpy_input_fn(x, y, shuffle=False))
    assert result["global_step"] == 100
    assert result["average_loss"] < first["average_loss"]
    assert result["auc"] > 0.95
    row = next(est.predict(numpy_input_fn(x, shuffle=False)))
    assert row["probabilities"].shape == (3,)
    assert est._estimator_params()["head"]["type"] == "MultiLabelHead"


def test_linear_and_combined_estimators_take_a_head(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64,)).astype(np.float32)
    counts = rng.poisson(np.exp(0.5 * x)).astype(np.float32)
    linear = LinearEstimator(PoissonRegressionHead(), [fc.numeric_column("x")], model_dir=str(tmp_path / "l"),
                             optimizer="SGD", learning_rate=0.05)
    linear.train(numpy_input_fn({"x": x}, counts, batch_size=16, num_epochs=None, shuffle=True), steps=5)
    assert sorted(next(linear.predict(numpy_input_fn({"x": x}, shuffle=False)))) == ["logits", "predictions"]
    combined = DNNLinearCombinedEstimator(LogisticRegressionHead(), model_dir=str(tmp_path / "c"),
                                          linear_feature_columns=[fc.numeric_column("x")],
                                          dnn_feature_columns=[fc.numeric_column("x")], dnn_hidden_units=[4])
    share = 1 / (1 + np.exp(-x))
    result = combined.train(numpy_input_fn({"x": x}, share, batch_size=16, num_epochs=None, shuffle=True),
                            steps=3).evaluate(numpy_input_fn({"x": x}, share, shuffle=False))
    assert result["global_step"] == 3 and 0.0 < result["prediction/mean"] < 1.0
    with pytest.raises(ValueError, match="head must be an estlab head"):
        LinearEstimator("multi_label", [fc.numeric_column("x")])._check()
