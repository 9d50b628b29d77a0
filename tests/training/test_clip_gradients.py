"""RunConfig(clip_gradients=...): TF's clip-by-global-norm before every optimizer step, exact values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.training.config import RunConfig
from estlab.training.loop import clear_grads, clip_by_global_norm

X = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 4.0], [0.5, 0.5]])
Y = np.array([1, 0, 1, 1])


def zero_model_fn(params: dict) -> ModelSpec:
    """Logistic regression whose weights start at zero, trained by plain SGD at rate 1."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)
            torch.nn.init.zeros_(self.linear.weight)
            torch.nn.init.zeros_(self.linear.bias)

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.linear(torch.stack([a, b], dim=1))

    return ModelSpec(
        module=Net(), head=make_head(2), input_names=("a", "b"), optimizer="SGD", learning_rate=1.0
    )


def _one_step(tmp_path, clip: float | None) -> tuple[np.ndarray, float]:
    frame = pd.DataFrame({"a": X[:, 0].astype("float32"), "b": X[:, 1].astype("float32"), "y": Y})
    est = Estimator(
        zero_model_fn,
        model_dir=str(tmp_path / f"clip{clip}"),
        config=RunConfig(random_seed=0, clip_gradients=clip),
    )
    est.train(frame, label="y", steps=1, batch_size=4)
    return est.get_variable_value("linear.weight").reshape(-1), float(
        est.get_variable_value("linear.bias")[0]
    )


def _gradient() -> tuple[np.ndarray, float]:
    """d(mean BCE)/d(w, b) at w = b = 0: mean((sigmoid(0) - y) * x), mean(sigmoid(0) - y)."""
    residual = 0.5 - Y
    return (residual[:, None] * X).mean(axis=0), float(residual.mean())


@pytest.mark.parametrize("clip", [None, 10.0, 0.5, 0.1])
def test_one_sgd_step_moves_by_the_clipped_gradient(tmp_path, clip) -> None:
    grad_w, grad_b = _gradient()
    norm = float(np.sqrt((grad_w**2).sum() + grad_b**2))  # 0.8004 here
    scale = 1.0 if clip is None else min(1.0, clip / norm)
    weight, bias = _one_step(tmp_path, clip)
    np.testing.assert_allclose(weight, -grad_w * scale, rtol=1e-6, atol=1e-7)
    assert bias == pytest.approx(-grad_b * scale, rel=1e-6, abs=1e-7)
    if clip is not None and clip < norm:  # the step's global norm is exactly the clip
        assert float(np.sqrt((weight**2).sum() + bias**2)) == pytest.approx(clip, rel=1e-6)


def test_clip_by_global_norm_spans_optimizers_and_leaves_small_gradients() -> None:
    a, b, c = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])  # global norm 5; c has no gradient
    optimizers = [torch.optim.SGD([a], lr=1.0), torch.optim.Adam([b, c])]
    assert float(clip_by_global_norm(optimizers, 2.5)) == 5.0
    assert a.grad.tolist() == [1.5, 0.0] and b.grad.tolist() == [0.0, 2.0] and c.grad is None
    assert float(clip_by_global_norm(optimizers, 100.0)) == 2.5
    assert a.grad.tolist() == [1.5, 0.0]  # under the clip: unchanged
    a.grad = torch.zeros(2)
    b.grad = torch.zeros(2)
    assert float(clip_by_global_norm(optimizers, 1.0)) == 0.0 and a.grad.tolist() == [0.0, 0.0]
    clear_grads(optimizers)
    assert a.grad is None and b.grad is None


def test_clear_grads_keeps_an_optimizers_own_zero_grad() -> None:
    class Counting(torch.optim.SGD):
        calls = 0

        def zero_grad(self, set_to_none: bool = True) -> None:
            Counting.calls += 1
            super().zero_grad(set_to_none)

    p = torch.nn.Parameter(torch.ones(1))
    p.grad = torch.ones(1)
    clear_grads([Counting([p], lr=0.1)])
    assert Counting.calls == 1 and p.grad is None


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_clip_gradients_names_the_parameter(bad) -> None:
    with pytest.raises(
        ValueError, match=r"RunConfig: clip_gradients must be None or a positive finite number"
    ):
        RunConfig(clip_gradients=bad)
