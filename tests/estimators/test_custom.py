"""Custom estimators: ModelSpec builders, custom losses/metrics, modes, and model_to_estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estlab.estimator.inputs import numpy_input_fn
from estlab.estimators.custom import CustomHead, ModeKeys, ModelSpec, build_model_spec
from estlab.estimators.estimator import Estimator
from estlab.estimators.from_module import model_to_estimator
from estlab.training.config import RunConfig


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, input_1: torch.Tensor) -> torch.Tensor:
        return self.out(self.pool(torch.relu(self.conv(input_1))).flatten(1))


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    images = rng.normal(0, 0.3, size=(n, 1, 8, 8)).astype("float32")
    for i, k in enumerate(labels):  # class 0: top half bright, 1: bottom half, 2: left half
        region = (slice(0, 4), slice(None)) if k == 0 else (slice(4, 8), slice(None)) if k == 1 else (
            slice(None), slice(0, 4))
        images[i, 0][region] += 1.0
    return images, labels


@pytest.mark.slow
def test_model_to_estimator_cnn_on_raw_images(tmp_path):
    images, labels = _images(96, 0)
    test_images, test_labels = _images(48, 1)
    module = SmallCNN()
    original = {k: v.clone() for k, v in module.state_dict().items()}
    config = RunConfig(random_seed=0, save_checkpoints_steps=20)
    est = model_to_estimator(module, n_classes=3, learning_rate=0.05, model_dir=str(tmp_path), config=config)
    train_fn = numpy_input_fn(x={"input_1": images}, y=labels, batch_size=32, num_epochs=None, shuffle=True)
    est.train(train_fn, steps=60)
    metrics = est.evaluate(numpy_input_fn(x={"input_1": test_images}, y=test_labels, shuffle=False))
    assert metrics["global_step"] == 60 and metrics["accuracy"] > 0.9
    assert {"accuracy", "average_loss", "loss"} <= set(metrics)
    predictions = list(est.predict(numpy_input_fn(x={"input_1": test_images[:5]}, shuffle=False)))
    assert [p["probabilities"].shape for p in predictions] == [(3,)] * 5
    assert all(module.state_dict()[k].equal(v) for k, v in original.items())  # the given module is untouched
    resumed = model_to_estimator(SmallCNN(), n_classes=3, model_dir=str(tmp_path), config=config)
    assert resumed.evaluate(numpy_input_fn(x={"input_1": test_images}, y=test_labels, shuffle=False)) == metrics
    resumed.train(train_fn, steps=5)
    assert resumed.global_step == 65


def test_missing_input_name_is_explained(tmp_path):
    est = model_to_estimator(SmallCNN(), n_classes=3, model_dir=str(tmp_path))
    images, labels = _images(8, 0)
    # one feature would feed the single input whatever its key (from_module.ModuleEstimator): give two
    with pytest.raises(ValueError, match=r"model input\(s\) \['input_1'\] are missing .* keys \['x', 'mask'\]"):
        est.train(numpy_input_fn(x={"x": images, "mask": images}, y=labels, shuffle=False), steps=1)


def test_custom_loss_metrics_and_mode(tmp_path):
    modes = []

    class Affine(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x, mode=None):
            modes.append(mode)
            return self.linear(x.reshape(-1, 1))

    def model_fn(params):
        return ModelSpec(module=Affine(), loss_fn=torch.nn.functional.mse_loss, input_names=("x",),
                         metric_fns={"mae": lambda y, z: float(np.abs(y - z).mean())},
                         optimizer="SGD", learning_rate=params["lr"])

    x = np.linspace(-1, 1, 16).astype("float32")
    data = {"x": x, "y": (2 * x + 1).reshape(-1, 1)}
    est = Estimator(model_fn, model_dir=str(tmp_path), params={"lr": 0.3})
    est.train(data, label="y", steps=200, batch_size=16)
    assert modes[0] == ModeKeys.TRAIN
    metrics = est.evaluate(data, label="y")
    assert modes[-1] == ModeKeys.EVAL
    w, b = est.get_variable_value("linear.weight")[0, 0], est.get_variable_value("linear.bias")[0]
    z = w * x + b
    assert metrics["average_loss"] == pytest.approx(np.mean((z - (2 * x + 1)) ** 2), rel=1e-4)
    assert metrics["mae"] == pytest.approx(np.abs(z - (2 * x + 1)).mean(), rel=1e-4)
    assert (w, b) == (pytest.approx(2.0, abs=0.05), pytest.approx(1.0, abs=0.05))
    assert next(est.predict({"x": x}))["predictions"].shape == (1,) and modes[-1] == ModeKeys.PREDICT


def test_model_spec_and_model_fn_errors():
    with pytest.raises(ValueError, match="give head= .* or loss_fn="):
        ModelSpec(module=torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match="module must be a torch.nn.Module, got str"):
        ModelSpec(module="net", loss_fn=torch.nn.functional.mse_loss)
    with pytest.raises(TypeError, match="TF-style model_fn\\(features, labels, mode, params\\)"):
        build_model_spec(lambda features, labels, mode, params: None, {})
    with pytest.raises(TypeError, match="returned a bare nn.Module"):
        build_model_spec(lambda params: torch.nn.Linear(1, 1), {})
    with pytest.raises(ValueError, match="model_fn is None"):
        Estimator().train({"x": np.zeros(2), "y": np.zeros(2)}, label="y", steps=1)
    with pytest.raises(ValueError, match="a custom loss_fn takes numeric labels"):
        CustomHead(torch.nn.functional.mse_loss).encode_labels(np.array(["a", "b"]))
