"""``normalize_labels`` reads its label statistics from every kind of training input (not only frames)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import DNNRegressor, LinearRegressor
from estlab.estimators._premade import LabelMoments, label_statistics
from estlab.inputs import iterable_input_fn, parquet_input_fn
from estlab.training.config import RunConfig

CONFIG = RunConfig(random_seed=0, device="cpu", save_checkpoints_steps=None, save_checkpoints_secs=None)
X = fc.numeric_column("x")


def _data(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).astype("float32"),
            "w": rng.uniform(0.5, 2.0, size=n).astype("float32"),
            "y": (1000.0 + 250.0 * rng.normal(size=n)).astype("float32"),
        }
    )


def _batches(frame: pd.DataFrame, size: int):
    def make():
        for start in range(0, len(frame), size):
            part = frame.iloc[start : start + size]
            yield {"x": part.x.to_numpy(), "w": part.w.to_numpy()}, part.y.to_numpy()

    return make


def _stats(est) -> tuple[float, float]:
    return float(est.get_variable_value("label_mean")[0]), float(est.get_variable_value("label_scale")[0])


def _expected(y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    y = y.astype(np.float64)
    w = np.ones_like(y) if w is None else w.astype(np.float64)
    mean = (y * w).sum() / w.sum()
    return float(np.float32(mean)), float(np.float32(np.sqrt(((y - mean) ** 2 * w).sum() / w.sum())))


def test_generator_statistics_are_the_mean_and_std_of_the_first_fit_rows_labels(tmp_path, caplog) -> None:
    frame = _data(40)
    est = DNNRegressor([4], [X], model_dir=str(tmp_path), config=CONFIG)
    with caplog.at_level(logging.WARNING, logger="estlab.estimators._premade"):
        est.train(iterable_input_fn(_batches(frame, 8), fit_rows=16), steps=1)
    assert _stats(est) == _expected(frame.y.to_numpy()[:16])
    assert "first 16 rows" in caplog.text and "fit_rows=N" in caplog.text


def test_fit_rows_inside_a_batch_takes_that_batch_whole(tmp_path) -> None:
    frame = _data(40)
    est = DNNRegressor([4], [X], model_dir=str(tmp_path), config=CONFIG)
    est.train(iterable_input_fn(_batches(frame, 8), fit_rows=9), steps=1)
    assert _stats(est) == _expected(frame.y.to_numpy()[:16])


def test_generator_and_frame_give_the_same_statistics_when_fit_rows_covers_all(tmp_path, caplog) -> None:
    frame = _data(40)
    streamed = DNNRegressor([4], [X], weight_column="w", model_dir=str(tmp_path / "g"), config=CONFIG)
    with caplog.at_level(logging.WARNING, logger="estlab.estimators._premade"):
        streamed.train(_batches(frame, 8), steps=1)  # a generator function: fit_rows 100,000 covers all
    whole = DNNRegressor([4], [X], weight_column="w", model_dir=str(tmp_path / "f"), config=CONFIG)
    whole.train(frame, label="y", steps=1)
    assert _stats(streamed) == _stats(whole) == _expected(frame.y.to_numpy(), frame.w.to_numpy())
    assert "normalize_labels" not in caplog.text


def test_a_generator_object_is_read_once_and_trained_from_its_first_row(tmp_path) -> None:
    frame = _data(24)
    seen: list[float] = []

    def gen():
        for start in range(0, 24, 8):
            part = frame.iloc[start : start + 8]
            seen.append(float(part.y.iloc[0]))
            yield {"x": part.x.to_numpy()}, part.y.to_numpy()

    est = LinearRegressor([X], model_dir=str(tmp_path), config=CONFIG)
    est.train(gen())
    assert est.global_step == 3  # every batch trained on, none lost to the statistics' read-ahead
    assert seen == [float(frame.y.iloc[0]), float(frame.y.iloc[8]), float(frame.y.iloc[16])]
    assert _stats(est) == _expected(frame.y.to_numpy())


@pytest.mark.parametrize("fit", ["stream", "sample"])
def test_parquet_statistics_are_those_of_the_rows_its_fitting_reads(tmp_path, fit: str) -> None:
    frame = _data(60)
    path = tmp_path / "d.parquet"
    frame.to_parquet(path, row_group_size=7)
    data = parquet_input_fn(str(path), label="y", batch_size=10, fit=fit, sample_rows=25, seed=5)
    est = DNNRegressor([4], [X], weight_column="w", model_dir=str(tmp_path / "m"), config=CONFIG)
    est.train(data, steps=1)
    rows = frame if fit == "stream" else data.sample(25, seed=5)
    assert len(rows) == (60 if fit == "stream" else 25)
    mean, scale = _stats(est)
    expected = _expected(rows.y.to_numpy(), rows.w.to_numpy())
    assert mean == pytest.approx(expected[0], rel=1e-6) and scale == pytest.approx(expected[1], rel=1e-6)


def test_label_moments_chunks_combine_as_their_concatenation() -> None:
    y = torch.tensor([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0], [7.0, 50.0], [9.0, 40.0]])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    moments = LabelMoments().add(y[:2], w[:2]).add(y[2:3], w[2:3]).add(y[3:], w[3:])
    mean, std = moments.result()
    whole_mean, whole_std = label_statistics(y, w)
    torch.testing.assert_close(mean, whole_mean, rtol=1e-7, atol=0)
    torch.testing.assert_close(std, whole_std, rtol=1e-7, atol=0)
    assert whole_mean.tolist() == pytest.approx([41.0 / 7.5, 250.0 / 7.5], rel=1e-6)


def test_constant_labels_scale_one_and_resumed_models_keep_their_statistics(tmp_path) -> None:
    frame = _data(16).assign(y=np.float32(5.0))
    est = DNNRegressor([4], [X], model_dir=str(tmp_path), config=CONFIG)
    est.train(_batches(frame, 8), steps=1)
    assert _stats(est) == (5.0, 1.0)
    other = _data(16)
    again = DNNRegressor([4], [X], model_dir=str(tmp_path), config=CONFIG)
    again.train(_batches(other, 8), steps=1)
    assert _stats(again) == (5.0, 1.0)
