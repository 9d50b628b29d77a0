"""``model_to_estimator`` as TF's ``tf.keras.estimator.model_to_estimator``: the ``keras_model=`` keyword, a
single-input module fed one feature (a bare array, a ``TensorDataset``), and logits of the wrong width."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import estlab as tf
from estlab.estimator.export import build_raw_serving_input_receiver_fn
from estlab.estimators.from_module import ModuleEstimator, model_to_estimator
from estlab.estimators.heads import make_head
from estlab.export import load
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _mlp(width: int = 1) -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, width))


def _batches(features, y, n: int = 64, size: int = 16):
    return [(features(slice(i, i + size)), y[i : i + size]) for i in range(0, n, size)]


def _weights(est) -> dict[str, np.ndarray]:
    return {name: est.get_variable_value(name) for name in est.get_variable_names()}


def test_keras_model_is_tfs_keyword_for_the_module(tmp_path):
    est = tf.keras.estimator.model_to_estimator(keras_model=_mlp(), n_classes=2, model_dir=str(tmp_path))
    assert isinstance(est, ModuleEstimator) and est.params["module"] == "Sequential"
    with pytest.raises(TypeError, match=r"module and keras_model were both given; pass the model once"):
        model_to_estimator(_mlp(), keras_model=_mlp())
    with pytest.raises(
        TypeError, match=r"module \(TF's keras_model\) must be a torch.nn.Module, got NoneType"
    ):
        model_to_estimator()


def test_a_single_input_module_takes_the_one_feature_under_any_key(tmp_path):
    """nn.Sequential's argument is ``input``; a DataLoader of TensorDataset(x, y) is feature "x". Both feeds train
    the same model to the same weights and predict the same values, bare array or named."""
    x, y = _data()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16, shuffle=False)
    by_loader = model_to_estimator(_mlp(), n_classes=2, model_dir=str(tmp_path / "a"), config=CONFIG)
    by_loader.train(loader, steps=4)
    by_name = model_to_estimator(_mlp(), n_classes=2, model_dir=str(tmp_path / "b"), config=CONFIG)
    by_name.train(lambda: iter(_batches(lambda rows: {"input": x[rows]}, y)), steps=4)
    assert by_loader.global_step == by_name.global_step == 4
    ours, theirs = _weights(by_loader), _weights(by_name)
    assert ours.keys() == theirs.keys() == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    bare = [p["logistic"][0] for p in by_loader.predict(lambda: x[:5])]
    named = [p["logistic"][0] for p in by_loader.predict(lambda: {"input": x[:5]})]
    other = [p["logistic"][0] for p in by_loader.predict(lambda: {"pixels": x[:5]})]
    assert bare == named == other and len(bare) == 5
    metrics = by_loader.evaluate(lambda: iter([(x, y)]))
    assert metrics["global_step"] == 4 and 0.0 <= metrics["accuracy"] <= 1.0


def test_the_weight_column_is_not_the_single_input(tmp_path):
    x, y = _data()
    head = make_head(2, weight_column="w")
    est = model_to_estimator(_mlp(), head, model_dir=str(tmp_path), config=CONFIG)
    est.train(lambda: iter(_batches(lambda rows: {"w": np.ones(len(x[rows])), "x": x[rows]}, y)), steps=2)
    assert est.global_step == 2


def test_ambiguous_or_explicitly_named_inputs_still_raise_naming_the_input(tmp_path):
    x, y = _data()
    est = model_to_estimator(_mlp(), n_classes=2, model_dir=str(tmp_path / "a"), config=CONFIG)
    with pytest.raises(
        ValueError,
        match=r"model input\(s\) \['input'\] are missing from the features, which have "
        r"keys \['a', 'b'\]",
    ):
        est.train(lambda: iter([({"a": x, "b": x}, y)]), steps=1)
    named = model_to_estimator(
        _mlp(), n_classes=2, input_names=["pixels"], model_dir=str(tmp_path / "b"), config=CONFIG
    )
    with pytest.raises(ValueError, match=r"model input\(s\) \['pixels'\] are missing .* keys \['x'\]"):
        named.train(lambda: iter([(x, y)]), steps=1)


def test_two_logits_for_n_classes_2_name_the_width_and_the_fix():
    with pytest.raises(
        ValueError,
        match=r"n_classes=2 reads one logit per example \(TF's BinaryClassHead: sigmoid "
        r"cross-entropy\), but Sequential returns 2 \(Keras' Dense\(2\) with sparse "
        r"categorical cross-entropy\); end the module with nn.Linear\(\.\.\., 1\)",
    ):
        model_to_estimator(_mlp(2), n_classes=2)
    with pytest.raises(
        ValueError,
        match=r"n_classes=3 reads 3 logit\(s\) per example, but Sequential returns 2; "
        r"make its last layer nn.Linear\(\.\.\., 3\)",
    ):
        model_to_estimator(_mlp(2), n_classes=3)
    with pytest.raises(
        ValueError, match=r"RegressionHead reads 1 logit\(s\) per example, but Sequential returns 3"
    ):
        model_to_estimator(keras_model=_mlp(3))
    assert model_to_estimator(_mlp(3), n_classes=3).params["module"] == "Sequential"
    # a custom loss reads any width
    assert (
        model_to_estimator(_mlp(2), loss_fn=torch.nn.functional.cross_entropy).params["module"]
        == "Sequential"
    )


def test_an_export_names_its_input_after_the_forward_argument(tmp_path):
    x, y = _data()
    est = model_to_estimator(_mlp(), n_classes=2, model_dir=str(tmp_path / "m"), config=CONFIG)
    est.train(lambda: iter([(x, y)]), steps=1)
    with pytest.raises(
        ValueError,
        match=r"the module reads input\(s\) \['input'\] .* but serving_input_receiver_fn "
        r"declares \['x'\]; declare estlab.estimator.export.build_raw_serving_input_receiver_fn\("
        r"\{'input': np.zeros",
    ):
        est.export_saved_model(str(tmp_path / "e"), build_raw_serving_input_receiver_fn({"x": x[:1]}))
    path = est.export_saved_model(str(tmp_path / "e"), build_raw_serving_input_receiver_fn({"input": x[:1]}))
    served = load(path).predict({"input": x[:3]})
    expected = [p["logistic"] for p in est.predict(lambda: x[:3])]
    np.testing.assert_allclose([p["logistic"] for p in served], expected, rtol=1e-6)


def test_a_zero_argument_optimizer_factory_is_checked_at_construction():
    with pytest.raises(
        ValueError,
        match=r"optimizer=<lambda> takes no argument .*missing 1 required positional "
        r"argument: 'params'.*functools.partial\(torch.optim.Adam, lr=0.01\)",
    ):
        model_to_estimator(_mlp(), n_classes=2, optimizer=lambda: torch.optim.Adam(lr=0.01))
