"""Shared fixtures: one seed fixture and a tiny frame with numeric, categorical and missing values."""

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
