"""LightGBM trees converted to tensors predict exactly what LightGBM does; checkpoints round-trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import BoostedTreesClassifier
from estlab.estimators.tree_ensemble import TreeEnsemble
from estlab.training.config import RunConfig

lgb = pytest.importorskip("lightgbm")


def _data(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 3] = rng.integers(0, 3, n)
    y = (np.nan_to_num(x[:, 0]) + 0.5 * x[:, 3] + 0.3 * rng.normal(size=n) > 0.5).astype(float)
    return x, y


@pytest.mark.parametrize(
    ("params", "target"),
    [({"objective": "binary"}, "binary"), ({"objective": "multiclass", "num_class": 3}, "class"),
     ({"objective": "regression"}, "regression"), ({"objective": "binary", "zero_as_missing": True}, "binary")],
)
def test_tensor_trees_match_lightgbm_raw_scores(params: dict, target: str) -> None:
    x, y = _data()
    label = {"binary": y, "class": x[:, 3], "regression": np.nan_to_num(x[:, 1]) * 2}[target]
    booster = lgb.train({**params, "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}, lgb.Dataset(x, label), 15)
    ensemble = TreeEnsemble(params.get("num_class", 1)).load_lightgbm(booster)
    probe = x.copy()
    probe[:10, 0] = 0.0  # exact zeros exercise the "Zero" missing type
    expected = booster.predict(probe, raw_score=True).reshape(len(probe), -1)
    got = ensemble(torch.as_tensor(probe)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert ensemble.num_trees == 15 * params.get("num_class", 1)


def test_state_dict_loads_into_a_fresh_module() -> None:
    x, y = _data()
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 5)
    fitted = TreeEnsemble(1).load_lightgbm(booster)
    fresh = TreeEnsemble(1)
    fresh.load_state_dict(fitted.state_dict())
    probe = torch.as_tensor(x[:50])
    assert torch.equal(fresh(probe), fitted(probe))
    assert fresh.depth_steps.shape == fitted.depth_steps.shape


def test_boosted_trees_classifier_predicts_like_lightgbm(tmp_path) -> None:
    x, y = _data(300)
    frame = pd.DataFrame({"a": np.nan_to_num(x[:, 0]), "b": np.nan_to_num(x[:, 1]), "label": y.astype(int)})
    columns = [fc.numeric_column("a"), fc.numeric_column("b")]
    est = BoostedTreesClassifier(columns, model_dir=str(tmp_path), n_trees=10, num_threads=1,
                                 config=RunConfig(random_seed=0, tensorboard=False))
    est.train(frame, label="label")
    booster = lgb.train(est._lightgbm_params(len(frame)), lgb.Dataset(frame[["a", "b"]].to_numpy(), y), 10)
    expected = booster.predict(frame[["a", "b"]].to_numpy())
    got = np.array([p["logistic"][0] for p in est.predict(frame.drop(columns=["label"]))])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(est.get_variable_value("trees.feature")) == 10
