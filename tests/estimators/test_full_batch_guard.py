"""A full-batch fit (baseline) that gives a non-finite model never writes a checkpoint.

The loop's NaN guard probes before every checkpoint; a full-batch learner trains outside the loop, so the
session probes the fitted model the same way before its one checkpoint. For a baseline the closed-form bias is
finite for every accepted input (labels within the head's bounds, finite weights), except weights near
float32's limit times a class weight, which overflow: that is refused with a clear error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.estimators import BaselineClassifier, BaselineRegressor
from estlab.estimators import baseline as baseline_module
from estlab.training.config import RunConfig
from estlab.training.loop import NanLossError

CONFIG = RunConfig(random_seed=0, tensorboard=False, device="cpu")


def _checkpoints(path) -> list:
    return sorted(path.glob("model.ckpt-*"))


def test_weights_times_class_weight_that_overflow_are_refused_without_a_checkpoint(tmp_path):
    frame = pd.DataFrame({"w": [3e38, 3e38, 1.0, 1.0], "y": [1, 1, 0, 1]})
    est = BaselineClassifier(
        weight_column="w", class_weight={1: 10.0}, model_dir=str(tmp_path), config=CONFIG
    )
    with pytest.raises(
        ValueError,
        match=r"weight_column: 2 example weight\(s\) times their class_weight overflow "
        r"float32 to inf; rescale weight_column",
    ):
        est.train(frame, label="y", steps=1)
    assert _checkpoints(tmp_path) == []


def test_a_fit_that_gives_a_non_finite_bias_writes_no_checkpoint(tmp_path, monkeypatch):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 4.0]})
    est = BaselineRegressor(model_dir=str(tmp_path), config=CONFIG)
    est.train(frame, label="y", steps=1)
    good = _checkpoints(tmp_path)
    assert len(good) == 1
    monkeypatch.setattr(
        baseline_module,
        "closed_form_bias",  # a fault the closed form can't produce by itself
        lambda *args: torch.tensor([float("nan")]),
    )
    with pytest.raises(
        NanLossError,
        match=r"BaselineRegressor: the fitted model is unusable: parameter 'bias' holds "
        r"non-finite values; no checkpoint of it is written",
    ):
        est.train(frame, label="y", steps=1)
    assert _checkpoints(tmp_path) == good
    assert est.predict_frame(frame.drop(columns="y"))["predictions"].tolist() == pytest.approx([7 / 3] * 3)


@pytest.mark.parametrize("task", ["regression", "binary", "multi-class"])
def test_the_closed_form_is_finite_for_every_accepted_extreme(task):
    """Labels at the head's bounds and weights at float32's limit (what the checks let through) give a finite bias."""
    big = float(np.finfo(np.float32).max)
    weights = torch.tensor([big, big, 1e-30, big], dtype=torch.float32)
    if task == "regression":
        labels, dimension = torch.tensor([[1e17], [-1e17], [1e17], [1e17]]), 1
    elif task == "binary":
        labels, dimension = (
            torch.tensor([[1.0], [1.0], [1.0], [1.0]]),
            1,
        )  # all one class: the logit is clamped
    else:
        labels, dimension = torch.tensor([0, 0, 2, 0]), 3  # a class never seen: log of the clamped frequency
    for w in (weights, None, torch.tensor([0.0, 0.0, 0.0, 1e-45])):
        bias = baseline_module.closed_form_bias(task, labels, w, dimension)
        assert bias.shape == (dimension,) and bool(torch.isfinite(bias).all())
