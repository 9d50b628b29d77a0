"""Shared pieces of the estimator and training tests: a one-layer custom model_fn (imported by conftest,
the test modules and the SIGKILL test's child process, which loads this file by path)."""

from __future__ import annotations

import torch

from estlab.estimators.custom import ModelSpec
from estlab.estimators.heads import make_head


def linear_model_fn(params: dict) -> ModelSpec:
    """Logistic regression on raw tensors ``a`` and ``b``."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.linear(torch.stack([a, b], dim=1))

    return ModelSpec(module=Net(), head=make_head(2, weight_column=params.get("weight_column")),
                     input_names=("a", "b"), optimizer="SGD", learning_rate=params.get("learning_rate", 0.5))
