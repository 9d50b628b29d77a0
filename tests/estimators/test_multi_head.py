"""TF's ``MultiHead``: named heads over one model's logits (loss, metrics, predictions, estimators, export)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import estlab.estimator as tf_estimator
from estlab import export
from estlab import feature_column as fc
from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.head_estimators import DNNEstimator, DNNLinearCombinedEstimator, LinearEstimator
from estlab.estimators.heads import (
    BinaryClassHead,
    LogisticRegressionHead,
    MultiClassHead,
    MultiLabelHead,
    PoissonRegressionHead,
    RegressionHead,
    head_from_dict,
)
from estlab.estimators.multi_head import MultiHead
from estlab.export.server import predict_payload
from estlab.training.config import RunConfig
from estlab.training.metric_info import higher_is_better

N = 6


def _heads() -> tuple[BinaryClassHead, MultiClassHead, RegressionHead]:
    return (
        BinaryClassHead(name="click"),
        MultiClassHead(3, label_vocabulary=["x", "y", "z"], name="topic"),
        RegressionHead(label_dimension=2, name="dwell"),
    )


def _logits_and_labels() -> tuple[torch.Tensor, dict[str, object]]:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(N, 6, generator=generator)
    labels = {
        "click": np.array([1, 0, 1, 1, 0, 0]),
        "topic": np.array(["x", "z", "y", "y", "x", "z"]),
        "dwell": np.arange(2 * N, dtype=np.float64).reshape(N, 2) / 4.0,
    }
    return logits, labels


def test_tf_alias_and_constructor_errors():
    assert tf_estimator.MultiHead is MultiHead
    a, b = RegressionHead(name="a"), RegressionHead(name="b")
    with pytest.raises(
        ValueError, match=r"all given heads must have name specified; heads\[1\] \(RegressionHead\)"
    ):
        MultiHead([a, RegressionHead()])
    with pytest.raises(ValueError, match=r"head names must be unique; \['a'\] name several heads"):
        MultiHead([a, RegressionHead(name="a")])
    with pytest.raises(
        ValueError, match="heads and head_weights must have the same size; received 2 heads and 3"
    ):
        MultiHead([a, b], head_weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="heads must be a non-empty list of heads; received \\[\\]"):
        MultiHead([])
    with pytest.raises(ValueError, match=r"heads\[0\] must be an estlab head"):
        MultiHead(["a"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="loss_reduction must be the same for all heads"):
        MultiHead([a, RegressionHead(name="b", loss_reduction="sum")])
    with pytest.raises(ValueError, match="weight_column must be the same for all heads.*a: 'w', b: None"):
        MultiHead([RegressionHead(name="a", weight_column="w"), b])
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        RegressionHead(name="")
    head = MultiHead([a, b], head_weights=[2, 0.5])
    assert (head.name, head.logits_dimension, head.head_weights) == ("a_b", 2, (2.0, 0.5))
    assert MultiHead([a, b], head_weights=[]).head_weights is None  # TF: an empty list weighs heads equally


def test_loss_is_the_weighted_sum_of_the_heads_losses():
    click, topic, dwell = _heads()
    head = MultiHead([click, topic, dwell], head_weights=[1.0, 2.0, 0.5])
    logits, raw = _logits_and_labels()
    labels = head.encode_labels(raw)
    assert labels.dtype == torch.float64 and labels.shape == (N, 4)
    assert labels[:, 1].tolist() == [0.0, 2.0, 1.0, 1.0, 0.0, 2.0]  # the class ids of the vocabulary
    single = (
        click.loss(logits[:, :1], click.encode_labels(raw["click"])),
        topic.loss(logits[:, 1:4], topic.encode_labels(raw["topic"])),
        dwell.loss(logits[:, 4:], dwell.encode_labels(raw["dwell"])),
    )
    expected = single[0] + single[1] * 2.0 + single[2] * 0.5
    assert torch.equal(head.loss(logits, labels), expected)
    weights = torch.tensor([1.0, 2.0, 0.0, 1.0, 3.0, 1.0])
    weighted = (
        click.loss(logits[:, :1], click.encode_labels(raw["click"]), weights)
        + topic.loss(logits[:, 1:4], topic.encode_labels(raw["topic"]), weights) * 2.0
        + dwell.loss(logits[:, 4:], dwell.encode_labels(raw["dwell"]), weights) * 0.5
    )
    assert torch.equal(head.loss(logits, labels, weights), weighted)
    # TF's dict of logits keyed by head name gives the same loss
    as_dict = {"click": logits[:, :1], "topic": logits[:, 1:4], "dwell": logits[:, 4:]}
    assert torch.equal(head.loss(as_dict, labels), expected)
    # by hand, two regression heads: (1 - 0)^2 and 3 * (2 - 0)^2
    pair = MultiHead([RegressionHead(name="a"), RegressionHead(name="b")], head_weights=[1, 3])
    assert float(pair.loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))) == 13.0


def test_metrics_are_each_heads_metrics_suffixed_plus_the_total_loss():
    heads = _heads()
    head = MultiHead(list(heads), head_weights=[1.0, 2.0, 0.5])
    logits, raw = _logits_and_labels()
    metrics = head.metrics(logits, head.encode_labels(raw))
    expected: dict[str, float] = {}
    total = 0.0
    for single, cols, w in zip(heads, (slice(0, 1), slice(1, 4), slice(4, 6)), (1.0, 2.0, 0.5), strict=True):
        own = single.unnamed_metrics(logits[:, cols], single.encode_labels(raw[single.name]))
        expected.update({f"{k}/{single.name}": v for k, v in own.items()})
        total += w * own["loss"]
    expected["loss"] = total
    assert metrics == expected
    assert {
        "accuracy/click",
        "auc/click",
        "accuracy/topic",
        "recall/class_2/topic",
        "rmse/dwell",
        "average_loss/dwell",
        "loss/dwell",
        "loss",
    } <= set(metrics)
    assert higher_is_better("auc/click") and higher_is_better("recall/class_2/topic")
    assert not higher_is_better("rmse/dwell") and not higher_is_better("loss/click")


def test_predictions_are_each_heads_keyed_by_head_name():
    heads = _heads()
    head = MultiHead(list(heads))
    logits, _ = _logits_and_labels()
    predictions = head.predictions(logits)
    expected = {}
    for single, cols in zip(heads, (slice(0, 1), slice(1, 4), slice(4, 6)), strict=True):
        expected.update({(single.name, k): v for k, v in single.predictions(logits[:, cols]).items()})
    assert list(predictions) == list(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(np.asarray(predictions[key]), np.asarray(value))
    assert (
        predictions[("topic", "classes")].reshape(-1).tolist()
        == np.array(["x", "y", "z"], dtype=object)[logits[:, 1:4].argmax(dim=1).numpy()].tolist()
    )
    assert head.coded_predictions()[("topic", "classes")][0] == ("topic", "class_ids")


def test_labels_by_head_name_errors_and_round_trip():
    click, topic, dwell = _heads()
    head = MultiHead([click, RegressionHead(name="score")])
    frame = pd.DataFrame({"click": [1, 0], "score": [0.5, 2.0]})
    assert head.encode_labels(frame).tolist() == [[1.0, 0.5], [0.0, 2.0]]
    with pytest.raises(
        ValueError,
        match=r"labels has missing values for head\(s\) \['score'\]; received label "
        r"columns \['click', 'other'\]",
    ):
        head.encode_labels(pd.DataFrame({"click": [1], "other": [0.0]}))
    with pytest.raises(
        ValueError,
        match=r"labels must be keyed by head name.*received a ndarray.*"
        r"label=\['click', 'score'\]",
    ):
        head.encode_labels(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="label column 'click': label 3 is outside n_classes=2"):
        head.encode_labels({"click": [3], "score": [1.0]})
    with pytest.raises(ValueError, match="could not split logits of shape \\(2, 3\\)"):
        head.loss(torch.zeros(2, 3), head.encode_labels(frame))
    multi = MultiHead([click, topic, dwell, MultiLabelHead(2, name="tags")], head_weights=[1, 2, 3, 4])
    assert head_from_dict(multi.to_dict()) == multi
    assert multi.to_dict()["heads"][1] == topic.to_dict() and topic.to_dict()["name"] == "topic"


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=n).astype("float32")
    color = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {
            "x": x,
            "color": color,
            "click": np.where(x + (color == "red") > 0.3, "yes", "no"),
            "topic": np.where(x > 0.5, "hi", np.where(x < -0.5, "lo", "mid")),
            "dwell": 2.0 * x + 1.0,
        }
    )


def _columns() -> list:
    return [
        fc.numeric_column("x"),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])),
    ]


def _two_task_head() -> MultiHead:
    return MultiHead(
        [
            MultiClassHead(3, label_vocabulary=["lo", "mid", "hi"], name="topic"),
            BinaryClassHead(label_vocabulary=["no", "yes"], name="click"),
            RegressionHead(name="dwell"),
        ],
        head_weights=[1.0, 1.0, 0.25],
    )


LABELS = ["topic", "click", "dwell"]


def test_dnn_estimator_trains_evaluates_predicts_and_exports(frame, tmp_path):
    est = tf_estimator.DNNEstimator(
        head=_two_task_head(),
        hidden_units=[8],
        feature_columns=_columns(),
        model_dir=str(tmp_path / "m"),
        config=RunConfig(random_seed=0),
    )
    est.train(frame, label=LABELS, steps=30)
    metrics = est.evaluate(frame, label=LABELS)
    assert {
        "accuracy/topic",
        "auc/click",
        "rmse/dwell",
        "loss/topic",
        "loss/click",
        "loss/dwell",
        "loss",
    } <= set(metrics)
    assert metrics["loss"] == pytest.approx(
        metrics["loss/topic"] + metrics["loss/click"] + 0.25 * metrics["loss/dwell"], rel=1e-12
    )
    # the evaluation equals the head's metrics over the model's logits
    features = frame.drop(columns=LABELS)
    rows = list(est.predict(features))
    assert (
        len(rows) == len(frame)
        and ("topic", "probabilities") in rows[0]
        and ("dwell", "predictions") in rows[0]
    )
    logits = torch.tensor(
        np.stack(
            [
                np.concatenate([r[("topic", "logits")], r[("click", "logits")], r[("dwell", "predictions")]])
                for r in rows
            ]
        )
    )
    head = _two_task_head()
    by_hand = head.metrics(logits, head.encode_labels(frame[LABELS]))
    for key in ("accuracy/topic", "accuracy/click", "rmse/dwell", "loss"):
        assert metrics[key] == pytest.approx(by_hand[key], rel=1e-5)
    # predict_frame: each head's columns prefixed with its name, class columns named by its vocabulary
    table = est.predict_frame(features)
    assert list(table.index) == list(frame.index)
    assert {
        "topic/probabilities_lo",
        "topic/classes",
        "click/probabilities_yes",
        "click/classes",
        "dwell/predictions",
    } <= set(table.columns)
    assert table["click/classes"].tolist() == [r[("click", "classes")][0] for r in rows]
    only = est.predict_frame(features, predict_keys=[("dwell", "predictions"), ("click", "class_ids")])
    assert list(only.columns) == ["click/class_ids", "dwell/predictions"]
    # a new estimator over the model_dir restores the same model
    again = tf_estimator.DNNEstimator(
        head=_two_task_head(), hidden_units=[8], feature_columns=_columns(), model_dir=str(tmp_path / "m")
    )
    np.testing.assert_array_equal(
        again.predict_frame(features)["dwell/predictions"], table["dwell/predictions"]
    )

    loaded = export.load(est.export_saved_model(str(tmp_path / "export")))
    assert sorted(loaded.signatures) == [
        "click",
        "click/classification",
        "click/predict",
        "click/regression",
        "dwell",
        "dwell/predict",
        "dwell/regression",
        "predict",
        "serving_default",
        "topic",
        "topic/classification",
        "topic/predict",
    ]
    assert loaded.signatures["serving_default"] == loaded.signatures["topic"]
    served = loaded.predict_columns(features)
    for (name, key), value in {k: np.stack([r[k] for r in rows]) for k in rows[0]}.items():
        if value.dtype == object:
            assert served[f"{name}/{key}"].tolist() == value.tolist()
        else:
            np.testing.assert_allclose(served[f"{name}/{key}"], value, rtol=1e-6, atol=1e-6)
    topic_only = loaded.predict_columns(features, signature_name="topic/classification")
    assert topic_only["classes"].tolist() == served["topic/all_classes"].tolist()
    pd.testing.assert_frame_equal(loaded.predict_frame(features), table, rtol=1e-6, atol=1e-6)
    # TF Serving's REST answers: serving_default is the first head's, a head's own signature by its name
    instance = {"x": float(features["x"].iloc[0]), "color": str(features["color"].iloc[0])}
    default = predict_payload(loaded, {"instances": [instance]})["predictions"][0]
    assert default["classes"] == [rows[0][("topic", "classes")][0]]
    assert sorted(default) == sorted(key for name, key in rows[0] if name == "topic")
    dwell = predict_payload(loaded, {"signature_name": "dwell", "instances": [instance]})["predictions"][0]
    assert dwell == pytest.approx(rows[0][("dwell", "predictions")].tolist(), abs=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda head, cols, d: LinearEstimator(head, cols, model_dir=d, learning_rate=0.1),
        lambda head, cols, d: DNNLinearCombinedEstimator(
            head, model_dir=d, linear_feature_columns=cols, dnn_feature_columns=cols, dnn_hidden_units=[4]
        ),
    ],
    ids=["linear", "dnn_linear_combined"],
)
def test_linear_and_combined_estimators_take_a_multi_head(make, frame, tmp_path):
    est = make(_two_task_head(), _columns(), str(tmp_path / "m"))
    est.train(frame, label=LABELS, steps=5)
    assert est.global_step == 5
    metrics = est.evaluate(frame, label=LABELS)
    assert metrics["loss"] == pytest.approx(
        metrics["loss/topic"] + metrics["loss/click"] + 0.25 * metrics["loss/dwell"], rel=1e-12
    )
    first = next(iter(est.predict(frame.drop(columns=LABELS))))
    assert sorted({name for name, _ in first}) == ["click", "dwell", "topic"]


def test_custom_model_fn_with_a_multi_head_and_a_tf_input_fn(frame, tmp_path):
    head = MultiHead(
        [BinaryClassHead(label_vocabulary=["no", "yes"], name="click"), RegressionHead(name="dwell")]
    )

    def model_fn(params):
        return ModelSpec(
            module=torch.nn.Sequential(torch.nn.Linear(1, head.logits_dimension)),
            head=head,
            input_names=("x",),
        )

    def input_fn():  # TF's labels: a dict keyed by head name
        return {"x": frame[["x"]].to_numpy()}, {
            "click": frame["click"].to_numpy(),
            "dwell": frame["dwell"].to_numpy(),
        }

    est = Estimator(model_fn, model_dir=str(tmp_path / "m"), config=RunConfig(random_seed=0))
    est.train(input_fn, steps=3)
    metrics = est.evaluate(input_fn)
    assert metrics["loss"] == pytest.approx(metrics["loss/click"] + metrics["loss/dwell"], rel=1e-12)
    assert "auc/click" in metrics and "rmse/dwell" in metrics


def test_multi_label_poisson_and_logistic_heads_export_with_equal_predictions(frame, tmp_path):
    head = MultiHead(
        [
            MultiLabelHead(2, label_vocabulary=["cat", "dog"], name="tags"),
            PoissonRegressionHead(name="visits"),
            LogisticRegressionHead(name="share"),
        ]
    )
    labels = ["tags", "visits", "share"]
    data = frame.assign(
        tags=[["cat"], ["dog"], ["cat", "dog"], []] * (len(frame) // 4),
        visits=np.arange(len(frame)) % 3,
        share=(frame["x"] > 0) * 0.5,
    )
    est = DNNEstimator(head, [4], _columns(), model_dir=str(tmp_path / "m"), config=RunConfig(random_seed=0))
    est.train(data, label=labels, steps=3)
    metrics = est.evaluate(data, label=labels)
    assert {"auc/tags", "average_loss/visits", "rmse/share", "loss"} <= set(metrics)
    features = data.drop(columns=labels)
    loaded = export.load(est.export_saved_model(str(tmp_path / "export")))
    assert {"tags", "tags/classification", "visits/regression", "share/regression", "predict"} <= set(
        loaded.signatures
    )
    served = loaded.predict_columns(features)
    rows = list(est.predict(features))
    for (name, key), value in {k: np.stack([r[k] for r in rows]) for k in rows[0]}.items():
        if value.dtype == object:
            assert served[f"{name}/{key}"].tolist() == value.tolist()
        else:
            np.testing.assert_allclose(served[f"{name}/{key}"], value, rtol=1e-6, atol=1e-6)
    assert served["tags/all_classes"][0].tolist() == ["cat", "dog"]
    pd.testing.assert_frame_equal(
        loaded.predict_frame(features), est.predict_frame(features), rtol=1e-6, atol=1e-6
    )


def test_export_refuses_a_head_it_cannot_serve(frame, tmp_path):
    class ShiftedHead(RegressionHead):
        """A user's own head: the export does not know its predictions."""

    head = MultiHead([RegressionHead(name="dwell"), ShiftedHead(name="other")])
    est = DNNEstimator(head, [4], _columns(), model_dir=str(tmp_path / "m"))
    data = frame.assign(other=frame["dwell"] * 2)
    est.train(data, label=["dwell", "other"], steps=2)
    assert "rmse/other" in est.evaluate(data, label=["dwell", "other"])
    with pytest.raises(
        ValueError,
        match="MultiHead export: head 'other' is a ShiftedHead, which a multi-head export "
        "cannot serve; its heads must be among",
    ):
        est.export_saved_model(str(tmp_path / "export"))


def test_a_shared_weight_column_weighs_every_heads_loss_and_metrics(frame, tmp_path):
    head = MultiHead(
        [
            BinaryClassHead(label_vocabulary=["no", "yes"], weight_column="w", name="click"),
            RegressionHead(weight_column="w", name="dwell"),
        ],
        head_weights=[2.0, 1.0],
    )
    data = frame.assign(w=np.where(frame["x"] > 0, 3.0, 0.5))
    est = LinearEstimator(head, _columns(), model_dir=str(tmp_path / "m"), learning_rate=0.1)
    est.train(data, label=["click", "dwell"], steps=3)
    metrics = est.evaluate(data, label=["click", "dwell"])
    rows = list(est.predict(data.drop(columns=["click", "dwell"])))
    logits = torch.tensor(
        np.stack([np.concatenate([r[("click", "logits")], r[("dwell", "predictions")]]) for r in rows])
    )
    weights = torch.tensor(data["w"].to_numpy())
    by_hand = head.metrics(logits, head.encode_labels(data[["click", "dwell"]]), weights)
    unweighted = head.metrics(logits, head.encode_labels(data[["click", "dwell"]]))
    for key in ("loss", "loss/click", "average_loss/dwell", "accuracy/click", "label/mean/dwell"):
        assert metrics[key] == pytest.approx(by_hand[key], rel=1e-5)
    assert metrics["label/mean/dwell"] != pytest.approx(unweighted["label/mean/dwell"], rel=1e-3)
