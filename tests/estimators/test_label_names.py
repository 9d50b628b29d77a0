"""Label errors name the label column (the regression bounds, non-numeric and class errors alike)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.estimators import DNNRegressor, LinearClassifier, LinearRegressor
from estlab.estimators.heads import RegressionHead, encode_named_labels, label_name
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": np.linspace(-1, 1, 8), "price": np.linspace(0, 7, 8)})


@pytest.mark.parametrize(("bad", "what"), [(np.inf, "not finite"), (1e30, r"beyond \+-1e\+17")])
def test_a_regression_label_error_names_the_label_column(tmp_path, frame, bad, what):
    est = LinearRegressor([fc.numeric_column("x")], model_dir=str(tmp_path), config=CONFIG)
    frame.loc[3, "price"] = bad
    with pytest.raises(
        ValueError, match=rf"^label column 'price': 1 regression label\(s\) are {what} \(first: "
    ):
        est.train(frame, label="price", steps=1)


def test_normalized_regressors_name_it_too(tmp_path, frame):
    est = DNNRegressor(
        [2], [fc.numeric_column("x")], normalize_labels=True, model_dir=str(tmp_path), config=CONFIG
    )
    frame.loc[0, "price"] = -np.inf
    with pytest.raises(ValueError, match=r"^label column 'price': 1 regression label\(s\) are not finite"):
        est.train(frame, label="price", steps=1)


def test_a_dict_input_and_an_evaluation_label_are_named(tmp_path, frame):
    est = LinearRegressor([fc.numeric_column("x")], model_dir=str(tmp_path), config=CONFIG)
    data = {"x": frame["x"].to_numpy(), "price": frame["price"].to_numpy()}
    est.train(data, label="price", steps=1)
    bad = {**data, "cost": np.array(["a"] * 8, dtype=object)}
    with pytest.raises(ValueError, match=r"^label column 'cost': regression labels must be numeric"):
        est.evaluate(bad, label="cost")


def test_classification_label_errors_are_named(tmp_path, frame):
    est = LinearClassifier(
        [fc.numeric_column("x")], label_vocabulary=["lo", "hi"], model_dir=str(tmp_path), config=CONFIG
    )
    with pytest.raises(ValueError, match=r"^label column 'kind': label 'mid' is not in label_vocabulary"):
        est.train(frame.assign(kind=["lo", "hi", "mid", "lo", "hi", "lo", "hi", "lo"]), label="kind", steps=1)


def test_label_name_and_unnamed_labels():
    assert label_name(pd.DataFrame({"a": [1], "b": [2]})) == "label columns ['a', 'b']"
    assert label_name({"a": [1]}) == "label column 'a'"
    assert label_name(np.zeros(2), "y") == "label column 'y'"
    assert label_name(np.zeros(2)) is None
    with pytest.raises(
        ValueError, match=r"^1 regression label\(s\) are not finite"
    ):  # nothing to name: as before
        encode_named_labels(RegressionHead(), np.array([np.inf]))
