"""TF's custom-estimator contract: model_fn(features, labels, mode, params, config) -> EstimatorSpec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from estlab.datasets import load_penguins
from estlab.estimator.inputs import numpy_input_fn, pandas_input_fn
from estlab.estimators import layers, metrics
from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.estimators.tf_model_fn import EstimatorSpec, ModeKeys, export_keys
from estlab.features import numeric_column
from estlab.training.config import RunConfig

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
COLUMNS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _penguins() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    train, test = load_penguins()
    stats = train[COLUMNS].agg(["mean", "std"])

    def prep(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        frame = frame.dropna(subset=COLUMNS).reset_index(drop=True)
        x = (frame[COLUMNS] - stats.loc["mean"]) / stats.loc["std"]
        return x, pd.Series(pd.Categorical(frame["species"], SPECIES).codes.astype(np.int64))

    return (*prep(train), *prep(test))


def iris_model(features, labels, mode, params):
    """TF's custom-estimator guide (premade iris), with the import changed and torch ops for tf ops."""
    net = layers.input_layer(features, params["feature_columns"])
    for units in params["hidden_units"]:
        net = layers.dense(net, units=units, activation=torch.relu)
    logits = layers.dense(net, params["n_classes"], activation=None)
    predicted_classes = torch.argmax(logits, 1)
    if mode == ModeKeys.PREDICT:
        predictions = {
            "class_ids": predicted_classes[:, None],
            "probabilities": torch.softmax(logits, 1),
            "logits": logits,
        }
        return EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    accuracy = metrics.accuracy(labels=labels, predictions=predicted_classes, name="acc_op")
    eval_metrics = {"accuracy": accuracy}
    if mode == ModeKeys.EVAL:
        return EstimatorSpec(mode, loss=loss, eval_metric_ops=eval_metrics)
    optimizer = torch.optim.Adagrad(layers.trainable_variables(), lr=0.1)
    return EstimatorSpec(mode, loss=loss, train_op=optimizer)


def _iris_estimator(model_dir: str) -> Estimator:
    params = {"feature_columns": [numeric_column(c) for c in COLUMNS], "hidden_units": [10, 10], "n_classes": 3}
    return Estimator(model_fn=iris_model, params=params, model_dir=model_dir, config=RunConfig(random_seed=0))


@pytest.fixture(scope="module")
def trained_iris(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("iris"))
    x_train, y_train, x_test, y_test = _penguins()
    est = _iris_estimator(model_dir)
    est.train(pandas_input_fn(x_train, y_train, batch_size=32, num_epochs=None, shuffle=True), steps=200)
    return est, x_test, y_test


def test_iris_custom_estimator_trains_evaluates_predicts(trained_iris):
    est, x_test, y_test = trained_iris
    result = est.evaluate(pandas_input_fn(x_test, y_test, batch_size=16, shuffle=False))
    logits = np.stack([p["logits"] for p in est.predict(pandas_input_fn(x_test, shuffle=False))])
    class_ids = np.array([p["class_ids"][0] for p in est.predict(pandas_input_fn(x_test, shuffle=False))])
    assert result["global_step"] == 200
    assert result["accuracy"] >= 0.95
    # eval_metric_ops over the whole input (5 batches of <= 16 rows) = the hand computation on all rows
    assert result["accuracy"] == float(np.mean(class_ids == y_test.to_numpy()))
    hand_loss = float(F.cross_entropy(torch.from_numpy(logits), torch.tensor(y_test.to_numpy())))
    assert result["loss"] == pytest.approx(hand_loss, rel=1e-5)
    assert sorted(est.predict(pandas_input_fn(x_test.head(1), shuffle=False)).__next__()) == [
        "class_ids", "logits", "probabilities"]


def test_iris_layers_are_checkpointed_and_restored_in_a_new_estimator(trained_iris):
    est, x_test, y_test = trained_iris
    names = est.get_variable_names()
    assert [n for n in names if n.startswith("store.")] == [
        "store.layers.dense.bias", "store.layers.dense.weight", "store.layers.dense_1.bias",
        "store.layers.dense_1.weight", "store.layers.dense_2.bias", "store.layers.dense_2.weight"]
    assert est.get_variable_value("store.layers.dense.weight").shape == (10, 4)
    again = _iris_estimator(est.model_dir)  # a new estimator reads the checkpoint without any data
    first = est.evaluate(pandas_input_fn(x_test, y_test, shuffle=False))
    assert again.evaluate(pandas_input_fn(x_test, y_test, shuffle=False)) == first
    again.train(pandas_input_fn(x_test, y_test, batch_size=8, num_epochs=None, shuffle=True), steps=3)
    assert again.global_step == 203


def test_iris_export_serves_the_predictions(trained_iris, tmp_path):
    from estlab import export

    est, x_test, _ = trained_iris
    path = est.export_saved_model(str(tmp_path / "export"))
    served = export.load(path).predict(x_test.head(4))
    predicted = list(est.predict(pandas_input_fn(x_test.head(4), shuffle=False)))
    assert [int(row["class_ids"][0]) for row in served] == [int(row["class_ids"][0]) for row in predicted]
    np.testing.assert_allclose(np.stack([r["probabilities"] for r in served]),
                               np.stack([r["probabilities"] for r in predicted]), rtol=1e-5, atol=1e-6)


def _regression_data() -> tuple[dict[str, np.ndarray], np.ndarray]:
    x = np.linspace(-1.0, 1.0, 23, dtype=np.float32).reshape(-1, 1)
    return {"x": x}, (3.0 * x[:, 0] + 0.5).astype(np.float32)


def test_eval_metric_ops_are_computed_over_the_whole_input(tmp_path):
    median_calls = []

    def median_error(labels, predictions):  # not an average of per-batch values
        median_calls.append(len(labels))
        return float(np.median(np.abs(predictions.reshape(-1) - labels)))

    def model_fn(features, labels, mode):  # a subset of TF's arguments, bound by name
        y = layers.dense(features["x"], 1)[:, 0]
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=y)
        loss = F.mse_loss(y, labels)
        ops = {"mae": metrics.mean_absolute_error(labels, y), "median_error": median_error,
               "auc": metrics.auc(labels > 1.0, y)}
        return EstimatorSpec(mode, predictions=y, loss=loss, eval_metric_ops=ops, train_op="SGD")

    x, y = _regression_data()
    est = Estimator(model_fn=model_fn, model_dir=str(tmp_path), config=RunConfig(random_seed=3))
    est.train(numpy_input_fn(x, y, batch_size=8, num_epochs=None, shuffle=True), steps=20)
    result = est.evaluate(numpy_input_fn(x, y, batch_size=5, shuffle=False), batch_size=5)
    predicted = np.array([p["predictions"] for p in est.predict(numpy_input_fn(x, shuffle=False))])
    assert median_calls == [23]
    assert result["mae"] == pytest.approx(float(np.mean(np.abs(predicted - y))), rel=1e-6)
    assert result["median_error"] == pytest.approx(float(np.median(np.abs(predicted - y))), rel=1e-6)
    from sklearn.metrics import roc_auc_score

    assert result["auc"] == pytest.approx(roc_auc_score(y > 1.0, predicted))
    assert result["loss"] == pytest.approx(float(np.mean((predicted - y) ** 2)), rel=1e-5)


class _Mean:
    """A torchmetrics-like object (update/compute/reset) that averages predictions - labels."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, predictions: torch.Tensor, labels: torch.Tensor) -> None:
        self.total += float((predictions - labels).sum())
        self.count += len(labels)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.total / self.count)


def test_stateful_metric_and_callable_train_step(tmp_path):
    def model_fn(features, labels, mode, params, config):
        assert config.random_seed == 5 and params == {"lr": 0.1}
        y = layers.dense(features["x"], 1)[:, 0]
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions={"y": y, "y2": y * 2}, export_outputs=["y"])

        def step() -> None:  # a hand-written SGD update, run after backward
            with torch.no_grad():
                for p in layers.trainable_variables():
                    p -= params["lr"] * p.grad

        return EstimatorSpec(mode, predictions=y, loss=F.mse_loss(y, labels), train_op=step,
                             eval_metric_ops={"bias": _Mean()})

    x, y = _regression_data()
    est = Estimator(model_fn=model_fn, params={"lr": 0.1}, model_dir=str(tmp_path), config=RunConfig(random_seed=5))
    before = est.train(numpy_input_fn(x, y, batch_size=23, num_epochs=None, shuffle=False), steps=1)
    w1 = before.get_variable_value("store.layers.dense.weight").copy()
    est.train(numpy_input_fn(x, y, batch_size=23, num_epochs=None, shuffle=False), steps=30)
    assert not np.array_equal(w1, est.get_variable_value("store.layers.dense.weight"))
    result = est.evaluate(numpy_input_fn(x, y, batch_size=4, shuffle=False), batch_size=4)
    predicted = np.array([p["y"] for p in est.predict(numpy_input_fn(x, shuffle=False))])
    assert result["bias"] == pytest.approx(float(np.mean(predicted - y)), abs=1e-6)
    assert est.get_variable_value("global_step") == 31


def test_export_keys_and_spec_checks():
    assert export_keys({"serving_default": "a", "other": ["b"]}, {"a": 1, "b": 2, "c": 3}) == ["a", "b"]
    with pytest.raises(ValueError, match="not predictions"):
        export_keys(["z"], {"a": torch.zeros(1)})
    with pytest.raises(ValueError, match="train_op is required"):
        EstimatorSpec(ModeKeys.TRAIN, loss=torch.tensor(1.0))
    with pytest.raises(TypeError, match="scalar tensor"):
        EstimatorSpec(ModeKeys.EVAL, loss=torch.zeros(3))


def test_model_fn_returning_something_else_is_refused(tmp_path):
    def model_fn(features, labels, mode):
        return {"loss": 1.0}

    x, y = _regression_data()
    est = Estimator(model_fn=model_fn, model_dir=str(tmp_path))
    with pytest.raises(TypeError, match="must return an EstimatorSpec"):
        est.train(numpy_input_fn(x, y, batch_size=8, num_epochs=1, shuffle=False), steps=1)


def test_lazy_modules_with_adagrad_train_and_restore(tmp_path):
    def model_fn(params):
        net = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.ReLU(), torch.nn.LazyLinear(1))
        return ModelSpec(module=net, head=make_head(None), input_names=("x",), optimizer="Adagrad",
                         learning_rate=0.1)

    x, y = _regression_data()
    est = Estimator(model_fn=model_fn, model_dir=str(tmp_path), config=RunConfig(random_seed=0))
    first = est.train(numpy_input_fn(x, y, batch_size=23, num_epochs=None, shuffle=False), steps=1).evaluate(
        numpy_input_fn(x, y, shuffle=False))
    est.train(numpy_input_fn(x, y, batch_size=23, num_epochs=None, shuffle=False), steps=40)
    later = est.evaluate(numpy_input_fn(x, y, shuffle=False))
    assert later["average_loss"] < first["average_loss"]
    assert est.get_variable_value("0.weight").shape == (4, 1)
    again = Estimator(model_fn=model_fn, model_dir=str(tmp_path))
    assert again.evaluate(numpy_input_fn(x, y, shuffle=False)) == later
    again.train(numpy_input_fn(x, y, batch_size=23, num_epochs=None, shuffle=False), steps=1)  # Adagrad state restored
    assert again.global_step == 42


def test_eval_dir_and_global_step(tmp_path):
    x, y = _regression_data()

    def model_fn(features, labels, mode):
        y_hat = layers.dense(features["x"], 1)[:, 0]
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=y_hat)
        return EstimatorSpec(mode, loss=F.mse_loss(y_hat, labels), train_op=torch.optim.SGD)

    est = Estimator(model_fn=model_fn, model_dir=str(tmp_path))
    assert est.eval_dir() == str(tmp_path / "eval")
    assert est.eval_dir("test") == str(tmp_path / "eval_test")
    est.train(numpy_input_fn(x, y, batch_size=8, num_epochs=None, shuffle=True), steps=7)
    step = est.get_variable_value("global_step")
    assert step.dtype == np.int64 and int(step) == 7
    est.evaluate(numpy_input_fn(x, y, shuffle=False), name="test")
    assert (tmp_path / "eval_test").is_dir()
