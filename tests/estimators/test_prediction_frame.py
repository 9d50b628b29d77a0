"""predict_frame from whole blocks, string columns taken from class names: the frame the general conversion
(per-batch arrays, every string converted) makes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import (
    DNNClassifier,
    LinearClassifier,
    LinearRegressor,
    inference,
)
from estlab.estimators.heads import BinaryClassHead, MultiClassHead, MultiLabelHead, RegressionHead
from estlab.prediction_frame import predictions_frame
from estlab.training.config import RunConfig


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 150
    x = rng.normal(size=n).astype("float32")
    color = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame({"x": x, "color": color, "y2": np.where(x > 0, "yes", "no"),
                         "y3": np.where(x > 0.5, "hi", np.where(x < -0.5, "lo", "mid")), "r": x * 2.0},
                        index=pd.RangeIndex(1000, 1000 + n, name="row"))


def _columns() -> list:
    return [fc.numeric_column("x"), fc.indicator_column(fc.categorical_column_with_vocabulary_list(
        "color", ["red", "green", "blue"]))]


CASES = {
    "binary_vocab": lambda d: DNNClassifier(hidden_units=[4], feature_columns=_columns(), label_vocabulary=["no", "yes"],
                                            model_dir=d, config=RunConfig(random_seed=0)),
    "binary_ids": lambda d: LinearClassifier(feature_columns=_columns(), model_dir=d, config=RunConfig(random_seed=0)),
    "multiclass": lambda d: LinearClassifier(feature_columns=_columns(), n_classes=3, label_vocabulary=["lo", "mid", "hi"],
                                             model_dir=d, config=RunConfig(random_seed=0)),
    "regression": lambda d: LinearRegressor(feature_columns=_columns(), model_dir=d, config=RunConfig(random_seed=0)),
}
LABELS = {"binary_vocab": "y2", "binary_ids": "y2", "multiclass": "y3", "regression": "r"}


def _train(case: str, tmp_path, frame: pd.DataFrame):
    est = CASES[case](str(tmp_path / case))
    train = frame.copy()
    if case == "binary_ids":
        train["y2"] = (train["y2"] == "yes").astype(int)
    features = train.drop(columns=[c for c in ("y2", "y3", "r") if c != LABELS[case]])
    est.train(features, label=LABELS[case], steps=3, batch_size=32)
    return est, frame[["x", "color"]]


def _reference(est, features, batch_size: int, keys=None) -> pd.DataFrame:
    """The general conversion: per-batch arrays, no class-name coding."""
    batches = est.predict(features, yield_single_examples=False, batch_size=batch_size)
    index = features.index if isinstance(features, pd.DataFrame) else None
    return predictions_frame(batches, index=index, keys=keys)


def _assert_identical(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.columns) == list(want.columns)
    assert [str(t) for t in got.dtypes] == [str(t) for t in want.dtypes]
    for column in got.columns:
        assert type(got[column].array) is type(want[column].array), column


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("block_rows", [64, 1 << 16])
def test_predict_frame_is_the_frame_of_the_per_batch_predictions(case, block_rows, tmp_path, frame,
                                                                 monkeypatch) -> None:
    monkeypatch.setattr(inference, "PREDICTION_BLOCK_ROWS", block_rows)  # 64: several blocks, a partial last one
    est, features = _train(case, tmp_path, frame)
    got = est.predict_frame(features, batch_size=16)
    _assert_identical(got, _reference(est, features, 16))
    assert list(got.index) == list(features.index)
    if case != "regression":
        assert got["all_classes_0"].dtype == "str"
        rows = list(est.predict(features, batch_size=16))
        if "classes" in got:
            assert got["classes"].tolist() == [r["classes"][0] for r in rows]


@pytest.mark.parametrize("keys", [["classes"], ["probabilities", "class_ids"], "all_classes"])
def test_predict_keys_pick_the_same_columns(keys, tmp_path, frame) -> None:
    est, features = _train("multiclass", tmp_path, frame)
    want = _reference(est, features, 20, keys=[keys] if isinstance(keys, str) else keys)
    _assert_identical(est.predict_frame(features, predict_keys=keys, batch_size=20), want)
    assert list(est.predict_frame(features, predict_keys=["classes"])["classes"].unique()) != []


def test_a_multi_label_frame_takes_its_class_columns_from_the_names(tmp_path, monkeypatch) -> None:
    from estlab.estimators import DNNEstimator

    monkeypatch.setattr(inference, "PREDICTION_BLOCK_ROWS", 32)
    x = np.random.default_rng(1).normal(size=90).astype("float32")
    labels = np.stack([x > 0, x > 1, x < -1], 1).astype(np.float32)
    est = DNNEstimator(head=MultiLabelHead(n_classes=3, label_vocabulary=["a", "b", "c"]), hidden_units=[4],
                       feature_columns=[fc.numeric_column("x")], model_dir=str(tmp_path / "ml"),
                       config=RunConfig(random_seed=0))
    est.train({"x": x, "y": labels}, label="y", steps=2, batch_size=16)
    got = est.predict_frame({"x": x}, batch_size=16)
    _assert_identical(got, _reference(est, {"x": x}, 16))
    assert got.columns.tolist()[:3] == ["logits_a", "logits_b", "logits_c"]
    assert got["all_classes_2"].tolist() == ["c"] * 90


def test_an_unknown_key_names_the_valid_ones(tmp_path, frame) -> None:
    est, features = _train("binary_ids", tmp_path, frame)
    with pytest.raises(ValueError, match=r"predict_keys: \['nope'\] are not predictions of this model"):
        est.predict_frame(features, predict_keys=["nope"])


def test_zero_rows_give_the_usual_columns(tmp_path, frame) -> None:
    est, features = _train("binary_vocab", tmp_path, frame)
    _assert_identical(est.predict_frame(features.iloc[:0]), _reference(est, features.iloc[:0], 16))


def test_heads_declare_their_coded_string_predictions() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.0, 4.0]])
    heads = [BinaryClassHead(label_vocabulary=["a", "b"]), MultiClassHead(n_classes=3, label_vocabulary=["x", "y", "z"]),
             MultiLabelHead(n_classes=3), RegressionHead()]
    for head in heads:
        dim = head.logits_dimension
        predictions = {k: v.numpy() if isinstance(v, torch.Tensor) else v
                       for k, v in head.predictions(logits[:, :dim]).items()}
        for key, (ids_key, names) in head.coded_predictions().items():
            np.testing.assert_array_equal(predictions[key], names[predictions[ids_key]])
    assert RegressionHead().coded_predictions() == {}


def test_a_subclass_changing_predictions_declares_nothing() -> None:
    class Renamed(BinaryClassHead):
        def predictions(self, logits):  # noqa: ANN001, ANN202
            out = super().predictions(logits)
            out["classes"] = np.full_like(out["classes"], "other")
            return out

    assert Renamed().coded_predictions() == {}


def test_coded_columns_fall_back_when_the_ids_do_not_fit() -> None:
    names = np.array(["a", "b"], dtype=object)
    block = {"class_ids": np.array([[1], [0]]), "classes": np.array([["b"], ["a"]], dtype=object)}
    coded = {"classes": ("missing_ids", names)}
    assert predictions_frame([block], coded=coded)["classes"].tolist() == ["b", "a"]
    assert predictions_frame([block], coded={"classes": ("class_ids", np.array([1, 2], dtype=object))})[
        "classes"].tolist() == ["b", "a"]  # non-string names: converted row by row
    assert predictions_frame([block, block], coded={"classes": ("class_ids", names)})["classes"].tolist() == [
        "b", "a", "b", "a"]
