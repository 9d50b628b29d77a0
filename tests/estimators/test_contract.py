"""Contract suite: every registered premade estimator trains, evaluates, predicts, resumes, honours weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.estimators import REGISTRY, create
from estlab.training.config import RunConfig

BINARY_KEYS = {"accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss", "label/mean", "loss",
               "precision", "prediction/mean", "recall"}
REGRESSION_KEYS = {"average_loss", "label/mean", "loss", "prediction/mean", "rmse", "mae"}
BINARY_PREDICTIONS = {"logits", "logistic", "probabilities", "class_ids", "classes", "all_class_ids", "all_classes"}


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 24
    x = rng.normal(size=n)
    return pd.DataFrame({
        "x": x,
        "hours": rng.integers(20, 60, n).astype(float),
        "color": rng.choice(["red", "blue", "green"], n),
        "w": np.ones(n),
        "label": np.where(x > 0, ">50K", "<=50K"),
        "target": 3.0 * x + 1.0,
        "species": rng.choice(["a", "b", "c"], n),
    })


def _kwargs(name: str) -> dict:
    x, hours = fc.numeric_column("x"), fc.numeric_column("hours")
    color = fc.categorical_column_with_vocabulary_list("color", ["red", "blue", "green"])
    dense = [x, hours, fc.indicator_column(color)]
    by_family = {
        "linear": {"feature_columns": [x, hours, color]},
        "dnn": {"hidden_units": [4], "feature_columns": dense},
        "dnn_linear_combined": {"linear_feature_columns": [color], "dnn_feature_columns": [x, hours],
                                "dnn_hidden_units": [4]},
        "baseline": {},
        "boosted_trees": {"feature_columns": dense, "n_trees": 3, "min_child_samples": 2, "num_threads": 1},
    }
    family = name.rsplit("_", 1)[0]
    return dict(by_family[family])


def _make(name: str, model_dir, **extra):
    kwargs = _kwargs(name)
    if REGISTRY[name].task == "classification":
        kwargs.setdefault("label_vocabulary", ["<=50K", ">50K"])
    kwargs.update(extra)
    config = RunConfig(random_seed=0, tensorboard=False, save_checkpoints_steps=1000)
    return create(name, model_dir=str(model_dir), config=config, **kwargs)


def _label(name: str) -> str:
    return "label" if REGISTRY[name].task == "classification" else "target"


def _frame_for(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    drop = [c for c in ("label", "target", "species") if c != _label(name)]
    return frame.drop(columns=drop)


def _needs(name: str) -> list:
    """Boosted trees need LightGBM (an optional extra): skip them where it is not installed."""
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        if name.startswith("boosted_trees"):
            return [pytest.mark.skip(reason="lightgbm is not installed (pip install estlab[boosted])")]
    return []


NAMES = [pytest.param(name, marks=_needs(name)) for name in sorted(REGISTRY)]


@pytest.mark.parametrize("name", NAMES)
def test_train_evaluate_predict_keys(name: str, frame: pd.DataFrame, tmp_path) -> None:
    est = _make(name, tmp_path)
    data = _frame_for(name, frame)
    est.train(data, label=_label(name), steps=2, batch_size=8)
    metrics = est.evaluate(data, label=_label(name))
    expected = BINARY_KEYS if REGISTRY[name].task == "classification" else REGRESSION_KEYS
    assert expected <= set(metrics)
    assert all(isinstance(metrics[k], float) for k in expected)
    predictions = list(est.predict(data.drop(columns=[_label(name)])))
    assert len(predictions) == len(data)
    keys = BINARY_PREDICTIONS if REGISTRY[name].task == "classification" else {"predictions"}
    assert set(predictions[0]) == keys
    if REGISTRY[name].task == "classification":
        assert {p["classes"][0] for p in predictions} <= {"<=50K", ">50K"}


@pytest.mark.parametrize("name", NAMES)
def test_resume_from_model_dir_continues_global_step(name: str, frame: pd.DataFrame, tmp_path) -> None:
    data = _frame_for(name, frame)
    first = _make(name, tmp_path)
    first.train(data, label=_label(name), steps=2, batch_size=8)
    step = first.global_step
    before = first.evaluate(data, label=_label(name))
    second = _make(name, tmp_path)  # a fresh object on the same model_dir restores the checkpoint
    assert second.global_step == step
    assert second.evaluate(data, label=_label(name))["average_loss"] == pytest.approx(before["average_loss"])
    second.train(data, label=_label(name), steps=2, batch_size=8)
    assert second.global_step == step + (1 if REGISTRY[name].trains_full_batch else 2)


@pytest.mark.parametrize("name", [p for p in NAMES if REGISTRY[p.values[0]].task == "classification"])
def test_string_labels_need_the_vocabulary(name: str, frame: pd.DataFrame, tmp_path) -> None:
    est = _make(name, tmp_path, label_vocabulary=None)
    with pytest.raises(ValueError, match=r"labels are strings .* pass label_vocabulary=\['<=50K', '>50K'\]"):
        est.train(_frame_for(name, frame), label="label", steps=1)


@pytest.mark.parametrize("name", [p for p in NAMES if REGISTRY[p.values[0]].task == "classification"])
def test_multiclass_string_labels(name: str, frame: pd.DataFrame, tmp_path) -> None:
    est = _make(name, tmp_path, n_classes=3, label_vocabulary=["a", "b", "c"])
    data = frame.drop(columns=["label", "target"])
    est.train(data, label="species", steps=2, batch_size=8)
    metrics = est.evaluate(data, label="species")
    assert {"accuracy", "average_loss", "loss"} <= set(metrics)
    prediction = next(iter(est.predict(data.drop(columns=["species"]))))
    assert prediction["probabilities"].shape == (3,) and prediction["classes"][0] in {"a", "b", "c"}


@pytest.mark.parametrize("name", NAMES)
def test_weight_column_changes_the_loss_as_expected(name: str, frame: pd.DataFrame, tmp_path) -> None:
    est = _make(name, tmp_path, weight_column="w")
    data = _frame_for(name, frame)
    est.train(data, label=_label(name), steps=2, batch_size=8)
    ones = est.evaluate(data, label=_label(name))
    doubled = est.evaluate(data.assign(w=2.0), label=_label(name))
    # sum_over_batch_size divides by the row count, not the weights: loss doubles, average_loss does not.
    assert doubled["loss"] == pytest.approx(2 * ones["loss"], rel=1e-5)
    assert doubled["average_loss"] == pytest.approx(ones["average_loss"], rel=1e-5)
    half = data.assign(w=np.r_[np.ones(12), np.zeros(12)])
    only_first = est.evaluate(data.iloc[:12], label=_label(name))
    assert est.evaluate(half, label=_label(name))["average_loss"] == pytest.approx(only_first["average_loss"],
                                                                                   rel=1e-5)


def test_weights_change_training(frame: pd.DataFrame, tmp_path) -> None:
    data = _frame_for("linear_classifier", frame)
    plain = _make("linear_classifier", tmp_path / "a", weight_column="w")
    plain.train(data, label="label", steps=3, batch_size=24)
    weighted = _make("linear_classifier", tmp_path / "b", weight_column="w")
    weighted.train(data.assign(w=np.where(data["label"] == ">50K", 5.0, 1.0)), label="label", steps=3,
                   batch_size=24)
    p_plain = plain.evaluate(data, label="label")["prediction/mean"]
    assert weighted.evaluate(data, label="label")["prediction/mean"] > p_plain


def test_baseline_classifier_predicts_the_weighted_prior_exactly(frame: pd.DataFrame, tmp_path) -> None:
    data = _frame_for("baseline_classifier", frame).assign(w=np.arange(1.0, 25.0))
    est = _make("baseline_classifier", tmp_path, weight_column="w")
    est.train(data, label="label")
    metrics = est.evaluate(data, label="label")
    positive = (data["label"] == ">50K").to_numpy()
    rate = data["w"][positive].sum() / data["w"].sum()
    assert metrics["prediction/mean"] == pytest.approx(rate, rel=1e-6)
    assert metrics["accuracy"] == pytest.approx(metrics["accuracy_baseline"])


def test_baseline_multiclass_and_regression_closed_form(frame: pd.DataFrame, tmp_path) -> None:
    data = frame.drop(columns=["label", "target"])
    est = _make("baseline_classifier", tmp_path / "c", n_classes=3, label_vocabulary=["a", "b", "c"])
    est.train(data, label="species")
    probabilities = next(iter(est.predict(data.drop(columns=["species"]))))["probabilities"]
    expected = data["species"].value_counts(normalize=True).reindex(["a", "b", "c"]).to_numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    reg = _make("baseline_regressor", tmp_path / "r")
    reg.train(_frame_for("baseline_regressor", frame), label="target")
    metrics = reg.evaluate(_frame_for("baseline_regressor", frame), label="target")
    assert metrics["prediction/mean"] == pytest.approx(frame["target"].mean(), rel=1e-5)
    assert metrics["rmse"] == pytest.approx(frame["target"].std(ddof=0), rel=1e-5)
