"""Fixtures for the Estimator core: a tiny separable binary problem and a one-layer custom model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.training.config import RunConfig


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


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + x[:, 1] > 0).astype(int)})


@pytest.fixture
def make_estimator(tmp_path):
    def make(model_dir=None, params=None, **config) -> Estimator:
        config.setdefault("save_checkpoints_steps", 5)
        config.setdefault("random_seed", 0)
        return Estimator(linear_model_fn, model_dir=str(model_dir or tmp_path / "run"),
                         config=RunConfig(**config), params=params or {})

    return make
