"""Eval-set predictions travel as a file in the run's model_dir (no pickle), read back by the runs view."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from estlab.widgets._predictions import PREDICTIONS_FILE, load_predictions, save_predictions
from estlab.widgets._state import CURVE_CAPACITY, RunSpec, RunState, apply_event


def test_classification_round_trip_without_pickle(tmp_path):
    path = str(tmp_path / "run" / PREDICTIONS_FILE)
    saved = save_predictions(path, {
        "task": "classification", "classes": [0, 1, 2], "y_true": np.array([2, 0], dtype=object),
        "probabilities": np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]), "y_pred": np.array([2, 0])})
    assert saved == path and os.listdir(tmp_path / "run") == [PREDICTIONS_FILE]  # no temp file left behind
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["classes.npy", "probabilities.npy", "task.npy", "y_pred.npy",
                                              "y_true.npy"]
    loaded = load_predictions(path)
    assert loaded["task"] == "classification" and loaded["classes"] == [0, 1, 2]
    assert loaded["y_true"].dtype == np.int64 and loaded["y_true"].tolist() == [2, 0]
    assert loaded["probabilities"].tolist() == [[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]]


def test_string_labels_and_bad_input(tmp_path):
    path = save_predictions(str(tmp_path / PREDICTIONS_FILE), {
        "task": "classification", "classes": ["no", "yes"], "y_true": np.array(["yes", "no"], dtype=object),
        "probabilities": [[0.4, 0.6], [0.9, 0.1]], "y_pred": ["yes", "no"]})
    loaded = load_predictions(path)
    assert loaded["classes"] == ["no", "yes"] and loaded["y_true"].tolist() == ["yes", "no"]
    with pytest.raises(ValueError, match=r"predictions: 'task' must be one of \['classification', 'regression'\]"):
        save_predictions(str(tmp_path / "x.npz"), {"task": "ranking"})
    with pytest.raises(ValueError, match=r"predictions: regression predictions need \['y_pred'\]"):
        save_predictions(str(tmp_path / "x.npz"), {"task": "regression", "y_true": [1.0]})
    assert sorted(os.listdir(tmp_path)) == [PREDICTIONS_FILE]


def test_run_state_reads_the_predictions_file_and_reloads_a_newer_one(tmp_path):
    path = str(tmp_path / PREDICTIONS_FILE)
    save_predictions(path, {"task": "regression", "y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]})
    state = RunState("r", RunSpec("linear_regressor"))
    assert state.predictions is None
    apply_event(state, {"type": "predictions", "path": path})
    assert state.predictions_path == path and state.model_dir == str(tmp_path)
    assert state.predictions["y_pred"].tolist() == [1.5, 2.0]
    save_predictions(path, {"task": "regression", "y_true": [1.0], "y_pred": [3.0]})
    os.utime(path, (1e9, 1e9))  # a different mtime, whatever the clock's resolution
    assert state.predictions["y_pred"].tolist() == [3.0]


def test_run_state_keeps_its_curves_in_one_capped_history():
    state = RunState("r", RunSpec("linear_classifier"))
    apply_event(state, {"type": "train_begin", "global_step": 0, "time": 1.0, "target_step": 5000, "device": "cpu"})
    for step in range(1, 5001):
        apply_event(state, {"type": "step_end", "global_step": step, "time": 1.0 + step, "loss": 1.0 / step})
        if step % 1000 == 0:
            apply_event(state, {"type": "evaluate", "global_step": step, "time": 1.0 + step, "name": None,
                                "metrics": {"accuracy": step / 10_000}})
    apply_event(state, {"type": "train_end", "lab_run": "r", "status": "failed", "time": 9000.0, "error": "boom"})
    steps, values = state.curves[("train", "loss")].points()
    assert len(steps) <= CURVE_CAPACITY and steps[0] == 1 and steps[-1] == 5000
    assert len({b - a for a, b in zip(steps, steps[1:-1])}) == 1  # evenly spaced (the newest row aside)
    assert state.loss == values[-1] == 1.0 / 5000
    assert state.metrics == {"accuracy": 0.5}
    assert list(state.curves) == [("train", "loss"), ("eval", "accuracy")]
    assert state.curves[("eval", "accuracy")].points() == ([1000, 2000, 3000, 4000, 5000], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert state.record.runs[-1]["status"] == "failed" and state.record.runs[-1]["end_step"] == 5000
    assert state.status == "failed" and state.global_step == 5000
