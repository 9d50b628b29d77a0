"""Shared fixtures: one seed fixture, a tiny frame with numeric, categorical and missing values, and the
estimator/training tests' separable binary problem with a factory for a one-layer custom Estimator.

torch and estlab.estimators are imported inside the fixtures that need them, so collecting a torch-free
test imports neither.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def seed() -> int:
    return 1234


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """Eight rows: numeric (with a NaN), low-cardinality string (with a missing value), an id, a label."""
    return pd.DataFrame(
        {
            "age": [25.0, 38.0, 28.0, 44.0, np.nan, 63.0, 19.0, 52.0],
            "hours": [40, 50, 40, 45, 20, 60, 30, 40],
            "color": ["red", "blue", "red", None, "green", "blue", "red", "blue"],
            "city": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "user_id": list(range(100, 108)),
            "label": [0, 1, 0, 1, 0, 1, 0, 1],
        }
    )


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    """64 rows of two float32 features ``a``, ``b`` and the separable label ``y = a + b > 0``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + x[:, 1] > 0).astype(int)})


@pytest.fixture
def make_estimator(tmp_path):
    """``make(model_dir=None, params=None, **run_config)``: an Estimator over ``linear_model_fn``."""
    from estimator_testing import linear_model_fn

    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig

    def make(model_dir=None, params=None, **config) -> Estimator:
        config.setdefault("save_checkpoints_steps", 5)
        config.setdefault("random_seed", 0)
        return Estimator(linear_model_fn, model_dir=str(model_dir or tmp_path / "run"),
                         config=RunConfig(**config), params=params or {})

    return make
