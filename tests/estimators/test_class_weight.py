"""``class_weight`` of the premade classifiers: exact weighted loss, equal to the same weights given per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from estlab.estimators import BaselineClassifier, DNNClassifier, LinearClassifier
from estlab.estimators.class_weight import ClassWeightedHead, apply_class_weights, resolve_class_weights
from estlab.estimators.heads import make_head
from estlab.features import numeric_column
from estlab.training.config import RunConfig

COLUMNS = [numeric_column("a"), numeric_column("b")]


@pytest.fixture
def frame(binary_frame):
    """binary_frame with example weights ``w`` in {0.5, 1, 2} (exact in float32)."""
    return binary_frame.assign(w=np.tile([0.5, 1.0, 2.0, 1.0], len(binary_frame) // 4))


def test_binary_and_multiclass_losses_are_exact():
    logits = torch.tensor([[0.3], [-1.2], [2.0], [0.0]])
    labels = torch.tensor([[1.0], [0.0], [0.0], [1.0]])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0])
    inner = make_head(2, weight_column="w")
    head = ClassWeightedHead(inner, resolve_class_weights({0: 4.0}, inner, None))
    per_row = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").reshape(-1)
    expected = (per_row * w * torch.tensor([1.0, 4.0, 4.0, 1.0])).sum() / 4  # sum_over_batch_size
    assert torch.equal(head.loss(logits, labels, w), expected)
    multi = make_head(3, label_vocabulary=["x", "y", "z"], loss_reduction="sum")
    multi = ClassWeightedHead(multi, resolve_class_weights({"z": 0.25, "x": 2.0}, multi, None))
    logits3 = torch.tensor([[0.1, 0.2, 0.3], [1.0, -1.0, 0.0], [0.0, 0.0, 2.0]])
    ids = torch.tensor([2, 0, 1])
    ce = F.cross_entropy(logits3, ids, reduction="none")
    assert torch.equal(multi.loss(logits3, ids), (ce * torch.tensor([0.25, 2.0, 1.0])).sum())
    # without class weights the head is unchanged
    assert torch.equal(make_head(2).loss(logits, labels), per_row.mean())


def test_balanced_weights_follow_the_counts():
    head = make_head(3)
    weights = resolve_class_weights("balanced", head, torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2]))
    assert weights.dtype == torch.float32  # n / (K * n_c) = 12 / (3 * [4, 2, 6])
    np.testing.assert_array_equal(weights.numpy(), np.array([1.0, 2.0, 12 / 18], dtype=np.float32))
    assert apply_class_weights(None, torch.tensor([1]), None) is None


def _logits(est, frame):
    return est.predict_frame(frame)["logits"].to_numpy()


@pytest.mark.parametrize("make", [
    lambda **kw: LinearClassifier(COLUMNS, optimizer="SGD", learning_rate=0.5, **kw),
    lambda **kw: DNNClassifier([4], COLUMNS, optimizer="SGD", learning_rate=0.1, **kw),
], ids=["linear", "dnn"])
def test_training_equals_the_same_weights_given_per_row(make, frame, tmp_path):
    cw = {0: 1.0, 1: 3.0}
    frame = frame.assign(w_times_cw=frame["w"] * frame["y"].map(cw))
    config = RunConfig(random_seed=0)
    weighted = make(weight_column="w", class_weight=cw, model_dir=str(tmp_path / "cw"), config=config)
    by_rows = make(weight_column="w_times_cw", model_dir=str(tmp_path / "rows"), config=config)
    plain = make(weight_column="w", model_dir=str(tmp_path / "plain"), config=config)
    for est in (weighted, by_rows, plain):
        est.train(frame, label="y", steps=6, batch_size=16)
    np.testing.assert_array_equal(_logits(weighted, frame), _logits(by_rows, frame))
    assert not np.array_equal(_logits(weighted, frame), _logits(plain, frame))
    # evaluation is weighted by weight_column only: the class-weighted model scores like any other model
    assert weighted.evaluate(frame, label="y")["loss"] != by_rows.evaluate(frame, label="y")["loss"]


def test_balanced_with_a_vocabulary_and_a_full_batch_learner(tmp_path):
    frame = pd.DataFrame({"x": np.zeros(8, dtype="float32"), "y": ["no"] * 6 + ["yes"] * 2})
    balanced = {"no": 8 / (2 * 6), "yes": 8 / (2 * 2)}
    frame["w"] = frame["y"].map(balanced)
    for name, cls_kwargs in [("baseline", {}), ("linear", {"feature_columns": [numeric_column("x")]})]:
        cls = BaselineClassifier if name == "baseline" else LinearClassifier
        a = cls(label_vocabulary=["no", "yes"], class_weight="balanced", model_dir=str(tmp_path / f"{name}_a"),
                config=RunConfig(random_seed=0), **cls_kwargs).train(frame, label="y", steps=5)
        b = cls(label_vocabulary=["no", "yes"], weight_column="w", model_dir=str(tmp_path / f"{name}_b"),
                config=RunConfig(random_seed=0), **cls_kwargs).train(frame, label="y", steps=5)
        np.testing.assert_array_equal(_logits(a, frame), _logits(b, frame))
        assert a.get_params()["class_weight"] == "balanced"
        if name == "baseline":  # balanced weights make the classes weigh the same: a fitted bias of (almost) 0
            assert abs(_logits(a, frame)[0]) < 1e-6 and abs(_logits(cls(
                label_vocabulary=["no", "yes"], model_dir=str(tmp_path / "unweighted")).train(
                frame, label="y", steps=5), frame)[0] - np.log(2 / 6)) < 1e-6


def test_class_weight_errors_name_the_problem(frame, tmp_path):
    with pytest.raises(ValueError, match=r"class_weight names class 'cat', which is not a class of this "
                                         r"classifier; its classes are \[0, 1\]"):
        LinearClassifier(COLUMNS, class_weight={"cat": 2.0}, model_dir=str(tmp_path / "a")).train(
            frame, label="y", steps=1)
    with pytest.raises(ValueError, match=r"class_weight must be None, 'balanced' or a dict .*received 'auto'"):
        LinearClassifier(COLUMNS, class_weight="auto", model_dir=str(tmp_path / "b")).train(frame, label="y", steps=1)
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite number >= 0; received -1"):
        LinearClassifier(COLUMNS, class_weight={1: -1}, model_dir=str(tmp_path / "c")).train(frame, label="y", steps=1)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no rows in the training input"):
        LinearClassifier(COLUMNS, class_weight="balanced", model_dir=str(tmp_path / "d")).train(
            frame[frame["y"] == 0], label="y", steps=1)


def test_boosted_trees_fit_with_the_class_weighted_example_weights(frame, tmp_path):
    pytest.importorskip("lightgbm")
    from estlab.estimators import BoostedTreesClassifier

    cw = {0: 1.0, 1: 3.0}
    noisy = (frame["a"] + np.random.default_rng(1).normal(size=len(frame)) > 0).astype(int)  # no pure leaves
    frame = frame.assign(y=noisy, w_times_cw=frame["w"] * noisy.map(cw))
    made = [BoostedTreesClassifier(COLUMNS, n_batches_per_layer=1, n_trees=3, model_dir=str(tmp_path / name), **kw)
            for name, kw in [("cw", {"weight_column": "w", "class_weight": cw}),
                             ("rows", {"weight_column": "w_times_cw"}), ("plain", {"weight_column": "w"})]]
    weighted, by_rows, plain = (est.train(frame, label="y") for est in made)
    np.testing.assert_array_equal(_logits(weighted, frame), _logits(by_rows, frame))
    assert not np.array_equal(_logits(weighted, frame), _logits(plain, frame))


def test_sklearn_classifier_maps_class_weight_to_its_class_ids(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    from estlab.sklearn import EstlabClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 2)).astype("float32")
    y = np.where(X[:, 0] > 0.5, "yes", "no")
    kw = {"num_epochs": 3, "batch_size": 16, "model_dir": str(tmp_path)}
    weighted = EstlabClassifier("linear", class_weight={"yes": 3.0}, **kw).fit(X, y)
    assert weighted.estimator_.class_weight == {1: 3.0} and clone(weighted).get_params()["class_weight"] == {"yes": 3.0}
    plain = EstlabClassifier("linear", **kw).fit(X, y)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()  # "yes" pulled up
    with pytest.raises(ValueError, match=r"class_weight names \['maybe'\], which are not labels of y"):
        EstlabClassifier("linear", class_weight={"maybe": 2.0}, **kw).fit(X, y)
