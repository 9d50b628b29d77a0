"""Boosted trees as TF's tutorial uses them: TF's parameter order, center_bias, importances, explanations."""

from __future__ import annotations

import collections
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab._util import IgnoredArgumentWarning
from estlab.estimators import BoostedTreesClassifier, BoostedTreesRegressor
from estlab.estimators.tree_ensemble import TreeEnsemble
from estlab.training.config import RunConfig

lgb = pytest.importorskip("lightgbm")

TF_CLASSIFIER_ORDER = ["feature_columns", "n_batches_per_layer", "model_dir", "n_classes", "weight_column",
                       "label_vocabulary", "n_trees", "max_depth", "learning_rate", "l1_regularization",
                       "l2_regularization", "tree_complexity", "min_node_weight", "config", "center_bias",
                       "pruning_mode", "quantile_sketch_epsilon", "train_in_memory"]
TF_REGRESSOR_ORDER = ["feature_columns", "n_batches_per_layer", "model_dir", "label_dimension", "weight_column",
                      "n_trees", "max_depth", "learning_rate", "l1_regularization", "l2_regularization",
                      "tree_complexity", "min_node_weight", "config", "center_bias", "pruning_mode",
                      "quantile_sketch_epsilon", "train_in_memory"]
X = fc.numeric_column("x")


def _config() -> RunConfig:
    return RunConfig(random_seed=0, tensorboard=False)


def _hand_frame() -> pd.DataFrame:
    """10 rows x=0 (label 0) and 30 rows x=1 (label 1); z alternates and carries no signal."""
    x = np.array([0.0] * 10 + [1.0] * 30)
    return pd.DataFrame({"x": x, "z": np.tile([0.0, 1.0], 20), "y": x.astype(int)})


def _titanic_like(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A frame shaped like TF's tutorial data: string categoricals and float numerics."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["male", "female"], n)
    klass = rng.choice(["First", "Second", "Third"], n)
    age = rng.uniform(1, 80, n).astype(np.float32)
    fare = rng.exponential(30, n).astype(np.float32)
    logit = 1.5 * (sex == "female") - 0.8 * (klass == "Third") + 0.01 * fare - 0.02 * (age - 30)
    survived = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"sex": sex, "class": klass, "age": age, "fare": fare, "survived": survived})


def _tutorial_columns() -> list:
    return [fc.indicator_column(fc.categorical_column_with_vocabulary_list("sex", ["male", "female"])),
            fc.indicator_column(fc.categorical_column_with_vocabulary_list("class", ["First", "Second", "Third"])),
            fc.numeric_column("age"), fc.numeric_column("fare")]


def test_parameters_follow_tf_order_and_extras_are_keyword_only(tmp_path) -> None:
    assert BoostedTreesClassifier._param_names()[:18] == TF_CLASSIFIER_ORDER
    assert BoostedTreesRegressor._param_names()[:17] == TF_REGRESSOR_ORDER
    est = BoostedTreesClassifier([X], 1, str(tmp_path))  # TF's BoostedTreesClassifier(cols, n_batches_per_layer, dir)
    assert est.n_batches_per_layer == 1 and est.model_dir == str(tmp_path)
    reg = BoostedTreesRegressor([X], 4, None, 1, None, 50, 3, 0.3)
    assert (reg.label_dimension, reg.n_trees, reg.max_depth, reg.learning_rate) == (1, 50, 3, 0.3)
    with pytest.raises(TypeError):
        BoostedTreesClassifier([X], 1, None, 2, None, None, 100, 6, 0.1, 0.0, 0.0, 0.0, 0.0, None, False, "none",
                               0.01, False, 31)  # num_leaves is not TF's: keyword-only


def test_old_positional_model_dir_is_named_in_the_error() -> None:
    est = BoostedTreesClassifier([X], "/tmp/somewhere", model_dir=None)
    with pytest.raises(ValueError, match=r"n_batches_per_layer='/tmp/somewhere' is not a number; the second "
                                         r"positional parameter is TF's n_batches_per_layer, so pass the model "
                                         r"directory as model_dir=\.\.\."):
        est.train(_hand_frame(), label="y")


def test_tf_arguments_without_meaning_warn_once_and_defaults_are_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BoostedTreesClassifier([X], 1, center_bias=True, pruning_mode="pre", train_in_memory=True)
    with pytest.warns(IgnoredArgumentWarning) as caught:
        BoostedTreesRegressor([X], 1, pruning_mode="post", tree_complexity=0.1, quantile_sketch_epsilon=0.02)
    assert len(caught) == 1  # quantile_sketch_epsilon is honoured (numeric bins), so only 'post' is named
    assert str(caught[0].message).startswith(
        "BoostedTreesRegressor: ignoring pruning_mode='post' (LightGBM prunes only before splitting")
    with pytest.raises(ValueError, match=r"pruning_mode='postt' is not supported; use one of \['none', 'pre', 'post'\]"):
        BoostedTreesClassifier([X], 1, pruning_mode="postt")._check()


@pytest.mark.parametrize(("tree_complexity", "pruning_mode"), [(0.1, "none"), (0.0, "pre"), (0.0, "post")])
def test_tree_complexity_and_pruning_go_together_as_in_tf(tree_complexity: float, pruning_mode: str) -> None:
    est = BoostedTreesRegressor([X], 1, tree_complexity=tree_complexity, pruning_mode=pruning_mode)
    with pytest.raises(ValueError, match=rf"tree_complexity={tree_complexity!r} with pruning_mode='{pruning_mode}': "
                                         r"as in TF, a positive tree_complexity needs pruning_mode='pre' or 'post'"):
        est._check()
    BoostedTreesRegressor([X], 1, tree_complexity=0.1, pruning_mode="pre")._check()  # TF's valid pairs
    BoostedTreesRegressor([X], 1)._check()


def test_quantile_sketch_epsilon_sets_the_numeric_bins_and_buckets_keep_their_own() -> None:
    assert BoostedTreesRegressor([X], 1)._lightgbm_params()["max_bin"] == 100  # TF's 1 / 0.01 quantile buckets
    assert BoostedTreesRegressor([X], 1, quantile_sketch_epsilon=0.004)._lightgbm_params()["max_bin"] == 250
    assert BoostedTreesRegressor([X], 1)._lightgbm_params()["min_data_in_bin"] == 1


def test_center_bias_is_lightgbm_boost_from_average() -> None:
    assert BoostedTreesClassifier([X], 1)._lightgbm_params()["boost_from_average"] is False  # TF's default
    assert BoostedTreesClassifier([X], 1, center_bias=True)._lightgbm_params()["boost_from_average"] is True


@pytest.mark.parametrize(("center_bias", "bias", "leaf_logit"), [
    # centred: bias = P(y=1) = 0.75 (log-odds log 3); one tree at learning rate 1 adds -G/H = 7.5 / 5.625 = 4/3
    (True, 0.75, math.log(3) + 4 / 3),
    # not centred: the tree starts from logit 0: root -G/H = 10 / 10 = 1, the x=1 leaf 15 / 7.5 = 2
    (False, 1 / (1 + math.exp(-1.0)), 2.0),
])
def test_binary_explanations_match_the_hand_computation(tmp_path, center_bias: bool, bias: float,
                                                        leaf_logit: float) -> None:
    frame = _hand_frame()
    est = BoostedTreesClassifier([X, fc.numeric_column("z")], 1, str(tmp_path), n_trees=1, learning_rate=1.0,
                                 min_node_weight=0.0, center_bias=center_bias, config=_config(),
                                 min_child_samples=1, num_threads=1)
    est.train(frame, label="y")
    rows = list(est.experimental_predict_with_explanations(frame.drop(columns="y")))
    probability = 1 / (1 + math.exp(-leaf_logit))
    last = rows[-1]  # x = 1
    assert last["bias"] == pytest.approx(bias, abs=1e-12)
    assert list(last["dfc"]) == ["x", "z"] and last["dfc"]["z"] == 0.0
    assert last["dfc"]["x"] == pytest.approx(probability - bias, abs=2e-8)  # leaf values are float32
    assert last["logits"][0] == pytest.approx(leaf_logit, abs=1e-6)
    assert last["probabilities"][1] == pytest.approx(probability, abs=1e-7)
    assert {"logits", "logistic", "probabilities", "class_ids", "classes", "bias", "dfc"} <= set(last)
    assert all(r["bias"] == last["bias"] for r in rows)
    importances = est.experimental_feature_importances()
    assert importances == collections.OrderedDict([("x", pytest.approx(40.0 if center_bias else 30.0)), ("z", 0.0)])


@pytest.mark.parametrize(("center_bias", "bias"), [(True, 2.25), (False, 1.125)])
def test_regression_explanations_match_the_hand_computation(tmp_path, center_bias: bool, bias: float) -> None:
    frame = _hand_frame().assign(y=lambda f: 3.0 * f["x"])  # mean 2.25; learning rate 0.5 halves each step
    est = BoostedTreesRegressor([X, fc.numeric_column("z")], 1, str(tmp_path), n_trees=1, learning_rate=0.5,
                                min_node_weight=0.0, center_bias=center_bias, config=_config(),
                                min_child_samples=1, num_threads=1)
    est.train(frame, label="y")
    rows = list(est.experimental_predict_with_explanations(frame.drop(columns="y"), predict_keys="predictions"))
    first, last = rows[0], rows[-1]
    assert set(first) == {"predictions", "bias", "dfc"}
    assert first["bias"] == bias and first["dfc"] == collections.OrderedDict([("x", -1.125), ("z", 0.0)])
    assert last["dfc"] == collections.OrderedDict([("x", 0.375), ("z", 0.0)])
    assert float(first["predictions"][0]) == bias - 1.125 and float(last["predictions"][0]) == bias + 0.375


def test_tutorial_flow_dfc_sum_to_predicted_probabilities(tmp_path) -> None:
    train, evaluation = _titanic_like(400, 0), _titanic_like(200, 1)
    est = BoostedTreesClassifier(_tutorial_columns(), n_batches_per_layer=1, model_dir=str(tmp_path), n_trees=50,
                                 max_depth=3, center_bias=True, config=_config(), num_threads=1)
    est.train(train, label="survived", max_steps=100)
    features = evaluation.drop(columns="survived")
    pred_dicts = list(est.experimental_predict_with_explanations(features))
    probs = pd.Series([pred["probabilities"][1] for pred in est.predict(features)])
    df_dfc = pd.DataFrame([pred["dfc"] for pred in pred_dicts])
    bias = pred_dicts[0]["bias"]
    assert sorted(df_dfc.columns) == ["age", "class", "fare", "sex"]
    np.testing.assert_almost_equal((df_dfc.sum(axis=1) + bias).values, probs.values)  # TF's tutorial check
    logits = np.array([p["logits"][0] for p in pred_dicts], dtype=np.float64)
    np.testing.assert_allclose(df_dfc.sum(axis=1) + bias, 1 / (1 + np.exp(-logits)), atol=1e-6)
    assert bias == pytest.approx(train["survived"].mean(), abs=1e-12)  # centred: the training prior
    for pred in pred_dicts[:20]:
        magnitudes = [abs(v) for v in pred["dfc"].values()]
        assert magnitudes == sorted(magnitudes, reverse=True)
    # gain importances: LightGBM's gains on the same matrix, summed per feature column, largest first
    importances = est.experimental_feature_importances()
    data = lgb.Dataset(_dense(est, train), train["survived"].to_numpy(), categorical_feature=[1, 3])
    booster = lgb.train(est._lightgbm_params(len(train)), data, 50)
    gains = booster.feature_importance("gain")
    # tree layout (by column name): age, class (one categorical feature), fare, sex (one categorical feature)
    expected = {"age": gains[0], "class": gains[1], "fare": gains[2], "sex": gains[3]}
    assert list(importances) == sorted(expected, key=lambda k: -expected[k])
    assert dict(importances) == pytest.approx(expected, rel=1e-12)
    normalized = est.experimental_feature_importances(normalize=True)
    assert sum(normalized.values()) == pytest.approx(1.0, abs=1e-12)
    assert pd.Series(normalized).index.tolist() == list(importances)  # the tutorial plots pd.Series(importances)


def _dense(est: BoostedTreesClassifier, frame: pd.DataFrame) -> np.ndarray:
    state = est._models.at(est.model_dir, est.config, None)
    encoded, _, _ = state.encode(type("Part", (), {"features": frame.drop(columns="survived")})(), with_labels=False)
    with torch.no_grad():
        return state.module.features(encoded).double().numpy()


def test_explanations_after_restore_in_a_new_estimator(tmp_path) -> None:
    train = _titanic_like(200, 2)
    kwargs = {"n_trees": 10, "max_depth": 3, "center_bias": True, "config": _config(), "num_threads": 1}
    first = BoostedTreesClassifier(_tutorial_columns(), 1, str(tmp_path), **kwargs)
    first.train(train, label="survived")
    features = train.drop(columns="survived").head(5)
    expected = list(first.experimental_predict_with_explanations(features))
    again = BoostedTreesClassifier(_tutorial_columns(), 1, str(tmp_path), **kwargs)
    got = list(again.experimental_predict_with_explanations(features))
    assert [r["dfc"] for r in got] == [r["dfc"] for r in expected] and got[0]["bias"] == expected[0]["bias"]
    assert again.experimental_feature_importances() == first.experimental_feature_importances()


def test_errors_before_training_for_multiclass_and_without_splits(tmp_path) -> None:
    est = BoostedTreesClassifier([X], 1, str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"experimental_feature_importances: the model has no trees yet; call train"):
        est.experimental_feature_importances()
    multi = BoostedTreesClassifier([X], 1, str(tmp_path / "b"), n_classes=3)
    with pytest.raises(ValueError, match=r"supports binary classification and regression \(as TF\); this model has "
                                         r"n_classes=3"):
        next(multi.experimental_predict_with_explanations(pd.DataFrame({"x": [1.0]})))
    flat = BoostedTreesRegressor([X], 1, str(tmp_path / "c"), n_trees=2, config=_config())
    flat.train(pd.DataFrame({"x": np.arange(30.0), "y": np.ones(30)}), label="y")  # constant label: no split
    assert flat.experimental_feature_importances() == collections.OrderedDict([("x", 0.0)])
    with pytest.raises(ValueError, match=r"the trees have no splits"):
        flat.experimental_feature_importances(normalize=True)
    row = next(flat.experimental_predict_with_explanations(pd.DataFrame({"x": [3.0]})))
    assert row["dfc"] == collections.OrderedDict([("x", 0.0)]) and row["bias"] == pytest.approx(1.0, abs=1e-7)
    assert float(row["predictions"][0]) == pytest.approx(row["bias"], abs=1e-7)


def test_checkpoint_without_node_values_predicts_but_refuses_explanations() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, x[:, 0] > 0), 3)
    fitted = TreeEnsemble(1).load_lightgbm(booster)
    old = {k: v for k, v in fitted.state_dict().items() if k not in ("node_value", "split_gain")}
    fresh = TreeEnsemble(1)
    fresh.load_state_dict(old)
    probe = torch.as_tensor(x[:20])
    assert torch.equal(fresh(probe), fitted(probe))
    with pytest.raises(ValueError, match=r"saved without node values and split gains"):
        fresh.explain(probe, torch.sigmoid)
