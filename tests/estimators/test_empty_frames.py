"""``predict_frame`` on a frame without rows: zero rows with the usual prediction columns and their dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.estimators import DNNClassifier, DNNRegressor, LinearClassifier
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")
X = fc.numeric_column("x")
COLOR = fc.categorical_column_with_vocabulary_list("c", ["a", "b"])
CROSSED = fc.crossed_column(["c", fc.bucketized_column(X, [0.0])], 10)  # a crossed column broke empty frames
COLUMNS = [X, fc.indicator_column(COLOR), fc.indicator_column(CROSSED)]


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40), "k": rng.integers(0, 3, 40)}
    )


def _trained(est, frame, y):
    est.train(frame.drop(columns="k").assign(y=y), label="y", steps=2)
    return est


CASES = {
    "binary": (
        lambda d: DNNClassifier([4], COLUMNS, model_dir=d, config=CONFIG),
        lambda f: (f.k > 0).astype(int),
        [
            "logits",
            "logistic",
            "probabilities_0",
            "probabilities_1",
            "class_ids",
            "classes",
            "all_class_ids_0",
            "all_class_ids_1",
            "all_classes_0",
            "all_classes_1",
        ],
    ),
    "multi-class": (
        lambda d: DNNClassifier(
            [4], COLUMNS, n_classes=3, label_vocabulary=["p", "q", "r"], model_dir=d, config=CONFIG
        ),
        lambda f: f.k.map({0: "p", 1: "q", 2: "r"}),
        [
            "logits_p",
            "logits_q",
            "logits_r",
            "probabilities_p",
            "probabilities_q",
            "probabilities_r",
            "class_ids",
            "classes",
            "all_class_ids_0",
            "all_class_ids_1",
            "all_class_ids_2",
            "all_classes_0",
            "all_classes_1",
            "all_classes_2",
        ],
    ),
    "regressor": (
        lambda d: DNNRegressor([4], COLUMNS, model_dir=d, config=CONFIG),
        lambda f: f.k.astype(float),
        ["predictions"],
    ),
    "linear binary": (
        lambda d: LinearClassifier(COLUMNS, label_vocabulary=["no", "yes"], model_dir=d, config=CONFIG),
        lambda f: np.where(f.k > 0, "yes", "no"),
        [
            "logits",
            "logistic",
            "probabilities_no",
            "probabilities_yes",
            "class_ids",
            "classes",
            "all_class_ids_0",
            "all_class_ids_1",
            "all_classes_0",
            "all_classes_1",
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_empty_frame_gives_zero_rows_with_the_usual_columns_and_dtypes(tmp_path, frame, case):
    make, label, columns = CASES[case]
    est = _trained(make(str(tmp_path)), frame, label(frame))
    features = frame.drop(columns="k")
    full = est.predict_frame(features.iloc[:3])
    empty = est.predict_frame(features.iloc[:0])
    assert list(full.columns) == columns
    assert list(empty.columns) == columns
    assert empty.shape == (0, len(columns))
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert empty.index.equals(features.iloc[:0].index)
    assert list(est.predict(features.iloc[:0])) == []  # one dict per example: none


def test_dtypes_are_those_of_real_predictions(tmp_path, frame):
    make, label, _ = CASES["multi-class"]
    est = _trained(make(str(tmp_path)), frame, label(frame))
    empty = est.predict_frame(frame.drop(columns="k").iloc[:0])
    assert str(empty["probabilities_p"].dtype) == "float32"
    assert str(empty["class_ids"].dtype) == "int64"
    assert pd.api.types.is_string_dtype(empty["classes"])


def test_predict_keys_pick_columns_of_an_empty_frame(tmp_path, frame):
    make, label, _ = CASES["binary"]
    est = _trained(make(str(tmp_path)), frame, label(frame))
    empty = est.predict_frame(frame.drop(columns="k").iloc[:0], predict_keys=["probabilities", "classes"])
    assert list(empty.columns) == ["probabilities_0", "probabilities_1", "classes"]
    with pytest.raises(ValueError, match=r"predict_keys: \['nope'\] are not predictions of this model"):
        est.predict_frame(frame.drop(columns="k").iloc[:0], predict_keys=["nope"])


def test_an_empty_frame_still_needs_the_feature_columns(tmp_path, frame):
    make, label, _ = CASES["regressor"]
    est = _trained(make(str(tmp_path)), frame, label(frame))
    with pytest.raises(ValueError, match="'c'"):
        est.predict_frame(frame.drop(columns=["k", "c"]).iloc[:0])


def test_an_empty_dict_of_arrays_predicts_zero_rows(tmp_path, frame):
    make, label, columns = CASES["regressor"]
    est = _trained(make(str(tmp_path)), frame, label(frame))
    empty = est.predict_frame({"x": np.zeros(0), "c": np.array([], dtype=object)})
    assert list(empty.columns) == columns and len(empty) == 0
