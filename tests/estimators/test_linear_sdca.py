"""``optimizer=LinearSDCA(...)`` (TF's ``tf.estimator.experimental.LinearSDCA``) reaches SDCA's optimum.

TF's SDCA minimises ``[sum_i c_i loss_i + l1 |w|_1 + l2/2 |w|^2] / sum_i c_i`` over every weight *and the bias*
(``sdca_ops.regularized_loss``). Each test builds the design matrix by hand from the raw frame (one-hot vocabulary
ids, the numeric values, a constant for the bias) and computes that optimum independently: the normal equations
(squared loss, L2), Newton's method (logistic loss, L2) and scikit-learn's elastic-net solvers (L1, whose exact zeros
must match).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from estlab import export
from estlab import feature_column as fc
from estlab._util import IgnoredArgumentWarning
from estlab.estimator import experimental
from estlab.estimators import DNNClassifier, LinearClassifier, LinearRegressor
from estlab.estimators.sdca import LinearSDCA, design_matrix
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")
VOCABULARY = ["a", "b", "c"]


def _frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(VOCABULARY + ["oov"], size=n)  # "oov" has no id: no weight, as TF's pruned -1 ids
    effect = pd.Series(color).map({"a": 1.0, "b": -0.5, "c": 0.0, "oov": 0.3}).to_numpy()
    score = 1.5 * x1 + 0.05 * x2 + effect + 0.4
    return pd.DataFrame(
        {
            "example_id": [f"row{i}" for i in range(n)],
            "x1": x1.astype(np.float32),
            "x2": x2.astype(np.float32),
            "color": color,
            "w": rng.uniform(0.5, 2.0, size=n).astype(np.float32),
            "y_reg": (score + rng.normal(scale=0.3, size=n)).astype(np.float32),
            "y_bin": (rng.random(n) < 1.0 / (1.0 + np.exp(-score))).astype(np.int64),
        }
    )


def _columns() -> list:
    return [
        fc.numeric_column("x1"),
        fc.numeric_column("x2"),
        fc.categorical_column_with_vocabulary_list("color", VOCABULARY),
    ]


def _design(frame: pd.DataFrame) -> np.ndarray:
    """Columns: color a, b, c (one-hot; "oov" all zero), x1, x2, bias."""
    onehot = np.stack([(frame["color"] == v).to_numpy(float) for v in VOCABULARY], axis=1)
    x1 = frame["x1"].to_numpy(np.float64)[:, None]
    x2 = frame["x2"].to_numpy(np.float64)[:, None]
    return np.hstack([onehot, x1, x2, np.ones((len(frame), 1))])


def _weights_of(est) -> np.ndarray:
    """The trained weights in :func:`_design`'s order."""
    parts = [
        est.get_variable_value(name).reshape(-1)
        for name in ("weights.color", "weights.x1", "weights.x2", "bias")
    ]
    return np.concatenate(parts).astype(np.float64)


def _ridge(x: np.ndarray, y: np.ndarray, c: np.ndarray, l2: float) -> np.ndarray:
    """argmin sum c (y - xw)^2 / 2 + l2/2 |w|^2: the normal equations."""
    return np.linalg.solve(x.T @ (c[:, None] * x) + l2 * np.eye(x.shape[1]), x.T @ (c * y))


def _logistic_newton(x: np.ndarray, y: np.ndarray, c: np.ndarray, l2: float) -> np.ndarray:
    """argmin sum c (log(1 + e^z) - y z) + l2/2 |w|^2 by Newton's method (to machine precision)."""
    w = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (c * (p - y)) + l2 * w
        hess = x.T @ ((c * p * (1 - p))[:, None] * x) + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-14:
            break
    return w


def _sdca(**kwargs) -> LinearSDCA:
    return experimental.LinearSDCA(example_id_column="example_id", **kwargs)


# ---------------------------------------------------------------- constructor and estimator errors


def test_tf_name_resolves_to_the_estlab_class():
    assert experimental.LinearSDCA is LinearSDCA
    assert "LinearSDCA" in dir(experimental)


@pytest.mark.parametrize("l2", [0.0, -1.0, float("nan"), "1"])
def test_l2_must_be_positive(l2):
    with pytest.raises(ValueError, match=r"symmetric_l2_regularization should be positive; received"):
        LinearSDCA("example_id", symmetric_l2_regularization=l2)


@pytest.mark.parametrize("l1", [-0.5, float("inf"), None])
def test_l1_must_be_non_negative(l1):
    with pytest.raises(ValueError, match=r"symmetric_l1_regularization should be non-negative; received"):
        LinearSDCA("example_id", symmetric_l1_regularization=l1)


def test_example_id_column_must_be_a_name():
    with pytest.raises(
        ValueError, match=r"example_id_column must be the name of the input column .* received 3"
    ):
        LinearSDCA(3)  # type: ignore[arg-type]


def test_distributed_solver_arguments_are_ignored_with_a_warning():
    with pytest.warns(
        IgnoredArgumentWarning,
        match=r"LinearSDCA: ignoring num_loss_partitions, num_table_shards, adaptive \(it tunes TF's "
        r"distributed solver",
    ):
        sdca = LinearSDCA("example_id", num_loss_partitions=4, num_table_shards=2, adaptive=True)
    assert (sdca.num_loss_partitions, sdca.num_table_shards, sdca.adaptive) == (4, 2, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearSDCA(
            "example_id", num_loss_partitions=1, num_table_shards=None, adaptive=False
        )  # TF's defaults: silent


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: LinearClassifier(_columns(), n_classes=3, optimizer=_sdca(), config=CONFIG),
            r"^LinearSDCA cannot be used in a multi-class setting\.$",
        ),
        (
            lambda: LinearRegressor(_columns(), label_dimension=2, optimizer=_sdca(), config=CONFIG),
            r"^LinearSDCA can only be used with one-dimensional label\.$",
        ),
        (
            lambda: LinearClassifier(_columns(), sparse_combiner="mean", optimizer=_sdca(), config=CONFIG),
            r'^sparse_combiner must be "sum" when optimizer is a LinearSDCA object\.$',
        ),
        (
            lambda: LinearRegressor(_columns(), optimizer=_sdca(), learning_rate=0.1, config=CONFIG),
            r"LinearRegressor: learning_rate=0.1 cannot be combined with optimizer=LinearSDCA\(\.\.\.\)",
        ),
        (
            lambda: LinearClassifier(
                [fc.embedding_column(fc.categorical_column_with_vocabulary_list("color", VOCABULARY), 2)],
                optimizer=_sdca(),
                config=CONFIG,
            ),
            r"LinearSDCA does not support column type EmbeddingColumn \(column 'color_embedding'\)",
        ),
        (
            lambda: DNNClassifier([4], [fc.numeric_column("x1")], optimizer=_sdca(), config=CONFIG),
            r"optimizer=LinearSDCA\(\.\.\.\) is only supported by LinearClassifier \(binary\) and LinearRegressor",
        ),
    ],
)
def test_tf_refuses_what_sdca_cannot_train(make, message, tmp_path):
    frame = _frame(12)
    label = "y_reg" if "Regressor" in message or "one-dimensional" in message else "y_bin"
    if "one-dimensional" in message:
        frame["y2"] = frame["y_reg"]
        label = ["y_reg", "y2"]
    est = make()
    with pytest.raises(ValueError, match=message):
        est.train(frame, label=label, steps=1)
    assert est.latest_checkpoint() is None


def test_the_example_id_column_must_be_in_the_training_input():
    est = LinearRegressor(_columns(), optimizer=experimental.LinearSDCA("row_key"), config=CONFIG)
    with pytest.raises(
        ValueError,
        match=r"LinearSDCA: example_id_column 'row_key' is not a column of the training "
        r"input, which has \[.*'x1'.*\]; add a column of unique example ids",
    ):
        est.train(_frame(12), label="y_reg", steps=1)


# ---------------------------------------------------------------- the optimum


def test_regressor_l2_reaches_the_normal_equations_optimum_with_example_weights():
    frame = _frame()
    l2 = 3.0
    est = LinearRegressor(
        _columns(), weight_column="w", optimizer=_sdca(symmetric_l2_regularization=l2), config=CONFIG
    )
    est.train(frame.drop(columns="y_bin"), label="y_reg", steps=50)
    expected = _ridge(
        _design(frame), frame["y_reg"].to_numpy(np.float64), frame["w"].to_numpy(np.float64), l2
    )
    np.testing.assert_allclose(_weights_of(est), expected, rtol=1e-5, atol=1e-6)
    predictions = est.predict_frame(frame.drop(columns=["y_bin", "y_reg"]))["predictions"].to_numpy(
        np.float64
    )
    np.testing.assert_allclose(predictions, _design(frame) @ expected, rtol=1e-5, atol=1e-5)


def test_regressor_ignores_example_weights_it_is_not_given_and_the_bias_is_regularised():
    # one constant feature: the optimum is sum(y) / (n + l2) for the bias alone; an unregularised bias would be mean(y)
    frame = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "x1": [0.0] * 4, "y": [1.0, 2.0, 3.0, 6.0]})
    est = LinearRegressor(
        [fc.numeric_column("x1")], optimizer=_sdca(symmetric_l2_regularization=4.0), config=CONFIG
    )
    est.train(frame, label="y", steps=1)
    assert est.get_variable_value("bias").tolist() == pytest.approx([12.0 / 8.0], abs=1e-6)


def test_regressor_l1_gives_the_elastic_net_optimum_with_exact_zeros():
    sklearn = pytest.importorskip("sklearn.linear_model")
    frame = _frame()
    l1, l2 = 6.0, 2.0
    est = LinearRegressor(
        _columns(),
        weight_column="w",
        optimizer=_sdca(symmetric_l1_regularization=l1, symmetric_l2_regularization=l2),
        config=CONFIG,
    )
    est.train(frame, label="y_reg", steps=1)
    x, y, c = _design(frame), frame["y_reg"].to_numpy(np.float64), frame["w"].to_numpy(np.float64)
    # sklearn: 1/(2 sum s) sum s (y - xw)^2 + alpha rho |w|_1 + alpha (1 - rho)/2 |w|^2 with s = c
    total = c.sum()
    reference = (
        sklearn.ElasticNet(
            alpha=(l1 + l2) / total,
            l1_ratio=l1 / (l1 + l2),
            fit_intercept=False,
            tol=1e-14,
            max_iter=1_000_000,
        )
        .fit(x, y, sample_weight=c)
        .coef_
    )
    got = _weights_of(est)
    assert (reference == 0).sum() >= 1  # the L1 term removes some weights (x2 and a color, here)
    assert np.flatnonzero(got == 0).tolist() == np.flatnonzero(reference == 0).tolist()
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)


def test_classifier_l2_reaches_the_logistic_optimum_with_example_weights():
    frame = _frame()
    l2 = 2.0
    est = LinearClassifier(
        _columns(), weight_column="w", optimizer=_sdca(symmetric_l2_regularization=l2), config=CONFIG
    )
    est.train(frame, label="y_bin", steps=10)
    expected = _logistic_newton(
        _design(frame), frame["y_bin"].to_numpy(np.float64), frame["w"].to_numpy(np.float64), l2
    )
    np.testing.assert_allclose(_weights_of(est), expected, rtol=1e-5, atol=1e-6)
    logits = est.predict_frame(frame.drop(columns=["y_bin", "y_reg"]))["logits"].to_numpy(np.float64)
    np.testing.assert_allclose(logits, _design(frame) @ expected, rtol=1e-5, atol=1e-5)


def test_classifier_unweighted_equals_unit_weights():
    frame = _frame(seed=3)
    plain = LinearClassifier(_columns(), optimizer=_sdca(symmetric_l2_regularization=1.5), config=CONFIG)
    plain.train(frame.drop(columns="w"), label="y_bin", steps=1)
    expected = _logistic_newton(_design(frame), frame["y_bin"].to_numpy(np.float64), np.ones(len(frame)), 1.5)
    np.testing.assert_allclose(_weights_of(plain), expected, rtol=1e-5, atol=1e-6)


def test_classifier_l1_gives_the_elastic_net_optimum_with_exact_zeros():
    sklearn = pytest.importorskip("sklearn.linear_model")
    frame = _frame(n=120, seed=1)
    l1, l2 = 4.0, 3.0
    est = LinearClassifier(
        _columns(),
        weight_column="w",
        optimizer=_sdca(symmetric_l1_regularization=l1, symmetric_l2_regularization=l2),
        config=CONFIG,
    )
    est.train(frame, label="y_bin", steps=1)
    x, y, c = _design(frame), frame["y_bin"].to_numpy(np.float64), frame["w"].to_numpy(np.float64)
    # sklearn: C sum s loss + (1 - rho)/2 |w|^2 + rho |w|_1 = the SDCA objective times 1 / (l1 + l2)
    reference = (
        sklearn.LogisticRegression(
            C=1.0 / (l1 + l2),
            l1_ratio=l1 / (l1 + l2),
            solver="saga",
            fit_intercept=False,
            tol=1e-13,
            max_iter=2_000_000,
        )
        .fit(x, y, sample_weight=c)
        .coef_.reshape(-1)
    )
    got = _weights_of(est)
    assert (reference == 0).sum() >= 1
    assert np.flatnonzero(got == 0).tolist() == np.flatnonzero(reference == 0).tolist()
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-6)


def test_training_again_keeps_the_optimum_and_counts_one_step_per_call():
    frame = _frame()
    est = LinearRegressor(_columns(), optimizer=_sdca(symmetric_l2_regularization=2.0), config=CONFIG)
    est.train(frame, label="y_reg", steps=100)
    first = _weights_of(est)
    est.train(frame, label="y_reg", steps=100)
    np.testing.assert_allclose(_weights_of(est), first, rtol=1e-6, atol=1e-7)
    assert est.evaluate(frame, label="y_reg")["global_step"] == 2


# ---------------------------------------------------------------- predict, evaluate, export


def test_export_predicts_what_predict_gives(tmp_path):
    frame = _frame()
    est = LinearClassifier(
        _columns(),
        optimizer=_sdca(symmetric_l1_regularization=0.5, symmetric_l2_regularization=2.0),
        config=CONFIG,
    )
    est.train(frame, label="y_bin", steps=1)
    features = frame[["x1", "x2", "color"]].head(10)  # no example ids: predicting never reads them
    predicted = est.predict_frame(features)
    served = export.load(est.export_saved_model(str(tmp_path / "export"))).predict(features)
    np.testing.assert_allclose(
        np.stack([r["probabilities"] for r in served]),
        predicted[["probabilities_0", "probabilities_1"]].to_numpy(),
        rtol=1e-6,
        atol=1e-7,
    )
    assert [int(r["class_ids"][0]) for r in served] == predicted["class_ids"].astype(int).tolist()
    metrics = est.evaluate(frame[["x1", "x2", "color", "y_bin"]], label="y_bin")
    assert metrics["global_step"] == 1 and 0.0 < metrics["loss"] < np.log(2.0)


def test_bucketized_identity_and_weighted_columns_reach_the_optimum():
    rng = np.random.default_rng(7)
    n = 90
    frame = pd.DataFrame(
        {
            "example_id": [str(i) for i in range(n)],
            "age": rng.uniform(0, 60, size=n).astype(np.float32),
            "slot": rng.integers(0, 4, size=n),
            "term": rng.choice(["p", "q"], size=n),
            "tf": rng.uniform(0.5, 3.0, size=n).astype(np.float32),
        }
    )
    frame["y"] = (
        0.05 * frame["age"]
        - 0.3 * frame["slot"]
        + (frame["term"] == "p") * frame["tf"]
        + rng.normal(scale=0.2, size=n)
    ).astype(np.float32)
    boundaries = [20.0, 40.0]
    columns = [
        fc.bucketized_column(fc.numeric_column("age"), boundaries),
        fc.categorical_column_with_identity("slot", 4),
        fc.weighted_categorical_column(fc.categorical_column_with_vocabulary_list("term", ["p", "q"]), "tf"),
    ]
    l2 = 2.5
    est = LinearRegressor(columns, optimizer=_sdca(symmetric_l2_regularization=l2), config=CONFIG)
    est.train(frame, label="y", steps=1)
    age = frame["age"].to_numpy()
    buckets = np.stack([age < 20, (age >= 20) & (age < 40), age >= 40], axis=1).astype(float)
    slot = np.eye(4)[frame["slot"].to_numpy()]
    term = np.stack(
        [(frame["term"] == v).to_numpy(float) * frame["tf"].to_numpy(np.float64) for v in ("p", "q")], axis=1
    )
    x = np.hstack([buckets, slot, term, np.ones((n, 1))])
    expected = _ridge(x, frame["y"].to_numpy(np.float64), np.ones(n), l2)
    names = sorted(name for name in est.get_variable_names() if name.startswith("weights."))
    by_name = {name: est.get_variable_value(name).reshape(-1) for name in names}
    got = np.concatenate(
        [
            by_name["weights.age_bucketized"],
            by_name["weights.slot"],
            by_name["weights.term_weighted_by_tf"],
            est.get_variable_value("bias").reshape(-1),
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_hashed_and_crossed_columns_train_consistently():
    frame = _frame(60)
    frame["city"] = np.where(frame["x1"] > 0, "north", "south")
    columns = [
        fc.categorical_column_with_hash_bucket("color", 7),
        fc.crossed_column(["color", "city"], hash_bucket_size=11),
        fc.numeric_column("x1"),
    ]
    est = LinearClassifier(columns, optimizer=_sdca(symmetric_l2_regularization=1.0), config=CONFIG)
    est.train(frame, label="y_bin", steps=1)  # the fit checks its matrix against the model's own outputs
    metrics = est.evaluate(frame, label="y_bin")
    assert metrics["global_step"] == 1 and metrics["loss"] < np.log(2.0)


def test_repeated_ids_of_a_row_add_up_and_negative_ids_get_no_weight():
    import torch

    from estlab.features import LinearFeatures

    column = fc.categorical_column_with_identity("h", 3)
    layer = LinearFeatures([column])
    key = layer.transformer.encoded_key(column)
    x, params = design_matrix(layer, {key: torch.tensor([[1, 1, -1], [2, -1, -1], [-1, -1, -1]])})
    assert x.toarray().tolist() == [[0.0, 2.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]]
    assert [tuple(p.shape) for p in params] == [(3, 1), (1,)]


def test_without_scipy_training_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy", None)  # import scipy now raises ImportError
    est = LinearRegressor(_columns(), optimizer=_sdca(), config=CONFIG)
    with pytest.raises(
        ImportError,
        match=r"optimizer=LinearSDCA\(\.\.\.\) solves with scipy; install it with "
        r"`pip install 'estlab\[sdca\]'`",
    ):
        est.train(_frame(12), label="y_reg", steps=1)
    assert est.latest_checkpoint() is None


def test_linear_estimator_takes_sdca_with_tf_s_heads_only():
    from estlab.estimator import BinaryClassHead, LinearEstimator, PoissonRegressionHead, RegressionHead

    frame = _frame()
    est = LinearEstimator(
        RegressionHead(), _columns(), optimizer=_sdca(symmetric_l2_regularization=3.0), config=CONFIG
    )
    est.train(frame, label="y_reg", steps=1)
    expected = _ridge(_design(frame), frame["y_reg"].to_numpy(np.float64), np.ones(len(frame)), 3.0)
    np.testing.assert_allclose(_weights_of(est), expected, rtol=1e-5, atol=1e-6)
    binary = LinearEstimator(
        BinaryClassHead(), _columns(), optimizer=_sdca(symmetric_l2_regularization=2.0), config=CONFIG
    )
    binary.train(frame, label="y_bin", steps=1)
    expected = _logistic_newton(_design(frame), frame["y_bin"].to_numpy(np.float64), np.ones(len(frame)), 2.0)
    np.testing.assert_allclose(_weights_of(binary), expected, rtol=1e-5, atol=1e-6)
    poisson = LinearEstimator(PoissonRegressionHead(), _columns(), optimizer=_sdca(), config=CONFIG)
    with pytest.raises(
        ValueError,
        match=r"^Unsupported head type: PoissonRegressionHead; LinearSDCA trains a "
        r"BinaryClassHead \(logistic loss\) or a RegressionHead",
    ):
        poisson.train(frame.assign(y_reg=frame["y_reg"].abs()), label="y_reg", steps=1)


def test_an_endless_iterable_input_fits_on_the_batches_tf_s_steps_read():
    frame = _frame(90)

    def batches():
        while True:  # TF's .repeat(): only `steps` batches are read
            for start in range(0, 90, 30):
                part = frame.iloc[start : start + 30]
                yield (
                    {k: part[k].to_numpy() for k in ["example_id", "x1", "x2", "color"]},
                    part["y_reg"].to_numpy(),
                )

    est = LinearRegressor(_columns(), optimizer=_sdca(symmetric_l2_regularization=3.0), config=CONFIG)
    est.train(batches, steps=3)
    expected = _ridge(_design(frame), frame["y_reg"].to_numpy(np.float64), np.ones(len(frame)), 3.0)
    np.testing.assert_allclose(_weights_of(est), expected, rtol=1e-5, atol=1e-6)
