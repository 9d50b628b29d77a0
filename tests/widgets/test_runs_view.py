"""RunsView: sortable leaderboard with baseline deltas, curve overlays, diagnostics, release."""

from __future__ import annotations

import os
import time

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
    assert view.select.value == ("linear_classifier-1", "dnn_classifier-2")  # every run overlaid
    # the overlay is the browser chart: the kernel sent points (train loss, eval loss and accuracy), no picture
    assert view.overlay.last_steps() == {"linear_classifier-1": 10, "dnn_classifier-2": 20}
    assert {(v["run"], v["split"], v["metric"]) for v in view.overlay.snapshot["series"].values()} == {
        (run, split, metric) for run in ("linear_classifier-1", "dnn_classifier-2")
        for split, metric in (("train", "loss"), ("eval", "loss"), ("eval", "accuracy"))}
    view.select.value = ("dnn_classifier-2",)  # the user's pick: the chart shows only it from now on
    manager.flush()
    assert view.overlay.last_steps() == {"dnn_classifier-2": 20}
    assert "select" in view.user_chose


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


class RegressionJob:
    """Emits a regression run's events (large squared losses) and writes its eval-set predictions."""

    def __init__(self, model_dir, offset):
        self.model_dir, self.offset = str(model_dir), offset

    def run(self, emit):
        import time

        def event(kind, step, **payload):
            return {"type": kind, "run": "r", "global_step": step, "time": time.time(), **payload}

        emit(event("train_begin", 0, start_step=0, target_step=10, device="cpu", estimator="DNNRegressor", params={}))
        mse = 15986828.5169 + self.offset
        emit(event("evaluate", 10, name=None, metrics={"loss": mse, "average_loss": mse, "rmse": mse ** 0.5,
                                                       "mae": 2500.25, "label/mean": 3.0}))
        emit(event("train_end", 10, status="finished", reason="max_steps", error=None, final_loss=mse))
        y_true = np.array([1000.0, 2000.0, 3000.0, 4000.0])
        path = save_predictions(os.path.join(self.model_dir, PREDICTIONS_FILE),
                                {"task": "regression", "y_true": y_true, "y_pred": y_true + self.offset})
        emit({"type": "predictions", "path": path})

    def request_stop(self):
        pass

    def release(self):
        pass


def test_defaults_are_the_useful_view(manager_for, fake_job, tmp_path):
    jobs = [fake_job(steps=10), PredictingJob(fake_job, 20, classification_predictions(), tmp_path / "a"),
            PredictingJob(fake_job, 15, classification_predictions(), tmp_path / "b")]
    for job in jobs[1:]:
        os.makedirs(job.model_dir)
    manager = manager_for(*jobs)
    view = RunsView(manager)
    manager.launch(RunSpec.create("linear_classifier", max_steps=10))
    manager.launch(RunSpec.create("dnn_classifier", {"hidden_units": [4]}, max_steps=20))
    manager.launch(RunSpec.create("baseline_classifier", max_steps=15))
    manager.wait()
    manager.flush()
    assert view.baseline.value == "baseline_classifier-3"  # the baseline estimator, not the first run
    assert view.diag_run.value == "dnn_classifier-2" == view.best_run()  # the best accuracy, 20/21
    assert bytes(view.diagnostics.value).startswith(PNG)
    board = view.leaderboard()
    assert board["run"].tolist() == ["dnn_classifier-2", "baseline_classifier-3", "linear_classifier-1"]
    assert board["rank"].tolist() == [1, 2, 3]
    table = view.table.value
    assert table.index("dnn_classifier-2") < table.index("baseline_classifier-3") < table.index("linear_classifier-1")
    # the user's choice of run to diagnose stays when runs change
    view.diag_run.value = "linear_classifier-1"
    manager.flush()
    assert view.diag_run.value == "linear_classifier-1" and "diag_run" in view.user_chose


def test_equal_runs_share_a_rank(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10), fake_job(steps=10), fake_job(steps=5))
    view = RunsView(manager)
    for seed in (1, 2, 3):
        manager.launch(RunSpec.create("linear_classifier", max_steps=10 if seed < 3 else 5, seed=seed))
    manager.wait()
    manager.flush()
    board = view.leaderboard()
    assert board["run"].tolist() == ["linear_classifier-1", "linear_classifier-2", "linear_classifier-3"]
    assert board["rank"].tolist() == [1, 1, 3]


def test_regression_shows_r2_and_readable_numbers(manager_for, tmp_path):
    for sub in ("a", "b"):
        os.makedirs(tmp_path / sub)
    manager = manager_for(RegressionJob(tmp_path / "a", 100.0), RegressionJob(tmp_path / "b", 0.0))
    view = RunsView(manager)
    manager.launch(RunSpec.create("dnn_regressor", max_steps=10, task="regression"))
    manager.launch(RunSpec.create("linear_regressor", max_steps=10, task="regression"))
    manager.wait()
    manager.flush()
    board = manager.leaderboard()
    assert "loss" not in board.columns and "average_loss" in board.columns  # the same number once
    # R² of the saved predictions: y + 100 against y in 1000..4000 (SS_tot 5e6, SS_res 4e4)
    assert board["r2"].tolist() == [1 - 40000 / 5_000_000, 1.0]
    assert view.leaderboard()["run"].tolist() == ["linear_regressor-2", "dnn_regressor-1"]
    table = view.table.value
    assert "15,986,929" in table and "15986929" not in table  # average_loss of the first run, separated
    assert ">r2<" in table and "0.9920" in table and "2,500" in table
    html = manager.leaderboard()._repr_html_()  # the DataFrame's notebook display formats too
    assert "15,986,829" in html and "0.9920" in html and "15986828.5169" not in html
    assert float(board.loc[0, "average_loss"]) == 15986828.5169 + 100.0  # the values stay numbers


def test_roc_and_pr_of_every_binary_run_on_one_figure(manager_for, fake_job, tmp_path):
    jobs = [PredictingJob(fake_job, steps, classification_predictions(), tmp_path / sub)
            for steps, sub in ((10, "a"), (20, "b"))]
    for job in jobs:
        os.makedirs(job.model_dir)
    manager = manager_for(*jobs)
    view = RunsView(manager)
    manager.launch(RunSpec.create("linear_classifier", max_steps=10))
    manager.launch(RunSpec.create("dnn_classifier", max_steps=20))
    manager.wait()
    manager.flush()
    assert bytes(view.roc_all.value).startswith(PNG) and view.roc_all.layout.display is None
    assert "ROC and precision-recall of 2 runs" in view.roc_note.value
    view.select.value = ("dnn_classifier-2",)  # one run: its own diagnostics say it all
    manager.flush()
    assert view.roc_all.layout.display == "none"


def test_new_evaluations_wait_for_the_throttle_but_a_status_change_redraws_at_once(manager_for, fake_job,
                                                                                   monkeypatch):
    manager = manager_for(fake_job(steps=10))
    view = RunsView(manager)
    manager.launch(RunSpec.create("linear_classifier", max_steps=10))
    manager.wait()
    manager.flush()
    drawn = []
    table_html = view._table_html
    monkeypatch.setattr(view, "_table_html", lambda frame, metrics: drawn.append(1) or table_html(frame, metrics))
    state = manager.runs["linear_classifier-1"]
    view._table_next = float("inf")  # inside the throttle window
    state.record.evaluations.append(dict(state.record.evaluations[-1]))  # one more evaluation, nothing else
    view.render(manager, set())
    assert drawn == []
    state.status = "stopped"  # a status change is drawn at once
    view.render(manager, set())
    assert drawn == [1]


def test_a_hidden_runs_view_skips_live_redraws_and_catches_up_when_shown(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job, max_rate=50.0)
    view = RunsView(manager)
    view.set_visible(False)
    manager.flush()  # its first render (no runs yet)
    manager.launch(RunSpec.create("linear_classifier", max_steps=100_000))
    assert job.started.wait(10)
    deadline = time.monotonic() + 30
    while manager.runs["linear_classifier-1"].global_step < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.flush()
    assert view.overlay.last_steps() == {}  # no points streamed to a tab nobody sees
    assert "linear_classifier-1" not in view.table.value
    view.set_visible(True)
    manager.flush()
    assert view.overlay.last_steps()["linear_classifier-1"] > 0  # caught up at once
    assert "linear_classifier-1" in view.table.value and "running" in view.table.value
    view.set_visible(False)
    manager.stop("linear_classifier-1")
    manager.wait(timeout=30)
    state = manager.runs["linear_classifier-1"]
    assert state.status == "stopped"
    # a run that ends redraws even a hidden view: the table and the curves are final when the tab opens
    assert view.overlay.last_steps() == {"linear_classifier-1": state.global_step}
    assert "stopped" in view.table.value and "running" not in view.table.value
    view.close()


def _corner_pixel(png: bytes) -> tuple[int, ...]:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGBA").getpixel((0, 0))


def test_diagnostics_follow_the_page_theme(manager_for, fake_job, tmp_path):
    light = diagnostics_png(classification_predictions())
    dark = diagnostics_png(classification_predictions(), dark=True)
    assert _corner_pixel(light) == (255, 255, 255, 255)  # a white card on a light page
    assert _corner_pixel(dark)[3] == 0  # transparent on a dark page (its text is light: viz.theme_figure)
    regression = {"task": "regression", "y_true": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.5, 2.0]}
    assert _corner_pixel(diagnostics_png(regression, dark=True))[3] == 0
    manager = manager_for(PredictingJob(fake_job, 5, classification_predictions(), tmp_path))
    view = RunsView(manager)
    manager.launch(RunSpec.create("dnn_classifier", max_steps=5))
    manager.wait()
    manager.flush()
    assert bytes(view.diagnostics.value) == light
    view.overlay.dark = True  # what the browser chart reports on a dark JupyterLab theme
    manager.flush()
    assert bytes(view.diagnostics.value) == dark


def test_the_diagnostics_shown_are_the_selected_runs(manager_for, fake_job, tmp_path):
    regression_a = {"task": "regression", "y_true": np.array([1.0, 2.0, 3.0]), "y_pred": np.array([1.0, 2.5, 2.0])}
    regression_b = {"task": "regression", "y_true": np.array([1.0, 2.0, 3.0, 4.0]),
                    "y_pred": np.array([2.0, 2.0, 2.0, 2.0])}
    for sub in ("a", "b"):
        os.makedirs(tmp_path / sub)
    manager = manager_for(PredictingJob(fake_job, 5, regression_a, tmp_path / "a"),
                          PredictingJob(fake_job, 10, regression_b, tmp_path / "b"))
    view = RunsView(manager)
    manager.launch(RunSpec.create("dnn_regressor", max_steps=5, task="regression"))
    manager.launch(RunSpec.create("linear_regressor", max_steps=10, task="regression"))
    manager.wait()
    manager.flush()
    for name, predictions in (("dnn_regressor-1", regression_a), ("linear_regressor-2", regression_b),
                              ("dnn_regressor-1", regression_a)):
        view.diag_run.value = name
        manager.flush()
        assert bytes(view.diagnostics.value) == diagnostics_png(predictions), name
        assert f'data-run="{name}"' in view.diag_note.value and f"{len(predictions['y_true'])} evaluation rows" \
            in view.diag_note.value


def test_a_run_started_after_the_users_pick_joins_the_curves(manager_for, fake_job):
    manager = manager_for(fake_job(steps=5), fake_job(steps=5), fake_job(steps=5))
    view = RunsView(manager)
    manager.launch(RunSpec.create("linear_classifier", max_steps=5))
    manager.launch(RunSpec.create("dnn_classifier", max_steps=5))
    manager.wait()
    manager.flush()
    assert "every run" in view.select_hint.value
    view.select.value = ("dnn_classifier-2",)
    manager.flush()
    assert "showing 1 of 2 runs" in view.select_hint.value
    manager.launch(RunSpec.create("linear_classifier", max_steps=5, seed=7))
    manager.wait()
    manager.flush()
    assert view.select.value == ("dnn_classifier-2", "linear_classifier-3")  # the new run is drawn too
    assert "showing 2 of 3 runs" in view.select_hint.value
    assert view.overlay.last_steps() == {"dnn_classifier-2": 5, "linear_classifier-3": 5}


def test_deltas_have_the_values_decimals_and_sit_under_them(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10), fake_job(steps=10), fake_job(steps=20))
    view = RunsView(manager)
    for seed, steps in ((1, 10), (2, 10), (3, 20)):
        manager.launch(RunSpec.create("linear_classifier", max_steps=steps, seed=seed))
    manager.wait()
    view.baseline.value = "linear_classifier-1"
    manager.flush()
    table = view.table.value
    assert "(±0)" in table and "e-0" not in table  # an equal run: no "(+4.81e-05)"
    assert f"({20 / 21 - 10 / 11:+.4f})</div>" in table  # on its own line under the value
    assert view.table.layout.overflow == "auto"  # a wide table scrolls instead of losing its last column


def test_lab_leaderboard_is_ranked_and_reads_like_the_runs_tab(manager_for, fake_job):
    from estlab.widgets._format import format_frame
    from estlab.widgets.leaderboard import main_metrics, rank_runs

    manager = manager_for(fake_job(steps=10), fake_job(steps=20))
    manager.launch(RunSpec.create("linear_classifier", max_steps=10))
    manager.launch(RunSpec.create("dnn_classifier", {"hidden_units": [4]}, max_steps=20))
    manager.wait()
    frame = manager.leaderboard(baseline="linear_classifier-1")
    ranked = rank_runs(frame, main_metrics(frame))
    shown = format_frame(ranked)
    assert shown["run"].tolist() == ["dnn_classifier-2", "linear_classifier-1"]
    assert shown["params"].tolist() == ["hidden_units=(4,)", "defaults"]
    assert "wall time" in shown.columns and "wall_time_s" not in shown.columns
    assert all(":" in t for t in shown["wall time"])
    assert shown["Δ accuracy"].tolist() == [f"{20 / 21 - 10 / 11:+.4f}", "±0"]
