"""The per-process cache of encoded frames: hits for the same buffers, never for changed data, bounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.features import (
    FeatureTransformer,
    categorical_column_with_vocabulary_list,
    indicator_column,
    numeric_column,
)
from estlab.features import encode_cache as cache


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    cache.set_limits(max_entries=2, max_bytes=512 << 20)
    yield
    cache.clear()
    cache.set_limits(max_entries=2, max_bytes=512 << 20)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"x": np.arange(6, dtype=np.float64), "c": ["a", "b", "a", "c", "b", "a"], "y": [0, 1, 0, 1, 0, 1]}
    )


def _transformer(frame: pd.DataFrame) -> FeatureTransformer:
    columns = [
        numeric_column("x", normalizer="zscore"),
        indicator_column(categorical_column_with_vocabulary_list("c", ["a", "b", "c"])),
    ]
    return FeatureTransformer(columns).fit(frame)


def test_the_same_buffers_are_served_from_the_cache() -> None:
    frame = _frame()
    ft = _transformer(frame)
    first = cache.cached_transform(ft, frame)
    again = cache.cached_transform(ft, frame)
    assert again["x"] is first["x"] and again["c"] is first["c"]
    dropped = frame.drop(columns=["y"])  # shares the buffers of the other columns
    assert cache.cached_transform(ft, frame)["x"] is first["x"]
    assert cache.cached_transform(ft, dropped)["x"] is not first["x"]  # other columns: another entry
    assert cache.cache_info()["entries"] == 2
    for key, tensor in ft.transform(frame).items():
        torch.testing.assert_close(first[key], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("change", ["loc", "setitem", "replace", "iloc"])
def test_a_mutated_frame_is_encoded_again(change: str) -> None:
    frame = _frame()
    ft = _transformer(frame)
    before = cache.cached_transform(ft, frame)
    if change == "loc":
        frame.loc[2, "x"] = 100.0
    elif change == "setitem":
        frame["c"] = ["c"] * 6
    elif change == "replace":
        frame.replace({"x": {2.0: 9.0}}, inplace=True)
    else:
        frame.iloc[3, 1] = "b"
    after = cache.cached_transform(ft, frame)
    assert after["x"] is not before["x"]
    for key, tensor in ft.transform(frame).items():
        torch.testing.assert_close(after[key], tensor, rtol=0, atol=0)
    assert not all(torch.equal(after[k], before[k]) for k in before)


def test_another_fitted_state_or_columns_miss() -> None:
    frame = _frame()
    ft = _transformer(frame)
    first = cache.cached_transform(ft, frame)
    refit = _transformer(frame.iloc[:3])  # other mean and variance
    assert cache.cached_transform(refit, frame)["x"] is not first["x"]
    other_columns = FeatureTransformer([numeric_column("x")]).fit(frame)
    assert cache.cached_transform(other_columns, frame)["x"] is not first["x"]


def test_frames_without_readable_buffers_and_dicts_are_not_cached() -> None:
    frame = _frame().astype({"c": "category"})
    ft = _transformer(_frame())
    assert cache.cached_transform(ft, frame)["x"] is not cache.cached_transform(ft, frame)["x"]
    objects = _frame().astype({"c": object})
    assert cache.cached_transform(ft, objects)["x"] is not cache.cached_transform(ft, objects)["x"]
    data = {"x": np.arange(3.0), "c": np.array(["a", "b", "c"])}
    assert cache.cached_transform(ft, data)["x"] is not cache.cached_transform(ft, data)["x"]
    assert cache.cache_info()["entries"] == 0


def test_bounds() -> None:
    ft = _transformer(_frame())
    frames = [_frame() for _ in range(3)]
    for frame in frames:
        cache.cached_transform(ft, frame)
    assert cache.cache_info()["entries"] == 2  # the oldest went first
    cache.set_limits(max_entries=1)
    assert cache.cache_info()["entries"] == 1
    cache.set_limits(max_bytes=0)
    assert cache.cache_info()["entries"] == 0
    cache.cached_transform(ft, frames[0])
    assert cache.cache_info()["entries"] == 0
    with pytest.raises(ValueError, match=r"set_limits: max_bytes must be an int >= 0 or None, got -1"):
        cache.set_limits(max_bytes=-1)


def test_evaluate_after_a_change_uses_the_new_values(tmp_path) -> None:
    from estlab.estimators import LinearClassifier
    from estlab.training.config import RunConfig

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["a", "b", "c"], 200)})
    frame["y"] = (frame["x"] > 0).astype(int)
    columns = [numeric_column("x"), categorical_column_with_vocabulary_list("c", ["a", "b", "c"])]
    est = LinearClassifier(feature_columns=columns, model_dir=str(tmp_path), config=RunConfig(random_seed=0))
    est.train(frame, label="y", steps=5)
    est.evaluate(frame, label="y")
    assert cache.cache_info()["entries"] >= 1
    frame.loc[frame.index[:100], "x"] = -frame["x"].iloc[:100]
    served = est.evaluate(frame, label="y")
    cache.clear()
    cache.set_limits(max_bytes=0)
    fresh = est.evaluate(frame, label="y")
    assert {k: v for k, v in served.items() if k != "global_step"} == {
        k: v for k, v in fresh.items() if k != "global_step"
    }
