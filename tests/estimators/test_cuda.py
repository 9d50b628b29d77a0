"""CUDA paths (skipped without a GPU): device="auto", fp16 + GradScaler, bf16, torch.compile, resume, close()."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch

from estlab.estimator.inputs import numpy_input_fn
from estlab.estimators.from_module import model_to_estimator
from estlab.training import checkpoints
from estlab.training.config import RunConfig

from .test_custom import SmallCNN, _images

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("precision", ["fp16", "bf16", None])
def test_cnn_trains_on_cuda_and_resumes(tmp_path, precision):
    images, labels = _images(256, 0)
    config = RunConfig(random_seed=0, save_checkpoints_steps=25, mixed_precision=precision)
    est = model_to_estimator(SmallCNN(), n_classes=3, learning_rate=0.05, model_dir=str(tmp_path), config=config)
    train_fn = numpy_input_fn(x={"input_1": images}, y=labels, batch_size=64, num_epochs=None, shuffle=True)
    est.train(train_fn, steps=100)
    assert est._models.state.device.type == "cuda" and next(est._models.state.module.parameters()).is_cuda
    assert (est._models.state.scaler is not None) == (precision == "fp16")
    eval_fn = numpy_input_fn(x={"input_1": images}, y=labels, shuffle=False)
    metrics = est.evaluate(eval_fn)
    assert metrics["accuracy"] > 0.8
    saved = checkpoints.load_checkpoint(est.latest_checkpoint())
    assert all(not t.is_cuda for t in saved["model"].values())
    resumed = model_to_estimator(SmallCNN(), n_classes=3, model_dir=str(tmp_path), config=config)
    assert resumed.evaluate(eval_fn)["accuracy"] == pytest.approx(metrics["accuracy"])
    resumed.train(train_fn, steps=5)
    assert resumed.global_step == 105
    assert len(list(resumed.predict(numpy_input_fn(x={"input_1": images[:3]}, shuffle=False)))) == 3
    module = weakref.ref(resumed._models.state.module)
    held = torch.cuda.memory_allocated()
    est.close()
    resumed.close()
    assert module() is None and torch.cuda.memory_allocated() < held


def test_compiled_module_trains_and_checkpoints_plain_names(tmp_path):
    images, labels = _images(128, 0)
    config = RunConfig(random_seed=0, save_checkpoints_steps=1000, compile=True)
    est = model_to_estimator(SmallCNN(), n_classes=3, learning_rate=0.05, model_dir=str(tmp_path), config=config)
    est.train(numpy_input_fn(x={"input_1": images}, y=labels, batch_size=64, num_epochs=None, shuffle=True), steps=20)
    assert est.get_variable_names() == ["conv.bias", "conv.weight", "out.bias", "out.weight"]
    assert np.isfinite(est.evaluate(numpy_input_fn(x={"input_1": images}, y=labels, shuffle=False))["loss"])


def test_index_batches_made_on_the_gpu_follow_the_cpu_order():
    from estlab.inputs import IndexBatcher

    on_cpu = IndexBatcher(1000, batch_size=96, num_epochs=2, shuffle=True, seed=7)
    on_gpu = IndexBatcher(1000, batch_size=96, num_epochs=2, shuffle=True, seed=7, device="cuda")
    batches = list(on_gpu)
    assert all(b.is_cuda for b in batches)
    assert [b.tolist() for b in batches] == [b.tolist() for b in on_cpu]


def test_in_memory_training_on_the_gpu_copies_no_row_indices_from_the_host(tmp_path, monkeypatch):
    from estlab.estimators import DNNClassifier
    from estlab.feature_column import numeric_column

    copied = []
    pin = torch.Tensor.pin_memory
    monkeypatch.setattr(torch.Tensor, "pin_memory",
                        lambda self, *a, **k: copied.append(tuple(self.shape)) or pin(self, *a, **k))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 2)).astype(np.float32)
    est = DNNClassifier(hidden_units=[4], feature_columns=[numeric_column("a"), numeric_column("b")],
                        model_dir=str(tmp_path), config=RunConfig(random_seed=0, device="cuda"))
    est.train(numpy_input_fn(x={"a": x[:, 0], "b": x[:, 1]}, y=(x[:, 0] > 0).astype(np.int64), batch_size=64,
                             num_epochs=2, shuffle=True))
    assert est.global_step == 16
    assert (64,) not in copied  # no batch of indices went through pinned host memory
