"""Binary calibration (Platt, isotonic: exact numpy) and a decision threshold chosen on evaluation data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from estlab.calibration import (
    IsotonicCalibrator,
    PlattCalibrator,
    ThresholdChoice,
    best_threshold,
    binary_scores,
    calibrate,
    calibrator_from_dict,
    choose_threshold,
    threshold_scores,
)


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p**2).astype(int)  # over-confident probabilities: p**2 is the true rate
    return np.round(p, 2), y  # rounding makes ties, as real models have


def test_isotonic_matches_scikit_learn(scores):
    sklearn_isotonic = pytest.importorskip("sklearn.isotonic")
    p, y = scores
    ours = IsotonicCalibrator().fit(p, y)
    ref = sklearn_isotonic.IsotonicRegression(out_of_bounds="clip").fit(p, y)
    grid = np.linspace(-0.1, 1.1, 241)
    np.testing.assert_allclose(ours.transform(grid), ref.predict(grid), rtol=0, atol=1e-12)
    assert np.all(np.diff(ours.y) >= 0) and ours.x == sorted(set(p.tolist()))
    # the pooled values are weighted means of the labels: the overall mean is kept exactly
    counts = pd.Series(p).value_counts().sort_index().to_numpy()
    assert np.dot(ours.y, counts) / counts.sum() == pytest.approx(y.mean(), abs=1e-12)


def test_platt_solves_its_likelihood_equations(scores):
    p, y = scores
    cal = PlattCalibrator().fit(p, y)
    n1, n0 = y.sum(), len(y) - y.sum()
    t = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
    x = np.log(np.clip(p, 1e-15, 1 - 1e-15)) - np.log1p(-np.clip(p, 1e-15, 1 - 1e-15))
    q = cal.transform(p)
    assert abs(np.sum(q - t)) < 1e-9 and abs(np.sum((q - t) * x)) < 1e-9  # zero gradient: the optimum
    assert cal.a > 1.0  # over-confident inputs are sharpened the other way: p**2 means a steeper curve
    # a perfectly calibrated input is left (almost) alone: a ~ 1, b ~ 0
    rng = np.random.default_rng(0)
    pc = rng.uniform(0.01, 0.99, size=20000)
    fair = PlattCalibrator().fit(pc, (rng.uniform(size=pc.size) < pc).astype(int))
    assert fair.a == pytest.approx(1.0, abs=0.06) and fair.b == pytest.approx(0.0, abs=0.06)


def test_threshold_scores_match_a_brute_force_count(scores):
    metrics = pytest.importorskip("sklearn.metrics")
    p, y = scores
    table = threshold_scores(p, y, "f1")
    for row in table.itertuples():
        decided = (p >= row.threshold).astype(int)
        assert row.tp == int(((decided == 1) & (y == 1)).sum()) and row.fp == int(((decided == 1) & (y == 0)).sum())
        assert row.f1 == pytest.approx(metrics.f1_score(y, decided), abs=1e-15)
    mcc = threshold_scores(p, y, "mcc")
    for row in mcc.itertuples():
        assert row.mcc == pytest.approx(metrics.matthews_corrcoef(y, (p >= row.threshold).astype(int)), abs=1e-12)


def test_choose_threshold_on_an_estimator_and_apply(tmp_path):
    from estlab.estimators import LinearClassifier
    from estlab.features import numeric_column
    from estlab.training.config import RunConfig

    rng = np.random.default_rng(1)
    x = rng.normal(size=400).astype("float32")
    frame = pd.DataFrame({"x": x, "y": np.where(rng.uniform(size=400) < 1 / (1 + np.exp(-2 * x)), "yes", "no")})
    est = LinearClassifier([numeric_column("x")], label_vocabulary=["no", "yes"], model_dir=str(tmp_path / "m"),
                           config=RunConfig(random_seed=0)).train(frame, label="y", num_epochs=5, batch_size=32)
    p, y = binary_scores(est, frame, "y")
    assert y.tolist() == (frame["y"] == "yes").astype(int).tolist()
    np.testing.assert_array_equal(p, est.predict_frame(frame)["probabilities_yes"].to_numpy())
    choice = choose_threshold(est, frame, "y", metric="accuracy")
    table = threshold_scores(p, y, "accuracy")
    assert choice.score == table["accuracy"].max() and choice.threshold in table["threshold"].tolist()
    assert choice.score == np.mean((p >= choice.threshold) == y)
    decided = choice.apply(est.predict_frame(frame))
    assert decided["decision"].tolist() == (p >= choice.threshold).astype(int).tolist()
    # calibrated, then thresholded: the calibrator's column is read first
    cal = calibrate(est, frame, "y", method="isotonic")
    calibrated = cal.apply(est.predict_frame(frame))
    np.testing.assert_array_equal(calibrated["calibrated_probability"].to_numpy(), cal.transform(p))
    on_calibrated = choose_threshold(est, frame, "y", metric="f1", calibrator=cal)
    assert on_calibrated.apply(calibrated)["decision"].tolist() == on_calibrated.predict(cal.transform(p)).tolist()
    # saved as plain JSON and rebuilt without code
    for fitted in (cal, calibrate(est, frame, "y", method="platt")):
        again = calibrator_from_dict(json.loads(json.dumps(fitted.to_dict())))
        np.testing.assert_array_equal(again.transform(p), fitted.transform(p))


def test_the_best_threshold_and_its_ties():
    p, y = np.array([0.1, 0.2, 0.45, 0.7, 0.9]), np.array([0, 0, 0, 1, 1])
    assert threshold_scores(p, y, "accuracy")["accuracy"].tolist() == [0.4, 0.6, 0.8, 1.0, 0.8]
    assert best_threshold(p, y, "accuracy") == ThresholdChoice(0.7, "accuracy", 1.0)
    assert ThresholdChoice(0.7, "accuracy", 1.0).predict(p).tolist() == y.tolist()
    # 0.4 and 0.9 both score 0.75: the one nearer 0.5 wins
    assert best_threshold([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], "accuracy").threshold == 0.4
    assert best_threshold([0.1, 0.55, 0.6, 0.9], [0, 1, 0, 1], "accuracy").threshold == 0.55


def test_bad_input_is_named(tmp_path, binary_frame):
    from estlab.estimators import LinearClassifier
    from estlab.features import numeric_column

    with pytest.raises(ValueError, match=r"labels must be 0 or 1; got \[2\]"):
        IsotonicCalibrator().fit([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        PlattCalibrator().fit([0.1, 1.2], [0, 1])
    with pytest.raises(ValueError, match=r"metric='auc' is not a threshold metric; choose one of"):
        threshold_scores([0.1, 0.2], [0, 1], "auc")
    with pytest.raises(ValueError, match=r"method 'spline' is not one of"):
        calibrator_from_dict({"method": "spline"})
    three = LinearClassifier([numeric_column("a")], n_classes=3, model_dir=str(tmp_path / "m3"))
    three.train(binary_frame, label="y", steps=1)
    with pytest.raises(ValueError, match=r"for binary classifiers; LinearClassifier predicts \['probabilities_0'"):
        choose_threshold(three, binary_frame, "y")
    with pytest.raises(ValueError, match=r"calibrate: method='beta'; choose one of \['isotonic', 'platt'\]"):
        calibrate(three, binary_frame, "y", method="beta")
