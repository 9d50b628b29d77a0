"""``tf.nn.*`` activations, ``tf.losses.Reduction`` and ``tf.keras.losses.Reduction`` after ``import estlab as tf``:
TF's definitions on chosen inputs, and the premade estimators taking them."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import estlab
import estlab as tf

ROOT = Path(__file__).resolve().parents[1]
X = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 7.0], dtype=torch.float64)
XS = X.tolist()


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _close(actual: torch.Tensor, expected: list[float]) -> None:
    assert actual.dtype == torch.float64
    np.testing.assert_allclose(actual.numpy(), np.array(expected), rtol=1e-14, atol=1e-15)


def test_piecewise_linear_activations_are_exact():
    assert tf.nn.relu(X).tolist() == [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 3.0, 7.0]
    assert tf.nn.relu6(X).tolist() == [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 3.0, 6.0]
    # TF's default alpha is 0.2 (torch's negative_slope defaults to 0.01)
    assert tf.nn.leaky_relu(torch.tensor([-2.0, -1.0, 0.0, 3.0], dtype=torch.float64)).tolist() == [
        -0.4,
        -0.2,
        0.0,
        3.0,
    ]
    assert tf.nn.leaky_relu(torch.tensor([-2.0, 3.0]), alpha=0.5).tolist() == [-1.0, 3.0]


def test_smooth_activations_follow_tfs_formulas():
    _close(tf.nn.elu(X), [x if x > 0 else math.expm1(x) for x in XS])
    scale, alpha = 1.0507009873554805, 1.6732632423543772  # TF's selu constants
    _close(tf.nn.selu(X), [scale * (x if x > 0 else alpha * math.expm1(x)) for x in XS])
    _close(tf.nn.sigmoid(X), [1 / (1 + math.exp(-x)) for x in XS])
    _close(tf.nn.tanh(X), [math.tanh(x) for x in XS])
    _close(tf.nn.softplus(X), [math.log1p(math.exp(x)) for x in XS])
    _close(tf.nn.softsign(X), [x / (abs(x) + 1) for x in XS])
    _close(tf.nn.gelu(X), [0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in XS])
    _close(
        tf.nn.gelu(X, approximate=True),
        [0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))) for x in XS],
    )
    _close(tf.nn.silu(X), [x / (1 + math.exp(-x)) for x in XS])
    _close(tf.nn.silu(X, beta=2.0), [x / (1 + math.exp(-2 * x)) for x in XS])
    assert tf.nn.swish is tf.nn.silu


def test_softmax_defaults_to_the_last_axis_as_tf():
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), math.log(2.0)]], dtype=torch.float64)
    _close(tf.nn.softmax(logits).flatten(), [0.25, 0.75, 0.5, 0.5])
    _close(tf.nn.softmax(logits, axis=0).flatten(), [1 / 3, 0.6, 2 / 3, 0.4])
    _close(
        tf.nn.log_softmax(logits).flatten(), [math.log(0.25), math.log(0.75), math.log(0.5), math.log(0.5)]
    )


def test_tfs_name_argument_is_accepted_and_gelu_refuses_torchs_string_flag():
    assert tf.nn.relu(torch.tensor([-1.0, 1.0]), name="hidden").tolist() == [0.0, 1.0]
    with pytest.raises(TypeError, match=r"gelu: approximate must be True or False .*received 'tanh'"):
        tf.nn.gelu(torch.zeros(1), approximate="tanh")  # type: ignore[arg-type]


def test_reduction_names_are_the_heads_values():
    from estlab.estimators.heads import make_head

    assert (tf.losses.Reduction.SUM, tf.losses.Reduction.SUM_OVER_BATCH_SIZE) == (
        "sum",
        "sum_over_batch_size",
    )
    assert tf.losses.Reduction.AUTO == "sum_over_batch_size"  # what TF's estimator heads do with AUTO
    assert tf.keras.losses.Reduction is tf.losses.Reduction
    assert make_head(2, loss_reduction=tf.losses.Reduction.SUM).loss_reduction == "sum"
    assert make_head(3, loss_reduction=tf.losses.Reduction.AUTO).loss_reduction == "sum_over_batch_size"
    with pytest.raises(ValueError, match=r"loss_reduction='none' is not supported"):
        make_head(2, loss_reduction=tf.losses.Reduction.NONE)  # TF's heads refuse NONE too
    assert tf.losses.Reduction.all() == ("none", "sum", "sum_over_batch_size")
    tf.losses.Reduction.validate("sum")
    with pytest.raises(ValueError, match=r"Invalid Reduction key 'mean'"):
        tf.losses.Reduction.validate("mean")


@pytest.mark.parametrize("name", ["MEAN", "SUM_BY_NONZERO_WEIGHTS", "SUM_OVER_NONZERO_WEIGHTS"])
def test_tf1_only_reductions_say_there_is_no_equivalent(name):
    with pytest.raises(
        AttributeError, match=rf"Reduction\.{name} \(TF 1's .* has no estlab equivalent; .*SUM"
    ):
        getattr(tf.losses.Reduction, name)
    with pytest.raises(AttributeError, match=r"no attribute 'SUMM'; TF's names are AUTO, NONE, SUM"):
        tf.losses.Reduction.SUMM  # noqa: B018


def test_keras_serves_only_losses_and_estimator():
    assert tf.keras.estimator.model_to_estimator is estlab.estimator.model_to_estimator
    with pytest.raises(AttributeError, match=r"'estlab.keras' has no attribute 'layers'.*torch.nn.Module"):
        tf.keras.layers  # noqa: B018
    assert {"nn", "losses", "keras"} <= set(dir(estlab))


def test_import_estlab_stays_torch_free_and_reduction_needs_no_torch():
    out = _run(
        "import sys, estlab\n"
        "print(estlab.losses.Reduction.SUM, estlab.keras.losses.Reduction.SUM, 'torch' in sys.modules)"
    )
    assert out == "sum sum False"
    assert (
        _run(
            "import sys; sys.modules['torch'] = None\nimport estlab.losses, estlab.keras\n"
            "print(estlab.keras.losses.Reduction.SUM_OVER_BATCH_SIZE)"
        )
        == "sum_over_batch_size"
    )


def _train_dnn(tmp_path, name: str, activation_fn, loss_reduction: str = "sum_over_batch_size") -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    est = tf.estimator.DNNClassifier(
        [6, 4],
        [tf.feature_column.numeric_column("x", shape=3)],
        activation_fn=activation_fn,
        loss_reduction=loss_reduction,
        model_dir=str(tmp_path / name),
        config=tf.estimator.RunConfig(random_seed=7, tensorboard=False, device="cpu"),
    )
    est.train(lambda: iter([({"x": x[i : i + 32]}, y[i : i + 32]) for i in range(0, 96, 32)] * 3), steps=9)
    assert est.global_step == 9
    return {name: est.get_variable_value(name) for name in est.get_variable_names()}


def test_dnn_with_tf_nn_relu_trains_exactly_as_with_torch_relu(tmp_path):
    ours = _train_dnn(tmp_path, "tf_nn", tf.nn.relu)
    theirs = _train_dnn(tmp_path, "torch", torch.relu)
    assert ours.keys() == theirs.keys() and any(key.endswith("weight") for key in ours)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


def test_dnn_takes_tf_nn_leaky_relu_and_reduction_sum(tmp_path):
    ours = _train_dnn(tmp_path, "tf_nn", tf.nn.leaky_relu, tf.losses.Reduction.SUM)
    theirs = _train_dnn(tmp_path, "torch", torch.nn.LeakyReLU(0.2), "sum")
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
