"""TF's head constructors (signatures, ``classes_for_class_based_metrics``) and TF's ``/<name>`` metric keys."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import DNNEstimator, layers
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import (
    BinaryClassHead,
    LogisticRegressionHead,
    MultiClassHead,
    MultiLabelHead,
    PoissonRegressionHead,
    RegressionHead,
    head_from_dict,
    named_metric_keys,
)
from estlab.training.config import RunConfig
from estlab.training.early_stopping import EarlyStopping

#: tensorflow_estimator 2.15's head constructors: (parameter, default) in order; ``...`` marks no default.
RED = "sum_over_batch_size"
TF_HEADS = {
    BinaryClassHead: [
        ("weight_column", None),
        ("thresholds", None),
        ("label_vocabulary", None),
        ("loss_reduction", RED),
        ("loss_fn", None),
        ("name", None),
    ],
    MultiClassHead: [
        ("n_classes", ...),
        ("weight_column", None),
        ("label_vocabulary", None),
        ("loss_reduction", RED),
        ("loss_fn", None),
        ("name", None),
    ],
    RegressionHead: [
        ("label_dimension", 1),
        ("weight_column", None),
        ("loss_reduction", RED),
        ("loss_fn", None),
        ("inverse_link_fn", None),
        ("name", None),
    ],
    PoissonRegressionHead: [
        ("label_dimension", 1),
        ("weight_column", None),
        ("loss_reduction", RED),
        ("compute_full_loss", True),
        ("name", None),
    ],
    LogisticRegressionHead: [("weight_column", None), ("loss_reduction", RED), ("name", None)],
    MultiLabelHead: [
        ("n_classes", ...),
        ("weight_column", None),
        ("thresholds", None),
        ("label_vocabulary", None),
        ("loss_reduction", RED),
        ("loss_fn", None),
        ("classes_for_class_based_metrics", None),
        ("name", None),
    ],
}


@pytest.mark.parametrize("head", list(TF_HEADS), ids=lambda h: h.__name__)
def test_head_signature_is_tfs(head) -> None:
    params = list(inspect.signature(head.__init__).parameters.values())[1:]
    got = [(p.name, ... if p.default is inspect.Parameter.empty else p.default) for p in params]
    assert got == TF_HEADS[head]


def test_multiclass_head_needs_n_classes_as_tf() -> None:
    with pytest.raises(TypeError, match="n_classes"):
        MultiClassHead()  # type: ignore[call-arg]


def test_multilabel_head_takes_tfs_full_positional_call() -> None:
    head = MultiLabelHead(3, None, [0.3, 0.7], ["rich", "male", "married"], RED, None, [0, "married"], "ml")
    assert (
        head.n_classes,
        head.thresholds,
        head.label_vocabulary,
        head.classes_for_class_based_metrics,
        head.name,
    ) == (3, (0.3, 0.7), ("rich", "male", "married"), (0, 2), "ml")
    assert head_from_dict(head.to_dict()) == head
    assert (
        "classes_for_class_based_metrics" not in MultiLabelHead(3).to_dict()
    )  # older descriptions unchanged


def test_multilabel_loss_fn_is_refused_like_every_head() -> None:
    for make in (
        lambda: MultiLabelHead(3, loss_fn=lambda labels, logits: logits),
        lambda: MultiClassHead(3, loss_fn=lambda labels, logits: logits),
    ):
        with pytest.raises(ValueError, match="loss_fn is not supported.*custom model_fn"):
            make()


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (["b"], "holds the name 'b' but label_vocabulary is None"),
        ([3], "3 is not a class id in \\[0, 2\\]"),
        ([True], "True is not a class id"),
        (1, "must be a list of class ids or names; received 1"),
    ],
)
def test_bad_classes_for_class_based_metrics_are_named(classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        MultiLabelHead(3, classes_for_class_based_metrics=classes)


def test_unknown_class_name_suggests_the_vocabulary_entry() -> None:
    with pytest.raises(ValueError, match="'dgo' is not in label_vocabulary=\\['cat', 'dog'\\].*'dog'"):
        MultiLabelHead(2, label_vocabulary=["cat", "dog"], classes_for_class_based_metrics=["dgo"])


LOGIT = math.log(3.0)  # sigmoid(+-log 3) = 0.75 / 0.25
LOGITS = torch.tensor([[LOGIT, 0.0, LOGIT], [0.0, 0.0, -LOGIT], [-LOGIT, 0.0, 0.0], [0.0, 0.0, 0.0]])
LABELS = [[0, 2], [], [2], [1]]


def test_class_based_metrics_have_tfs_keys_and_exact_values() -> None:
    head = MultiLabelHead(3, classes_for_class_based_metrics=[2, 0])
    m = head.metrics(LOGITS, head.encode_labels(LABELS))
    # class 2: probabilities 0.75, 0.25, 0.5, 0.5 for labels 1, 0, 1, 0
    assert m["probability_mean/class2"] == 0.5
    assert m["auc/class2"] == 0.875  # 3.5 of 4 (positive, negative) pairs in order, the tie counted half
    assert m["auc_precision_recall/class2"] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3, abs=1e-12)
    # class 0: probabilities 0.75, 0.5, 0.25, 0.5 for labels 1, 0, 0, 0
    assert (
        m["probability_mean/class0"] == 0.5
        and m["auc/class0"] == 1.0
        and m["auc_precision_recall/class0"] == 1.0
    )
    assert [k for k in m if "class" in k] == [
        "probability_mean/class2",
        "auc/class2",
        "auc_precision_recall/class2",
        "probability_mean/class0",
        "auc/class0",
        "auc_precision_recall/class0",
    ]


def test_class_based_metrics_are_weighted_and_keyed_by_class_name() -> None:
    head = MultiLabelHead(3, label_vocabulary=["a", "b", "c"], classes_for_class_based_metrics=["c"])
    m = head.metrics(
        LOGITS, head.encode_labels([["a", "c"], [], ["c"], ["b"]]), torch.tensor([3.0, 1.0, 1.0, 1.0])
    )
    assert m["probability_mean/c"] == pytest.approx(
        (3 * 0.75 + 0.25 + 0.5 + 0.5) / 6, abs=1e-8
    )  # float32 logits
    assert m["auc/c"] == 0.9375  # (3 + 3 + 1 + 0.5) / 8 weighted pairs
    # a class with one label value has no AUC (nan), as an AUC over one class is undefined
    one = MultiLabelHead(3, classes_for_class_based_metrics=[1]).metrics(LOGITS, torch.zeros(4, 3))
    assert one["probability_mean/class1"] == 0.5 and math.isnan(one["auc/class1"])


def test_a_named_single_head_suffixes_its_metric_keys_but_loss() -> None:
    logits, labels = torch.tensor([[2.0], [0.0]]), torch.tensor([[1.0], [1.0]])
    named = RegressionHead(name="price").metrics(logits, labels)
    plain = RegressionHead().metrics(logits, labels)
    assert named == {("loss" if k == "loss" else f"{k}/price"): v for k, v in plain.items()}
    assert named["loss"] == 1.0 and named["average_loss/price"] == 1.0 and named["mae/price"] == 1.0
    assert RegressionHead(name="price").unnamed_metrics(logits, labels) == plain
    assert named_metric_keys({"loss": 2.0, "auc": 0.5}, None) == {"loss": 2.0, "auc": 0.5}


def test_a_named_head_in_an_estimator_reports_tfs_keys_and_directions(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=64).astype("float32")})
    frame["y"] = (frame.x > 0).astype("int64")
    est = DNNEstimator(
        BinaryClassHead(name="click"),
        [4],
        [fc.numeric_column("x")],
        model_dir=str(tmp_path),
        config=RunConfig(random_seed=0, device="cpu"),
    )
    est.train(frame, label="y", steps=2)
    keys = set(est.evaluate(frame, label="y"))
    assert {
        "loss",
        "global_step",
        "auc/click",
        "accuracy/click",
        "average_loss/click",
        "label/mean/click",
    } <= keys
    assert not {"auc", "accuracy", "average_loss", "loss/click"} & keys
    assert EarlyStopping("auc/click").mode == "max" and EarlyStopping("average_loss/click").mode == "min"
    assert EarlyStopping("auc/rich/tags").mode == "max"  # a class-based metric of a named multi-label head


# -- create_estimator_spec: TF's head API inside a TF-style model_fn ----------------------------------------------


def _frame(n: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=n).astype("float32")
    return pd.DataFrame(
        {
            "x": x,
            "w": rng.uniform(0.5, 2.0, size=n).astype("float32"),
            "y": (x + rng.normal(size=n) > 0).astype("int64"),
        }
    )


def _model_fn(head, **spec_args):
    def model_fn(features, labels, mode):
        scale = layers.get_variable("scale", initializer=torch.tensor([1.0]))
        logits = features["x"].reshape(-1, 1).float() * scale
        return head.create_estimator_spec(features, mode, logits, labels, **spec_args)

    return model_fn


def test_create_estimator_spec_evaluates_the_heads_metrics_exactly(tmp_path) -> None:
    head = BinaryClassHead(weight_column="w", name="click")
    frame = _frame()
    est = Estimator(
        _model_fn(head, train_op_fn=lambda loss: lambda: None),
        model_dir=str(tmp_path),
        config=RunConfig(random_seed=0, device="cpu"),
    )
    est.train(frame, label="y", steps=1)  # a train op that changes nothing: logits stay x
    got = est.evaluate(frame, label="y")
    expected = head.metrics(
        torch.tensor(frame.x.to_numpy()).reshape(-1, 1),
        torch.tensor(frame.y.to_numpy().astype("float32")).reshape(-1, 1),
        torch.tensor(frame.w.to_numpy()),
    )
    assert set(got) == set(expected) | {"global_step"}
    assert got["loss"] == pytest.approx(expected.pop("loss"), rel=1e-6)  # the batches' float32 losses
    assert {k: got[k] for k in expected} == expected
    first = next(iter(est.predict(frame[["x", "w"]])))
    assert first["logistic"].tolist() == pytest.approx([1 / (1 + math.exp(-float(frame.x[0])))], rel=1e-6)
    assert first["class_ids"].tolist() == [int(frame.x[0] > 0)]


def test_create_estimator_spec_trains_with_an_optimizer_name(tmp_path) -> None:
    frame = _frame()
    head = RegressionHead()
    est = Estimator(
        _model_fn(head, optimizer="SGD"),
        params={"learning_rate": 0.1},
        model_dir=str(tmp_path),
        config=RunConfig(random_seed=0, device="cpu"),
    )
    est.train(frame, label="y", steps=1, batch_size=len(frame), shuffle=False)
    x, y = frame.x.to_numpy().astype(np.float64), frame.y.to_numpy().astype(np.float64)
    gradient = np.mean(2 * (x - y) * x)  # d/ds mean((s x - y)^2) at s = 1
    assert float(est.get_variable_value("store.variables.scale")[0]) == pytest.approx(
        1 - 0.1 * gradient, rel=1e-5
    )


def test_create_estimator_spec_refuses_unclear_arguments() -> None:
    head, logits, labels = RegressionHead(), torch.tensor([[1.0]]), torch.tensor([[3.0]])
    with pytest.raises(ValueError, match="exactly one of optimizer .* and train_op_fn"):
        head.create_estimator_spec({}, "train", logits, labels)
    with pytest.raises(ValueError, match="exactly one of optimizer"):
        head.create_estimator_spec(
            {}, "train", logits, labels, optimizer="SGD", train_op_fn=lambda loss: "SGD"
        )
    with pytest.raises(ValueError, match="labels are required in 'eval' mode"):
        head.create_estimator_spec({}, "eval", logits)
    with pytest.raises(ValueError, match="weight_column 'w' is not among the model_fn's features \\['x'\\]"):
        RegressionHead(weight_column="w").create_estimator_spec({"x": logits}, "eval", logits, labels)
    spec = head.create_estimator_spec(
        {}, "train", logits, labels, optimizer="SGD", regularization_losses=[torch.tensor(0.5)]
    )
    assert float(spec.loss) == 4.5 and spec.train_op == "SGD"
    assert head.create_estimator_spec({}, "infer", logits).predictions["predictions"].tolist() == [[1.0]]


def test_binary_thresholds_add_tfs_threshold_metrics() -> None:
    head = BinaryClassHead(thresholds=[0.3, 0.7])
    # probabilities 0.75, 0.25, 0.5, 0.5 for labels 1, 0, 1, 0
    logits, labels = (
        torch.tensor([[LOGIT], [-LOGIT], [0.0], [0.0]]),
        torch.tensor([[1.0], [0.0], [1.0], [0.0]]),
    )
    m = head.metrics(logits, labels)
    assert m["accuracy/positive_threshold_0.3"] == 0.75  # predicted 1, 0, 1, 1
    assert m["precision/positive_threshold_0.3"] == 2 / 3 and m["recall/positive_threshold_0.3"] == 1.0
    assert m["accuracy/positive_threshold_0.7"] == 0.75  # predicted 1, 0, 0, 0
    assert m["precision/positive_threshold_0.7"] == 1.0 and m["recall/positive_threshold_0.7"] == 0.5
    plain = BinaryClassHead().metrics(logits, labels)
    assert {k: v for k, v in m.items() if "threshold" not in k} == plain
    assert head_from_dict(head.to_dict()) == head and "thresholds" not in BinaryClassHead().to_dict()
    with pytest.raises(ValueError, match="thresholds must lie strictly between 0 and 1; received \\[1.5\\]"):
        BinaryClassHead(thresholds=[1.5])


def test_ragged_class_name_labels_from_a_generator_reach_a_multilabel_head() -> None:
    from estlab.inputs.batched import to_batch

    batch = to_batch(({"x": np.zeros(3)}, [["cat", "dog"], ["dog"], []]))
    assert batch.labels.dtype == object and batch.num_rows == 3
    head = MultiLabelHead(2, label_vocabulary=["cat", "dog"])
    assert head.encode_labels(batch.labels).tolist() == [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    assert to_batch(({"x": np.zeros(2)}, [[1, 0], [0, 1]])).labels.tolist() == [
        [1, 0],
        [0, 1],
    ]  # multi-hot stays 2-D
