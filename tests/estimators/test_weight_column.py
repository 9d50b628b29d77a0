"""``weight_column`` as TF takes it: a column name or a ``numeric_column`` whose ``normalizer_fn`` is applied.

Every premade estimator trained with ``weight_column=numeric_column("w", normalizer_fn=f)`` equals, exactly,
the same estimator trained with ``weight_column="fw"``, a column holding ``f(w)``: the same logits and the
same (weighted) evaluation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators import (
    BaselineClassifier,
    BaselineRegressor,
    DNNClassifier,
    DNNLinearCombinedClassifier,
    DNNLinearCombinedRegressor,
    DNNRegressor,
    LinearClassifier,
    LinearRegressor,
)
from estlab.estimators.weights import WeightColumnError, check_weight_column, read_weights, weight_key
from estlab.features import categorical_column_with_identity, indicator_column, numeric_column
from estlab.training.config import RunConfig

COLUMNS = [numeric_column("a"), numeric_column("b")]


def double(t: torch.Tensor) -> torch.Tensor:
    """The weight column's normalizer_fn in these tests (exact in float32 for weights in {0.25, 0.5, 1, 2})."""
    return t * 2.0


@pytest.fixture
def frame(binary_frame: pd.DataFrame) -> pd.DataFrame:
    """binary_frame with weights ``w`` in {0.25, 0.5, 1, 2}, ``fw = 2 w`` and a regression target ``t``."""
    w = np.tile([0.5, 1.0, 2.0, 0.25], len(binary_frame) // 4)
    return binary_frame.assign(w=w, fw=2.0 * w, t=binary_frame["a"] * 3.0 - binary_frame["b"])


def _premades() -> list:
    """``(id, factory(weight_column, model_dir), label)`` for every premade estimator."""
    lin = {"optimizer": "SGD", "learning_rate": 0.3}
    dnn = {"hidden_units": [4], "optimizer": "SGD", "learning_rate": 0.1}
    made = [
        ("linear_classifier", lambda **kw: LinearClassifier(COLUMNS, **lin, **kw), "y"),
        ("linear_regressor", lambda **kw: LinearRegressor(COLUMNS, **lin, **kw), "t"),
        ("dnn_classifier", lambda **kw: DNNClassifier(feature_columns=COLUMNS, **dnn, **kw), "y"),
        ("dnn_regressor", lambda **kw: DNNRegressor(feature_columns=COLUMNS, **dnn, **kw), "t"),
        (
            "dnn_linear_combined_classifier",
            lambda **kw: DNNLinearCombinedClassifier(
                linear_feature_columns=COLUMNS[:1],
                dnn_feature_columns=COLUMNS[1:],
                dnn_hidden_units=[4],
                **kw,
            ),
            "y",
        ),
        (
            "dnn_linear_combined_regressor",
            lambda **kw: DNNLinearCombinedRegressor(
                linear_feature_columns=COLUMNS[:1],
                dnn_feature_columns=COLUMNS[1:],
                dnn_hidden_units=[4],
                **kw,
            ),
            "t",
        ),
        ("baseline_classifier", lambda **kw: BaselineClassifier(**kw), "y"),
        ("baseline_regressor", lambda **kw: BaselineRegressor(**kw), "t"),
    ]
    return [pytest.param(make, label, id=name) for name, make, label in made]


def _outputs(est, frame: pd.DataFrame, label: str) -> np.ndarray:
    """The logits of a classifier (label ``y``), the predictions of a regressor (label ``t``)."""
    key = "predictions" if label == "t" else "logits"
    return np.stack(est.predict_frame(frame.drop(columns=["y", "t"]))[key].to_numpy())


@pytest.mark.parametrize(("make", "label"), _premades())
def test_a_numeric_weight_column_equals_its_normalized_values_by_name(make, label, frame, tmp_path):
    config = RunConfig(random_seed=0)
    by_column = make(
        weight_column=numeric_column("w", normalizer_fn=double),
        model_dir=str(tmp_path / "col"),
        config=config,
    )
    by_name = make(weight_column="fw", model_dir=str(tmp_path / "name"), config=config)
    unweighted = make(weight_column="w", model_dir=str(tmp_path / "w"), config=config)
    for est in (by_column, by_name, unweighted):
        est.train(frame, label=label, steps=4, batch_size=16)
    np.testing.assert_array_equal(_outputs(by_column, frame, label), _outputs(by_name, frame, label))
    assert by_column.evaluate(frame, label=label) == by_name.evaluate(frame, label=label)
    # the normalizer_fn is applied: weights 2 w give another (summed, weighted) loss than weights w
    assert by_column.evaluate(frame, label=label)["loss"] != unweighted.evaluate(frame, label=label)["loss"]


def test_boosted_trees_take_a_numeric_weight_column(frame, tmp_path):
    pytest.importorskip("lightgbm")
    from estlab.estimators import BoostedTreesClassifier, BoostedTreesRegressor

    noisy = (frame["a"] + np.random.default_rng(1).normal(size=len(frame)) > 0).astype(int)  # no pure leaves
    frame = frame.assign(y=noisy)
    for cls, label, key in [
        (BoostedTreesClassifier, "y", "logits"),
        (BoostedTreesRegressor, "t", "predictions"),
    ]:
        made = [
            cls(
                COLUMNS,
                n_batches_per_layer=1,
                n_trees=3,
                model_dir=str(tmp_path / f"{label}{i}"),
                weight_column=wc,
            )
            for i, wc in enumerate([numeric_column("w", normalizer_fn=double), "fw"])
        ]
        a, b = (est.train(frame, label=label) for est in made)
        inputs = frame.drop(columns=["y", "t"])
        np.testing.assert_array_equal(
            np.stack(a.predict_frame(inputs)[key].to_numpy()),
            np.stack(b.predict_frame(inputs)[key].to_numpy()),
        )
        assert a.evaluate(frame, label=label) == b.evaluate(frame, label=label)


def test_default_value_fills_missing_weights_exactly(frame, tmp_path):
    holes = frame.assign(w=frame["w"].where(np.arange(len(frame)) % 5 != 0))  # every 5th weight missing
    filled = frame.assign(w=holes["w"].fillna(1.0))
    config = RunConfig(random_seed=0)
    a = LinearClassifier(
        COLUMNS,
        weight_column=numeric_column("w", default_value=1.0),
        model_dir=str(tmp_path / "a"),
        config=config,
    ).train(holes, label="y", steps=3)
    b = LinearClassifier(COLUMNS, weight_column="w", model_dir=str(tmp_path / "b"), config=config).train(
        filled, label="y", steps=3
    )
    assert a.evaluate(holes, label="y") == b.evaluate(filled, label="y")
    with pytest.raises(
        ValueError,
        match=r"numeric column 'w' has 13 missing value\(s\) \(first at row 0\) and no "
        r"default_value",
    ):
        LinearClassifier(COLUMNS, weight_column=numeric_column("w"), model_dir=str(tmp_path / "c")).train(
            holes, label="y", steps=1
        )


def test_read_weights_applies_the_column_in_order():
    features = {"w": np.array([[1.0], [np.nan], [3.0]])}
    column = numeric_column("w", default_value=2.0, normalizer_fn=lambda t: t - 0.5)
    got = read_weights(column, features)
    assert got.dtype == torch.float32 and got.tolist() == [0.5, 1.5, 2.5]
    assert read_weights("w", {"w": [1, 2, 4]}).tolist() == [1.0, 2.0, 4.0]
    assert read_weights(numeric_column("w", dtype="int64"), pd.DataFrame({"w": [3, 1]})).tolist() == [
        3.0,
        1.0,
    ]
    assert weight_key(column) == "w" and weight_key("x") == "x" and weight_key(None) is None


@pytest.mark.parametrize(
    ("weight_column", "message"),
    [
        (
            3,
            r"weight_column must be a column name \(str\) or a numeric_column, as in TF; received 3 \(int\)\.",
        ),
        (
            categorical_column_with_identity("w", 3),
            r"weight_column must be a column name \(str\) or a numeric_column, as in TF; received IdentityColumn 'w'\. "
            r"Pass the key \('w'\) or fc\.numeric_column\('w'\)\.",
        ),
        (
            indicator_column(categorical_column_with_identity("w", 3)),
            r"received IndicatorColumn 'w_indicator'",
        ),
        (
            numeric_column("w", shape=2),
            r"weight_column=numeric_column\('w', shape=\(2,\)\) gives 2 values per example",
        ),
        (
            numeric_column("w", normalizer="zscore"),
            r"numeric_column\('w', normalizer='zscore'\): a weight column's values are used as given",
        ),
        ("", r"weight_column must be a non-empty column name"),
    ],
)
def test_other_weight_columns_are_refused_naming_the_fix(weight_column, message, tmp_path):
    with pytest.raises(WeightColumnError, match=message) as caught:
        check_weight_column(weight_column)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)  # TF: TypeError
    with pytest.raises(TypeError, match=message):  # every premade checks it when it trains
        DNNRegressor([2], COLUMNS, weight_column=weight_column, model_dir=str(tmp_path)).train(
            pd.DataFrame({"a": [1.0], "b": [1.0], "w": [1.0], "t": [1.0]}), label="t", steps=1
        )


def test_weights_the_normalizer_makes_negative_are_refused(frame, tmp_path):
    column = numeric_column("w", normalizer_fn=lambda t: t - 1.0)
    with pytest.raises(
        ValueError,
        match=r"weight_column 'w' has 32 negative or non-finite weight\(s\), e\.g\. -0\.5 "
        r"at row 0; .*or the normalizer_fn\)",
    ):
        LinearClassifier(COLUMNS, weight_column=column, model_dir=str(tmp_path)).train(
            frame, label="y", steps=1
        )
    with pytest.raises(ValueError, match=r"weight_column 'v' is not in the input, which has columns"):
        LinearClassifier(COLUMNS, weight_column=numeric_column("v"), model_dir=str(tmp_path / "v")).train(
            frame, label="y", steps=1
        )


def test_parameters_store_the_column_and_checkpoints_its_key(frame, tmp_path):
    column = numeric_column("w", normalizer_fn=double)
    est = LinearClassifier(COLUMNS, weight_column=column, model_dir=str(tmp_path))
    assert est.get_params()["weight_column"] is column
    assert est._estimator_params()["weight_column"] == "w"


def test_a_head_takes_a_numeric_weight_column_too(frame, tmp_path):
    from estlab.estimator import BinaryClassHead, DNNEstimator

    made = [
        DNNEstimator(
            head=BinaryClassHead(weight_column=wc),
            hidden_units=[4],
            feature_columns=COLUMNS,
            model_dir=str(tmp_path / str(i)),
            config=RunConfig(random_seed=0),
        )
        for i, wc in enumerate([numeric_column("w", normalizer_fn=double), "fw"])
    ]
    a, b = (est.train(frame, label="y", steps=3, batch_size=16) for est in made)
    assert a.evaluate(frame, label="y") == b.evaluate(frame, label="y")
    np.testing.assert_array_equal(_outputs(a, frame, "y"), _outputs(b, frame, "y"))
