"""Boosted trees read columns as TF's do (issue 17): bucket indices, categorical ids, TF's per-instance parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import datasets
from estlab import feature_column as fc
from estlab.estimators import BoostedTreesClassifier, BoostedTreesRegressor
from estlab.estimators.tree_ensemble import TreeEnsemble
from estlab.estimators.tree_features import TreeFeatures
from estlab.features import DenseFeatures, FeatureTransformer
from estlab.training.config import RunConfig

lgb = pytest.importorskip("lightgbm")

PENGUIN_NUMERICS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _config() -> RunConfig:
    return RunConfig(random_seed=0, tensorboard=False)


def test_layout_bucket_indices_ids_values_and_counts() -> None:
    colour = fc.categorical_column_with_vocabulary_list("colour", ["red", "blue"])
    tag = fc.weighted_categorical_column(fc.categorical_column_with_identity("tag", 3), "tag_w")
    columns = [
        fc.numeric_column("a"),
        fc.bucketized_column(fc.numeric_column("p", shape=2), [0.0, 1.0]),  # 3 buckets per element
        fc.bucketized_column(fc.numeric_column("q", normalizer_fn=lambda t: t * 10), [5.0]),  # ids in the model
        fc.indicator_column(colour),
        fc.indicator_column(tag),
    ]
    frame = pd.DataFrame({"a": [0.5, -2.0, 7.0], "p": [[-1.0, 0.5], [0.5, 1.0], [2.0, -3.0]],
                          "q": [0.1, 0.7, 0.5], "colour": ["blue", "green", "red"], "tag": [2, 0, 1],
                          "tag_w": [0.5, 2.0, 1.0]})
    layer = TreeFeatures(columns, FeatureTransformer(columns).fit(frame))
    out = layer(layer.transformer.transform(frame))
    assert out.dtype == torch.float64
    # sorted by name: a, colour (id, -1 = unknown), p (2 bucket indices), q (bucket index), tag (3 weights)
    assert out.tolist() == [[0.5, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.5],
                            [-2.0, -1.0, 1.0, 2.0, 1.0, 2.0, 0.0, 0.0],
                            [7.0, 0.0, 2.0, 0.0, 1.0, 0.0, 1.0, 0.0]]
    assert layer.layout() == [("a", "numeric"), ("colour", "categorical"), ("p_bucketized", "bucketized"),
                              ("q_bucketized", "bucketized"), ("tag_weighted_by_tag_w", "counts")]
    assert layer.names() == ["a", "colour", "p_bucketized", "p_bucketized", "q_bucketized"] + \
        ["tag_weighted_by_tag_w"] * 3
    assert layer.categorical_features() == [1]
    # LightGBM bins: numeric values and counts 100 (TF's quantile buckets), a bucket or an id (+ "no id") each
    assert layer.max_bins(100) == [100, 3, 3, 3, 2, 100, 100, 100]


def test_a_row_with_several_ids_is_refused_with_the_reason() -> None:
    column = fc.indicator_column(fc.categorical_column_with_vocabulary_list("t", ["a", "b"]))
    frame = pd.DataFrame({"t": [["a", "b"], ["b"]]})
    layer = TreeFeatures([column], FeatureTransformer([column]).fit(frame))
    with pytest.raises(ValueError, match=r"categorical column 't_indicator' as one categorical feature \(one id "
                                         r"per row, as TF's trees\), but its rows hold up to 2 ids"):
        layer(layer.transformer.transform(frame))


def test_a_checkpoint_of_the_one_hot_layout_still_reads_one_hot() -> None:
    columns = [fc.bucketized_column(fc.numeric_column("x"), [1.0]),
               fc.indicator_column(fc.categorical_column_with_vocabulary_list("s", ["a", "b"]))]
    frame = pd.DataFrame({"x": [0.0, 2.0], "s": ["b", "a"]})
    transformer = FeatureTransformer(columns).fit(frame)
    layer = TreeFeatures(columns, transformer)
    assert list(layer.state_dict()) == ["layout_version"]
    layer.load_state_dict({})  # what an older checkpoint holds for the features
    encoded = transformer.transform(frame)
    assert torch.equal(layer(encoded), DenseFeatures(columns, transformer)(encoded).double())
    assert layer.names() == ["s", "s", "x_bucketized", "x_bucketized"]
    assert layer.categorical_features() == [] and layer.max_bins(100) == [100] * 4  # retraining reads one-hot too


def test_categorical_splits_predict_as_lightgbm() -> None:
    rng = np.random.default_rng(0)
    n = 600
    x = np.c_[rng.integers(-1, 12, n).astype(float), rng.normal(size=n), rng.integers(0, 5, n)]
    x[rng.random(n) < 0.05, 0] = np.nan
    y = (np.isin(x[:, 0], [1, 3, 5, 9]) + 0.3 * x[:, 1] + 0.2 * (x[:, 2] == 2) > 0.5).astype(float)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_per_group": 5,
              "max_cat_to_onehot": 2, "min_data_in_leaf": 5}
    booster = lgb.train(params, lgb.Dataset(x, y, categorical_feature=[0, 2]), 20)
    ensemble = TreeEnsemble(1).load_lightgbm(booster)
    assert ensemble.cat_left.shape[0] > 0 and int((ensemble.cat_index >= 0).sum()) == ensemble.cat_left.shape[0]
    probe = x.copy()
    probe[:6, 0] = [-3.0, 40.0, np.nan, 2.7, 0.0, -0.5]  # negative, unseen, missing, fractional ids
    expected = booster.predict(probe, raw_score=True)
    np.testing.assert_allclose(ensemble(torch.as_tensor(probe)).numpy()[:, 0], expected, atol=1e-6)
    fresh = TreeEnsemble(1)
    fresh.load_state_dict(ensemble.state_dict())
    assert torch.equal(fresh(torch.as_tensor(probe)), ensemble(torch.as_tensor(probe)))


def _penguins() -> tuple[pd.DataFrame, pd.DataFrame, list]:
    data = datasets.load("penguins")
    train = data.train.dropna(subset=PENGUIN_NUMERICS)
    test = data.test.dropna(subset=PENGUIN_NUMERICS)
    columns = []
    for name in PENGUIN_NUMERICS:  # TF-style: fixed boundaries, 30 equal-width buckets
        edges = np.linspace(train[name].min(), train[name].max(), 31)[1:-1]
        columns.append(fc.bucketized_column(fc.numeric_column(name), [float(e) for e in edges]))
    for name in ("island", "sex"):
        vocabulary = sorted(train[name].dropna().unique())
        columns.append(fc.indicator_column(fc.categorical_column_with_vocabulary_list(name, vocabulary)))
    return train, test, columns


def test_penguins_tf_program_reaches_tf_accuracy_and_predicts_as_lightgbm(tmp_path) -> None:
    train, test, columns = _penguins()
    assert len(train) == 273
    est = BoostedTreesClassifier(columns, 1, str(tmp_path), n_classes=3, label_vocabulary=["Adelie", "Chinstrap",
                                 "Gentoo"], n_trees=100, max_depth=6, learning_rate=0.1, config=_config(),
                                 num_threads=1)
    est.train(train, label="species", max_steps=100)
    metrics = est.evaluate(test, label="species")
    assert metrics["accuracy"] >= 0.95  # TF 2.8 on this program: 0.9855; the one-hot layout gave 0.870
    # the tensor program equals LightGBM trained on the same matrix
    state = est._models.at(est.model_dir, est.config, None)
    features = state.module.features
    assert features.layout() == [("bill_depth_mm_bucketized", "bucketized"),
                                 ("bill_length_mm_bucketized", "bucketized"),
                                 ("body_mass_g_bucketized", "bucketized"),
                                 ("flipper_length_mm_bucketized", "bucketized"),
                                 ("island", "categorical"), ("sex", "categorical")]
    matrix = features(state.transformer.transform(train.drop(columns="species"))).numpy()
    assert matrix[:, :4].min() == 0.0 and matrix[:, :4].max() == 29.0  # bucket indices
    labels = train["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}).to_numpy()
    booster = lgb.train(est._lightgbm_params(len(train), features),
                        lgb.Dataset(matrix, labels, categorical_feature=[4, 5]), 100)
    probe = features(state.transformer.transform(test.drop(columns="species"))).numpy()
    got = np.stack([p["logits"] for p in est.predict(test.drop(columns="species"))])
    np.testing.assert_allclose(got, booster.predict(probe, raw_score=True), atol=1e-5)
    importances = est.experimental_feature_importances()
    assert sorted(importances) == sorted(name for name, _ in features.layout())


def test_tf_parameters_are_per_instance_and_defaults_fit_small_data() -> None:
    x = fc.numeric_column("x")
    tf_style = BoostedTreesRegressor([x], 1, l1_regularization=0.01, l2_regularization=0.1, tree_complexity=0.002,
                                     min_node_weight=0.05)
    params = tf_style._lightgbm_params(200)
    assert (params["lambda_l1"], params["lambda_l2"], params["min_gain_to_split"],
            params["min_sum_hessian_in_leaf"]) == pytest.approx((2.0, 20.0, 0.4, 10.0), rel=1e-12)
    defaults = BoostedTreesClassifier([x], 1)
    small, large = defaults._lightgbm_params(275), defaults._lightgbm_params(43152)
    assert (small["num_leaves"], small["max_depth"], small["min_data_in_leaf"], small["min_data_per_group"],
            small["min_sum_hessian_in_leaf"], small["lambda_l2"]) == (64, 6, 2, 10, 0.001, 0.0)
    assert (large["min_data_in_leaf"], large["min_data_per_group"]) == (20, 100)
    explicit = BoostedTreesClassifier([x], 1, max_depth=None, num_leaves=15, min_child_samples=7)
    assert (explicit._lightgbm_params(275)["num_leaves"], explicit._lightgbm_params(275)["max_depth"],
            explicit._lightgbm_params(275)["min_data_in_leaf"]) == (15, -1, 7)
    assert BoostedTreesClassifier([x], 1, max_depth=None)._lightgbm_params(275)["num_leaves"] == 31


def test_every_bucket_gets_its_own_bin_so_any_threshold_between_buckets_is_found(tmp_path) -> None:
    # 300 buckets, 2 rows each: LightGBM's defaults (max_bin=255, min_data_in_bin=3) merge neighbouring buckets,
    # so a cut between buckets 9 and 10 is out of reach; TF splits between any two buckets, and so does estlab
    ids = np.repeat(np.arange(300), 2)
    frame = pd.DataFrame({"x": ids + 0.5, "y": (ids >= 10).astype(float)})
    column = fc.bucketized_column(fc.numeric_column("x"), [float(b) for b in range(1, 300)])
    default = lgb.train({"objective": "regression", "learning_rate": 1.0, "max_depth": 1, "num_leaves": 2,
                         "min_data_in_leaf": 6, "verbose": -1}, lgb.Dataset(ids[:, None].astype(float), frame["y"]), 1)
    assert np.abs(default.predict(ids[:, None].astype(float)) - frame["y"]).max() > 0.1
    est = BoostedTreesRegressor([column, fc.numeric_column("y2")], 1, str(tmp_path), n_trees=1, max_depth=1,
                                learning_rate=1.0, config=_config(), num_threads=1)
    est.train(frame.assign(y2=0.0), label="y")
    predictions = np.array([p["predictions"][0] for p in est.predict(frame.drop(columns="y").assign(y2=0.0))])
    assert np.abs(predictions - frame["y"].to_numpy()).max() < 1e-6
    features = est._models.at(est.model_dir, est.config, None).module.features
    assert features.max_bins(100) == [300, 100]  # x_bucketized: one bin per bucket; y2 (numeric): TF's 100
    assert est._lightgbm_params(600, features)["max_bin_by_feature"] == [300, 100]


#: TF 2.8.4 (tensorflow-estimator 2.8.0) on the same program: ``benchmarks/bench_trees_tf.py --tensorflow``
TF_DIAMONDS_RMSE = 0.1173


@pytest.mark.slow
def test_diamonds_tf_program_is_within_two_percent_of_tf(tmp_path) -> None:
    data = datasets.load("diamonds")
    train, test = (f.assign(price=np.log(f["price"].astype(float))) for f in (data.train, data.test))
    columns = []
    for name in ("carat", "depth", "table", "x"):  # TF-style: fixed boundaries, 30 equal-width buckets
        edges = np.linspace(train[name].min(), train[name].max(), 31)[1:-1]
        columns.append(fc.bucketized_column(fc.numeric_column(name), [float(e) for e in edges]))
    for name in ("cut", "color", "clarity"):
        vocabulary = sorted(train[name].unique())
        columns.append(fc.indicator_column(fc.categorical_column_with_vocabulary_list(name, vocabulary)))
    est = BoostedTreesRegressor(columns, 1, str(tmp_path), n_trees=100, max_depth=6, learning_rate=0.1,
                                config=_config(), num_threads=1)
    est.train(train, label="price")
    predictions = np.array([p["predictions"][0] for p in est.predict(test.drop(columns="price"))])
    rmse = float(np.sqrt(np.mean((predictions - test["price"].to_numpy()) ** 2)))
    assert round(rmse, 4) == 0.1187  # the one-hot layout: 0.1315
    assert rmse <= TF_DIAMONDS_RMSE * 1.02  # the "within noise"
