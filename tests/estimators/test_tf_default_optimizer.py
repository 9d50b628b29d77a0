"""``optimizer=None`` means TF's default optimizer and learning rate for each premade estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.estimators import (
    DNNClassifier,
    DNNLinearCombinedClassifier,
    DNNRegressor,
    LinearClassifier,
    LinearRegressor,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    x = np.linspace(0.0, 1.0, 32)
    return pd.DataFrame({"a": x, "b": x[::-1], "c": x * 2, "d": x - 1, "y": (x > 0.5).astype(int)})


def optimizers(estimator) -> list[tuple[str, float]]:
    return [(type(o).__name__, o.param_groups[0]["lr"]) for o in estimator._models.state.optimizers]


@pytest.mark.parametrize("cls", [LinearClassifier, LinearRegressor])
def test_linear_none_is_ftrl_at_min_of_0_2_and_one_over_sqrt_columns(tmp_path, frame, cls):
    columns = [fc.numeric_column(k) for k in "abcd"]  # 4 columns: min(0.2, 1/2) = 0.2
    est = cls(columns, str(tmp_path / "four"), optimizer=None).train(frame, label="y", steps=1)
    assert optimizers(est) == [("Ftrl", 0.2)]
    wide = frame.assign(**{f"x{i}": frame["a"] * i for i in range(32)})
    many = [fc.numeric_column(k) for k in "abcd"] + [fc.numeric_column(f"x{i}") for i in range(32)]  # 36: 1/6
    est = cls(many, str(tmp_path / "many"), optimizer=None).train(wide, label="y", steps=1)
    assert optimizers(est) == [("Ftrl", pytest.approx(1 / 6))]


@pytest.mark.parametrize("cls", [DNNClassifier, DNNRegressor])
def test_dnn_none_is_adagrad_at_0_05(tmp_path, frame, cls):
    est = cls([4], [fc.numeric_column("a")], str(tmp_path / "m"), optimizer=None).train(frame, label="y", steps=1)
    assert optimizers(est) == [("Adagrad", 0.05)]


def test_wide_and_deep_none_is_ftrl_0_005_and_adagrad_0_001(tmp_path, frame):
    est = DNNLinearCombinedClassifier(str(tmp_path / "m"), linear_feature_columns=[fc.numeric_column("a")],
                                      linear_optimizer=None, dnn_feature_columns=[fc.numeric_column("b")],
                                      dnn_optimizer=None, dnn_hidden_units=[4])
    assert optimizers(est.train(frame, label="y", steps=1)) == [("Ftrl", 0.005), ("Adagrad", 0.001)]


def test_estlab_defaults_are_kept_when_optimizer_is_not_given(tmp_path, frame):
    est = DNNClassifier([4], [fc.numeric_column("a")], str(tmp_path / "m")).train(frame, label="y", steps=1)
    assert optimizers(est) == [("Adam", 0.001)]
