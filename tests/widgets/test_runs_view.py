"""RunsView: sortable leaderboard with baseline deltas, curve overlays, diagnostics, release."""

from __future__ import annotations

import os

import numpy as np

from estlab.widgets._predictions import PREDICTIONS_FILE, save_predictions
from estlab.widgets._state import RunSpec
from estlab.widgets.leaderboard import RunsView, diagnostics_png

PNG = b"\x89PNG"


class PredictingJob:
    """A FakeJob that also writes eval-set predictions into its model_dir and reports the path, as EstimatorJob does."""

    def __init__(self, fake_job, steps, predictions, model_dir):
        self.inner = fake_job(steps=steps)
        self.predictions = predictions
        self.model_dir = str(model_dir)

    def run(self, emit):
        self.inner.run(emit)
        path = save_predictions(os.path.join(self.model_dir, PREDICTIONS_FILE), self.predictions)
        emit({"type": "predictions", "path": path})

    def request_stop(self):
        self.inner.request_stop()

    def release(self):
        self.inner.release()


def classification_predictions():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    return {"task": "classification", "y_true": np.array(["<=50K", ">50K", ">50K", "<=50K"], dtype=object),
            "probabilities": probabilities, "classes": ["<=50K", ">50K"],
            "y_pred": np.array(["<=50K", ">50K", "<=50K", ">50K"], dtype=object)}


def test_leaderboard_sorts_compares_and_overlays(manager_for, fake_job, tmp_path):
    manager = manager_for(fake_job(steps=10), PredictingJob(fake_job, 20, classification_predictions(), tmp_path))
    view = RunsView(manager)
    manager.launch(RunSpec.create("linear_classifier", max_steps=10))
    manager.launch(RunSpec.create("dnn_classifier", {"hidden_units": [4]}, max_steps=20))
    manager.wait()
    view.sort_by.value = "accuracy"
    view.baseline.value = "linear_classifier-1"
    manager.flush()
    board = view.leaderboard()
    assert board["run"].tolist() == ["dnn_classifier-2", "linear_classifier-1"]
    table = view.table.value
    assert table.index("dnn_classifier-2") < table.index("linear_classifier-1")
    assert f"({20 / 21 - 10 / 11:+.4f})" in table  # delta against the baseline, green: better
    assert "linear_classifier-1</b> ★" in table
    view.reverse.value = True
    manager.flush()
    assert view.leaderboard()["run"].tolist() == ["linear_classifier-1", "dnn_classifier-2"]
    assert set(view.select.value) == {"linear_classifier-1", "dnn_classifier-2"}  # pre-selected overlay
    assert bytes(view.overlay.value).startswith(PNG)
    assert {value for _, value in view.metric.options} >= {"loss", "accuracy"}


def test_diagnostics_for_a_classifier_and_release(manager_for, fake_job, tmp_path):
    job = PredictingJob(fake_job, 5, classification_predictions(), tmp_path)
    manager = manager_for(job)
    view = RunsView(manager)
    manager.launch(RunSpec.create("dnn_classifier", max_steps=5))
    manager.wait()
    manager.flush()
    assert view.diag_run.value == "dnn_classifier-1"
    state = manager.runs["dnn_classifier-1"]
    assert state.predictions_path == str(tmp_path / PREDICTIONS_FILE)  # the run record holds a path, not arrays
    assert state.predictions["classes"] == ["<=50K", ">50K"]
    assert state.predictions["y_true"].tolist() == ["<=50K", ">50K", ">50K", "<=50K"]
    np.testing.assert_array_equal(state.predictions["probabilities"], classification_predictions()["probabilities"])
    assert bytes(view.diagnostics.value).startswith(PNG) and view.diagnostics.layout.display is None
    view.release_button.click()
    manager.flush()
    assert job.inner.released
    assert "(released)" in view.table.value
    assert "released the model of 'dnn_classifier-1'" in manager.notice[0]


def test_run_without_predictions_says_so(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10, fail_at=2))
    view = RunsView(manager)
    manager.launch(RunSpec.create("dnn_classifier", max_steps=10))
    manager.wait()
    manager.flush()
    assert "has no predictions (it failed before they were made)" in view.diag_note.value
    assert view.diagnostics.layout.display == "none"


def test_diagnostics_png_for_regression_and_multiclass():
    regression = diagnostics_png({"task": "regression", "y_true": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.5, 2.0]})
    assert regression.startswith(PNG)
    multi = diagnostics_png({"task": "classification", "y_true": np.array(["a", "b", "c"], dtype=object),
                             "probabilities": np.eye(3), "classes": ["a", "b", "c"],
                             "y_pred": np.array(["a", "b", "c"], dtype=object)})
    assert multi.startswith(PNG)
