"""Premade modules: layer layout, wide-and-deep optimizer split, warm start, stored parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from estlab import feature_column as fc
from estlab.estimators import DNNClassifier, DNNLinearCombinedClassifier, DNNRegressor, LinearRegressor
from estlab.features import FeatureTransformer
from estlab.training.config import RunConfig

X, H = fc.numeric_column("x"), fc.numeric_column("h")
COLOR = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])
CONFIG = RunConfig(random_seed=0, tensorboard=False)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=32)
    return pd.DataFrame({"x": x, "h": rng.normal(size=32), "color": rng.choice(["red", "blue"], 32),
                         "y": 2.0 * x - 1.0})


def test_dnn_layers_follow_tf_order(tmp_path) -> None:
    est = DNNClassifier([5, 3], [X, H], n_classes=4, dropout=0.25, batch_norm=True, activation_fn="tanh",
                        model_dir=str(tmp_path))
    module = est._build_module(FeatureTransformer([X, H]).fit(pd.DataFrame({"x": [0.0, 1.0], "h": [1.0, 2.0]})))
    kinds = [type(m).__name__ for m in module.hidden]
    assert kinds == ["Linear", "Tanh", "Dropout", "BatchNorm1d", "Linear", "Tanh", "Dropout", "BatchNorm1d"]
    assert module.hidden[0].in_features == 2 and module.logits.out_features == 4
    assert module.hidden[2].p == 0.25


def test_activation_function_may_be_a_plain_function(tmp_path) -> None:
    est = DNNRegressor([2], [X], activation_fn=torch.sin, normalize_labels=False, model_dir=str(tmp_path))
    module = est._build_module(FeatureTransformer([X]).fit(pd.DataFrame({"x": [0.0, 1.0]})))
    layer = module.hidden[0]
    layer.weight.data.fill_(1.0)
    layer.bias.data.zero_()
    assert torch.allclose(module.hidden(torch.tensor([[0.5]])), torch.sin(torch.tensor([[0.5, 0.5]])))
    assert est._estimator_params()["activation_fn"] == "torch.sin"


def test_wide_and_deep_has_one_optimizer_per_part(frame: pd.DataFrame, tmp_path) -> None:
    est = DNNLinearCombinedClassifier(
        linear_feature_columns=[COLOR], dnn_feature_columns=[X, H], dnn_hidden_units=[4],
        linear_optimizer="SGD", linear_learning_rate=0.5, dnn_optimizer="RMSProp", model_dir=str(tmp_path),
    )
    transformer = FeatureTransformer(est._feature_columns()).fit(frame)
    module = est._build_module(transformer)
    linear_opt, dnn_opt = est._build_optimizers(module)
    assert type(linear_opt) is torch.optim.SGD and linear_opt.param_groups[0]["lr"] == 0.5
    assert type(dnn_opt) is torch.optim.RMSprop and dnn_opt.param_groups[0]["lr"] == 0.001
    linear_ids = {id(p) for p in module.linear.parameters()}
    assert {id(p) for g in linear_opt.param_groups for p in g["params"]} == linear_ids
    assert not linear_ids & {id(p) for g in dnn_opt.param_groups for p in g["params"]}
    encoded = transformer.transform(frame)
    expected = module.linear(encoded) + module.dnn(encoded)
    assert torch.allclose(module(encoded), expected)


def test_wide_only_and_deep_only(frame: pd.DataFrame, tmp_path) -> None:
    wide = DNNLinearCombinedClassifier(linear_feature_columns=[COLOR], model_dir=str(tmp_path / "w"))
    module = wide._build_module(FeatureTransformer([COLOR]).fit(frame))
    assert module.dnn is None and len(wide._build_optimizers(module)) == 1


def test_linear_regressor_learns_the_line(frame: pd.DataFrame, tmp_path) -> None:
    est = LinearRegressor([X], optimizer="Adam", learning_rate=0.1, normalize_labels=False, model_dir=str(tmp_path),
                          config=CONFIG)
    est.train(frame[["x", "y"]], label="y", steps=300, batch_size=32)
    assert est.evaluate(frame[["x", "y"]], label="y")["rmse"] < 0.05
    names = est.get_variable_names()
    weight = [n for n in names if n != "bias" and not n.endswith("bias")][0]
    assert est.get_variable_value(weight).ravel()[0] == pytest.approx(2.0, abs=0.05)


def test_warm_start_copies_matching_variables(frame: pd.DataFrame, tmp_path) -> None:
    data = frame[["x", "h", "y"]].assign(y=(frame["y"] > 0).astype(int))
    first = DNNClassifier([4], [X, H], model_dir=str(tmp_path / "a"), config=CONFIG)
    first.train(data, label="y", steps=5, batch_size=8)
    second = DNNClassifier([4], [X, H], model_dir=str(tmp_path / "b"), warm_start_from=str(tmp_path / "a"),
                           optimizer=lambda params: torch.optim.SGD(params, lr=0.0),
                           config=RunConfig(random_seed=7, tensorboard=False))
    second.train(data, label="y", steps=1, batch_size=8)
    for name in first.get_variable_names():
        np.testing.assert_array_equal(second.get_variable_value(name), first.get_variable_value(name))


def test_repr_and_params_are_plain(tmp_path) -> None:
    est = DNNLinearCombinedClassifier(linear_feature_columns=[COLOR], dnn_feature_columns=[X],
                                      dnn_optimizer=lambda p: torch.optim.Adam(p), model_dir=str(tmp_path))
    params = est._estimator_params()
    assert params["linear_feature_columns"] == ["color"] and params["dnn_hidden_units"] == [128, 64]
    assert params["dnn_optimizer"].endswith("test_premade.<lambda>")
    assert repr(est) == (
        "DNNLinearCombinedClassifier(linear_feature_columns=['color'], dnn_feature_columns=['x'], "
        f"dnn_optimizer={params['dnn_optimizer']!r}, model_dir={str(tmp_path)!r})"
    )
    assert isinstance(est._build_module(FeatureTransformer([COLOR, X]).fit(
        pd.DataFrame({"color": ["red"], "x": [1.0]}))), nn.Module)


def test_normalize_labels_learns_far_from_zero_labels_with_defaults(frame: pd.DataFrame, tmp_path) -> None:
    data = frame[["x", "h"]].assign(price=1000.0 + 200.0 * frame["x"], w=np.r_[np.ones(16), 3 * np.ones(16)])
    scaled = LinearRegressor([X, H], weight_column="w", model_dir=str(tmp_path / "s"), config=CONFIG)
    scaled.train(data, label="price", steps=100, batch_size=32)
    raw = LinearRegressor([X, H], weight_column="w", normalize_labels=False, model_dir=str(tmp_path / "r"),
                          config=CONFIG)
    raw.train(data, label="price", steps=100, batch_size=32)
    spread = data["price"].std()
    assert scaled.evaluate(data, label="price")["rmse"] < 0.05 * spread
    assert raw.evaluate(data, label="price")["rmse"] > 3 * spread
    w = data["w"].to_numpy()
    mean = np.average(data["price"], weights=w)
    std = np.sqrt(np.average((data["price"] - mean) ** 2, weights=w))
    assert scaled.get_variable_value("label_mean")[0] == pytest.approx(mean, rel=1e-6)
    assert scaled.get_variable_value("label_scale")[0] == pytest.approx(std, rel=1e-5)
    resumed = LinearRegressor([X, H], weight_column="w", model_dir=str(tmp_path / "s"), config=CONFIG)
    resumed.train(data.assign(price=data["price"] * 10), label="price", steps=1)  # keeps the stored statistics
    assert resumed.get_variable_value("label_mean")[0] == pytest.approx(mean, rel=1e-6)
