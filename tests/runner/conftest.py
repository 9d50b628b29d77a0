"""Runner fixtures: a small Adult sample (two numeric columns) and a spec builder."""

from __future__ import annotations

import pytest

from estlab import feature_column as fc
from estlab.datasets import load_adult
from estlab.runner import RunSpec


@pytest.fixture(scope="session")
def small_adult():
    train, test = load_adult()
    columns = ["age", "hours_per_week", "income_bracket"]
    return train[columns].sample(400, random_state=0), test[columns].sample(200, random_state=0)


def linear_spec(max_steps: int = 20, **params) -> RunSpec:
    return RunSpec.create("linear_classifier", params, feature_columns=[fc.numeric_column("age")],
                          label="income_bracket", max_steps=max_steps, eval_every=max_steps, batch_size=32)


@pytest.fixture
def spec_of():
    """``linear_spec(max_steps, **params)``."""
    return linear_spec
