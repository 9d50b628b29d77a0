"""Permutation importance (every estimator), the trees' gain importance and per-row contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab.inspection import gain_importance, permutation_importance, tree_contributions


@pytest.fixture
def frame(binary_frame):
    """binary_frame plus a column ``noise`` that no feature column reads."""
    return binary_frame.assign(noise=np.arange(len(binary_frame), dtype="float32"))


@pytest.fixture
def linear(tmp_path, frame):
    from estlab.estimators import LinearClassifier
    from estlab.features import numeric_column
    from estlab.training.config import RunConfig

    est = LinearClassifier([numeric_column("a"), numeric_column("b")], model_dir=str(tmp_path / "lin"),
                           config=RunConfig(random_seed=0))
    return est.train(frame, label="y", num_epochs=20, batch_size=16)


def test_values_follow_the_documented_permutations_exactly(linear, frame):
    imp = permutation_importance(linear, frame, label="y", n_repeats=3, seed=7)
    # the same draws by hand: one generator, per column in frame order, per repeat
    rng = np.random.default_rng(7)
    baseline = linear.evaluate(frame, label="y")["loss"]
    expected = {}
    for column in ["a", "b", "noise"]:
        drops = []
        for _ in range(3):
            order = rng.permutation(len(frame))
            shuffled = frame.assign(**{column: frame[column].to_numpy()[order]})
            drops.append(linear.evaluate(shuffled, label="y")["loss"] - baseline)
        expected[column] = (np.mean(drops), np.std(drops))
    got = imp.set_index("feature")
    for column, (mean, std) in expected.items():
        assert (got.loc[column, "importance_mean"], got.loc[column, "importance_std"]) == (mean, std)
    assert list(imp.columns) == ["feature", "importance_mean", "importance_std"]
    assert imp["importance_mean"].is_monotonic_decreasing and imp["feature"].iloc[-1] == "noise"
    assert (got.loc["noise", "importance_mean"], got.loc["noise", "importance_std"]) == (0.0, 0.0)
    assert got.loc["a", "importance_mean"] > 0.1 and got.loc["b", "importance_mean"] > 0.1
    assert imp.attrs == {"metric": "loss", "baseline": baseline, "higher_is_better": False, "n_repeats": 3,
                         "seed": 7}


def test_higher_is_better_metric_and_no_history_written(linear, frame):
    before = len(linear.history.evaluations)
    imp = permutation_importance(linear, frame, n_repeats=2, metric="accuracy", columns=["a", "noise"])
    assert len(linear.history.evaluations) == before  # scoring leaves no record
    acc = linear.evaluate(frame, label="y")["accuracy"]
    assert imp.attrs["baseline"] == acc and imp.attrs["higher_is_better"] is True
    assert list(imp["feature"]) == ["a", "noise"] and imp["importance_mean"].iloc[0] > 0.05
    # the same seed gives the same answer; the label is the remembered one
    again = permutation_importance(linear, frame, n_repeats=2, metric="accuracy", columns=["a", "noise"])
    pd.testing.assert_frame_equal(imp, again)


def test_bad_arguments_name_the_parameter(linear, frame):
    with pytest.raises(ValueError, match=r"metric 'f1' is not among the estimator's evaluation metrics \[.*'auc'"):
        permutation_importance(linear, frame, label="y", metric="f1")
    with pytest.raises(ValueError, match=r"label 'target' is not a column of frame"):
        permutation_importance(linear, frame, label="target")
    with pytest.raises(ValueError, match=r"n_repeats must be a positive int, got 0"):
        permutation_importance(linear, frame, label="y", n_repeats=0)
    with pytest.raises(ValueError, match=r"\['zz'\] are not in it"):
        permutation_importance(linear, frame, label="y", columns=["zz"])
    with pytest.raises(TypeError, match=r"frame must be a pandas DataFrame"):
        permutation_importance(linear, frame.to_numpy(), label="y")
    with pytest.raises(TypeError, match=r"needs a boosted trees estimator .* got LinearClassifier"):
        gain_importance(linear)


def test_boosted_trees_gain_and_contributions(tmp_path, frame):
    pytest.importorskip("lightgbm")
    from estlab.estimators import BoostedTreesClassifier
    from estlab.features import numeric_column

    trees = BoostedTreesClassifier([numeric_column("a"), numeric_column("b")], n_batches_per_layer=1, n_trees=5,
                                   model_dir=str(tmp_path / "bt"))
    trees.train(frame, label="y")
    gain = gain_importance(trees)
    raw = trees.experimental_feature_importances(normalize=True)
    assert list(gain["feature"]) == list(raw) and list(gain["importance"]) == list(raw.values())
    assert gain["importance"].sum() == pytest.approx(1.0, abs=1e-12)
    inputs = frame.drop(columns=["y"]).set_axis([f"r{i}" for i in range(len(frame))])
    contrib = tree_contributions(trees, inputs)
    probs = trees.predict_frame(inputs)["probabilities_1"].to_numpy()
    assert list(contrib.columns) == ["a", "b", "bias"] and list(contrib.index) == list(inputs.index)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), probs, atol=1e-6)
    perm = permutation_importance(trees, frame, label="y", n_repeats=2)
    assert perm.set_index("feature").loc["noise", "importance_mean"] == 0.0

