"""WarmStartSettings / VocabInfo and add_metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estlab.estimator.inputs import numpy_input_fn
from estlab.estimators import layers, metrics
from estlab.estimators.add_metrics import add_metrics
from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.estimators.tf_model_fn import EstimatorSpec, ModeKeys
from estlab.estimators.warm_start import VocabInfo, WarmStartSettings
from estlab.training.config import RunConfig

X = {"x": np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(-1, 1)}
Y = (2.0 * X["x"][:, 0]).astype(np.float32)


def _mlp(params):
    net = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    return ModelSpec(module=net, head=make_head(None), input_names=("x",), optimizer="SGD", learning_rate=0.1)


def _train(model_dir: str, seed: int, warm_start_from=None) -> Estimator:
    est = Estimator(_mlp, model_dir=model_dir, config=RunConfig(random_seed=seed), warm_start_from=warm_start_from)
    return est.train(numpy_input_fn(X, Y, batch_size=16, num_epochs=None, shuffle=False), steps=3)


def _untrained(model_dir: str, seed: int, warm_start_from=None) -> dict[str, np.ndarray]:
    est = Estimator(_mlp, model_dir=model_dir, config=RunConfig(random_seed=seed), warm_start_from=warm_start_from)
    est.train(numpy_input_fn(X, Y, batch_size=16, num_epochs=None, shuffle=False), steps=1)
    return {name: est.get_variable_value(name) for name in est.get_variable_names()}


def test_warm_start_settings_regex_warm_starts_only_matching_variables(tmp_path):
    source = _train(str(tmp_path / "source"), seed=1)
    old = {name: source.get_variable_value(name) for name in source.get_variable_names()}
    settings = WarmStartSettings(source.model_dir, vars_to_warm_start=r"0\.")
    # one SGD step at lr 0 would change nothing; compare the step-1 weights against runs that differ only in
    # the warm start: the first layer must start from the source, the second from the fresh initialisation
    warm = Estimator(_mlp, model_dir=str(tmp_path / "warm"), config=RunConfig(random_seed=2),
                     warm_start_from=settings)
    cold = Estimator(_mlp, model_dir=str(tmp_path / "cold"), config=RunConfig(random_seed=2))
    warm_state = warm._models.build(warm.config, None, fit_on=None).module.state_dict()
    cold_state = cold._models.build(cold.config, None, fit_on=None).module.state_dict()
    np.testing.assert_array_equal(warm_state["0.weight"].numpy(), old["0.weight"])
    np.testing.assert_array_equal(warm_state["0.bias"].numpy(), old["0.bias"])
    np.testing.assert_array_equal(warm_state["2.weight"].numpy(), cold_state["2.weight"].numpy())
    assert not np.array_equal(warm_state["2.weight"].numpy(), old["2.weight"])
    assert str(settings) is settings and settings.ckpt_to_initialize_from == source.model_dir


def test_vocab_info_remaps_embedding_rows_by_token(tmp_path):
    def model_fn(features, labels, mode):
        table = layers.get_variable("embedding", shape=(4, 2), initializer=torch.nn.init.zeros_)
        y = table[features["id"].long()].sum(1)
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=y)
        return EstimatorSpec(mode, loss=torch.nn.functional.mse_loss(y, labels), train_op=torch.optim.SGD)

    ids, targets = {"id": np.arange(4)}, np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    old = Estimator(model_fn, model_dir=str(tmp_path / "old"))
    old.train(numpy_input_fn(ids, targets, batch_size=4, num_epochs=None, shuffle=False), steps=1)
    old_table = old.get_variable_value("store.variables.embedding")  # rows: "a", "b", "c", OOV
    assert not np.allclose(old_table[:3], 0.0)
    vocab_file = tmp_path / "new_vocab.txt"
    vocab_file.write_text("c\nz\na\n")
    info = VocabInfo(new_vocab=str(vocab_file), new_vocab_size=3, num_oov_buckets=1, old_vocab=["a", "b", "c"],
                     backup_initializer=lambda row: torch.nn.init.constant_(row, -1.0))
    settings = WarmStartSettings(old.model_dir, vars_to_warm_start=None,
                                 var_name_to_vocab_info={"store.variables.embedding": info})
    new = Estimator(model_fn, model_dir=str(tmp_path / "new"), warm_start_from=settings)
    state = new._models.build(new.config, None, fit_on=_source(ids, targets))
    table = state.module.state_dict()["store.variables.embedding"].numpy()
    np.testing.assert_array_equal(table[0], old_table[2])  # "c"
    np.testing.assert_array_equal(table[1], [-1.0, -1.0])  # "z" is new: backup initializer
    np.testing.assert_array_equal(table[2], old_table[0])  # "a"
    np.testing.assert_array_equal(table[3], [-1.0, -1.0])  # OOV bucket: never copied


def _source(features, labels):
    from estlab.inputs import resolve_input
    from estlab.inputs.source import as_source

    return as_source(resolve_input(numpy_input_fn(features, labels, batch_size=4, num_epochs=1, shuffle=False)))


def test_add_metrics_adds_a_metric_to_evaluate(tmp_path):
    est = _train(str(tmp_path), seed=0)

    def my_metrics(labels, predictions):
        return {"mae_again": metrics.mean_absolute_error(labels, predictions["predictions"]),
                "max_error": float((labels - predictions["predictions"]).abs().max())}

    with_metrics = add_metrics(est, my_metrics)
    result = with_metrics.evaluate(numpy_input_fn(X, Y, shuffle=False))
    predicted = np.array([p["predictions"][0] for p in est.predict(numpy_input_fn(X, shuffle=False))])
    assert result["mae_again"] == pytest.approx(result["mae"], rel=1e-12)
    assert result["max_error"] == pytest.approx(float(np.max(np.abs(Y - predicted))), rel=1e-6)
    assert "mae_again" not in est.evaluate(numpy_input_fn(X, Y, shuffle=False))
    assert with_metrics.model_dir == est.model_dir and result["global_step"] == 3


def test_add_metrics_on_a_tf_model_fn(tmp_path):
    def model_fn(features, labels, mode):
        y = layers.dense(features["x"], 1)[:, 0]
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions={"y": y})
        return EstimatorSpec(mode, loss=torch.nn.functional.mse_loss(y, labels), train_op="SGD")

    est = Estimator(model_fn, model_dir=str(tmp_path))
    est.train(numpy_input_fn(X, Y, batch_size=8, num_epochs=None, shuffle=True), steps=4)
    added = add_metrics(est, lambda labels, predictions: {"rmse": metrics.root_mean_squared_error(
        labels, predictions["y"])})
    result = added.evaluate(numpy_input_fn(X, Y, batch_size=5, shuffle=False), batch_size=5)
    assert result["rmse"] == pytest.approx(result["loss"] ** 0.5, rel=1e-5)
