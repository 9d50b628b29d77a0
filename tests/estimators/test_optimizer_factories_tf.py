"""TF 2's ``optimizer=lambda: tf.keras.optimizers.Adam(...)`` pattern: a zero-argument factory is accepted when it
returns a spec torch can build from (a name, a class, a partial, a params -> Optimizer callable), and refused at
construction, naming the forms estlab takes, when it builds an optimizer without parameters."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import estlab as tf
from estlab.estimators.optimizers import resolve_optimizer


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(2))]


def test_a_factory_returning_a_class_partial_name_or_callable_resolves_to_it():
    adagrad = resolve_optimizer(lambda: torch.optim.Adagrad, 0.3)(_params())
    assert type(adagrad) is torch.optim.Adagrad and adagrad.param_groups[0]["lr"] == 0.3
    sgd = resolve_optimizer(lambda: functools.partial(torch.optim.SGD, momentum=0.5), 0.2)(_params())
    assert (sgd.param_groups[0]["lr"], sgd.param_groups[0]["momentum"]) == (0.2, 0.5)
    adam = resolve_optimizer(lambda: "adam", 0.01)(_params())
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["lr"] == 0.01
    rms = resolve_optimizer(lambda: lambda params: torch.optim.RMSprop(params, lr=0.4))(_params())
    assert type(rms) is torch.optim.RMSprop and rms.param_groups[0]["lr"] == 0.4


def test_a_factory_building_an_optimizer_without_parameters_is_refused_naming_the_forms():
    with pytest.raises(
        ValueError,
        match=r"optimizer=<lambda> takes no argument \(TF 2's `lambda: tf.keras.optimizers"
        r".Adam\(...\)`\), and calling it failed with TypeError: .*'params'\. A torch "
        r"optimizer is built on the parameters it trains.*pass optimizer= as a name "
        r"\('Adam'\), a torch.optim.Optimizer class \(torch.optim.Adam\), "
        r"functools.partial\(torch.optim.Adam, lr=0.01\), or a callable taking the "
        r"parameters",
    ):
        resolve_optimizer(lambda: torch.optim.Adam(lr=0.01))
    with pytest.raises(
        ValueError,
        match=r"dnn_optimizer=<lambda> takes no argument and returned 3, which is no "
        r"optimizer spec; pass dnn_optimizer= as a name",
    ):
        resolve_optimizer(lambda: 3, parameter="dnn_optimizer")
    with pytest.raises(ValueError, match=r"returned <function .*which is no optimizer spec"):
        resolve_optimizer(lambda: lambda: "adam")


def test_a_factory_returning_an_instance_is_checked_as_an_instance():
    params = _params()
    built = torch.optim.SGD(params, lr=0.1)
    assert resolve_optimizer(lambda: built)(params) is built
    with pytest.raises(ValueError, match=r"received a SGD instance built on other parameters"):
        resolve_optimizer(lambda: built)(_params())


def test_premade_estimators_refuse_the_tf2_pattern_before_training(tmp_path):
    cols = [tf.feature_column.numeric_column("x")]
    batches = [({"x": np.arange(4.0)}, np.array([0, 1, 0, 1]))]
    dnn = tf.estimator.DNNClassifier(
        [4], cols, optimizer=lambda: torch.optim.Adagrad(lr=0.1), model_dir=str(tmp_path / "dnn")
    )
    with pytest.raises(ValueError, match=r"optimizer=<lambda> takes no argument .*'params'"):
        dnn.train(lambda: iter(batches), steps=1)
    combined = tf.estimator.DNNLinearCombinedClassifier(
        linear_feature_columns=cols,
        dnn_feature_columns=cols,
        dnn_hidden_units=[4],
        model_dir=str(tmp_path / "c"),
        linear_optimizer=lambda: torch.optim.Adagrad(lr=0.1),
    )
    with pytest.raises(ValueError, match=r"linear_optimizer=<lambda> takes no argument"):
        combined.train(lambda: iter(batches), steps=1)
    assert dnn.latest_checkpoint() is None and combined.latest_checkpoint() is None


def _train(tmp_path, name: str, optimizer) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > x[:, 1]).astype("int64")
    est = tf.estimator.DNNClassifier(
        [4],
        [tf.feature_column.numeric_column("x", shape=2)],
        optimizer=optimizer,
        learning_rate=0.1,
        model_dir=str(tmp_path / name),
        config=tf.estimator.RunConfig(random_seed=3, tensorboard=False, device="cpu"),
    )
    est.train(lambda: iter([({"x": x[i : i + 16]}, y[i : i + 16]) for i in range(0, 64, 16)]), steps=4)
    assert est.global_step == 4
    return {key: est.get_variable_value(key) for key in est.get_variable_names()}


def test_lambda_returning_a_class_trains_exactly_as_the_class(tmp_path):
    ours = _train(tmp_path, "lambda", lambda: torch.optim.Adagrad)
    theirs = _train(tmp_path, "class", torch.optim.Adagrad)
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
