"""CurveChart: the kernel streams only new points, bounded per message and per second; the browser draws."""

from __future__ import annotations

import math

import pytest

from estlab.widgets._state import RunSpec, RunState, apply_event
from estlab.widgets.chart import CurveChart, chart_metrics, downsample, run_points


def _run(name="linear_classifier-1", start=100.0):
    state = RunState(name, RunSpec("linear_classifier"))
    apply_event(state, {"type": "train_begin", "global_step": 0, "time": start, "target_step": 1000})
    return state


def _steps(state, steps, start=100.0):
    for step in steps:
        apply_event(state, {"type": "step_end", "global_step": step, "time": start + step / 10, "loss": 1.0 / step})


def _evaluate(state, step, start=100.0, **metrics):
    apply_event(state, {"type": "evaluate", "global_step": step, "time": start + step / 10, "name": None,
                        "metrics": metrics})


@pytest.fixture
def chart():
    chart = CurveChart(min_interval=0, max_points=50)
    sent = []
    chart.send = sent.append  # capture the custom messages
    chart.sent = sent
    yield chart
    chart.close()


def test_only_new_points_are_sent_with_wall_time(chart):
    state = _run()
    _steps(state, [1, 2, 3])
    _evaluate(state, 3, accuracy=0.5, loss=0.7, average_loss=0.7, precision=0.4)
    first = chart.update([state])
    assert first["seq"] == 1
    assert first["points"]["linear_classifier-1|train|loss"] == [[1, 0.1, 1.0], [2, 0.2, 0.5], [3, 0.3, 1 / 3]]
    assert sorted(first["points"]) == ["linear_classifier-1|eval|accuracy", "linear_classifier-1|eval|loss",
                                       "linear_classifier-1|train|loss"]
    assert first["meta"]["linear_classifier-1|eval|accuracy"] == {
        "run": "linear_classifier-1", "split": "eval", "metric": "accuracy", "color": "#1f77b4",
        "one_fit": False}
    assert first["event_time"] == pytest.approx(100.3)
    assert chart.update([state]) is None  # nothing new: nothing sent
    _steps(state, [4])
    second = chart.update([state])
    assert second["seq"] == 2 and second["meta"] == {}
    assert second["points"] == {"linear_classifier-1|train|loss": [[4, 0.4, 0.25]]}
    assert chart.sent == [first, second]
    assert chart.last_steps() == {"linear_classifier-1": 4}


def test_a_burst_is_downsampled_to_max_points_per_series(chart):
    state = _run()
    _steps(state, range(1, 501))
    message = chart.update([state])
    points = message["points"]["linear_classifier-1|train|loss"]
    assert len(points) == 50
    assert points[0][0] == 10 and points[-1][0] == 500  # each bucket at its last step
    assert points[0][2] == pytest.approx(sum(1.0 / s for s in range(1, 11)) / 10)


def test_rate_bound_and_final_state_is_always_sent():
    chart = CurveChart(min_interval=3600)
    chart.send = lambda message: None
    state = _run()
    _steps(state, [1])
    assert chart.update([state]) is not None
    _steps(state, [2])
    assert chart.update([state]) is None  # within the interval: waits
    apply_event(state, {"type": "train_end", "global_step": 2, "time": 101.0, "status": "stopped"})
    message = chart.update([state])  # a run that ended is sent at once, snapshot too
    assert message["points"]["linear_classifier-1|train|loss"] == [[2, 0.2, 0.5]]
    assert chart.snapshot["seq"] == message["seq"]
    assert chart.snapshot["series"]["linear_classifier-1|train|loss"]["step"] == [1, 2]
    chart.close()


def test_runs_overlaid_with_stable_colours_and_snapshot_bounded(chart):
    chart.snapshot_points = 20
    a, b = _run("a"), _run("b")
    _steps(a, range(1, 101))
    _evaluate(b, 5, accuracy=0.9)
    chart.update([a, b], force=True)
    series = chart.snapshot["series"]
    assert {s["color"] for s in series.values()} == {"#1f77b4", "#ff7f0e"}
    assert len(series["a|train|loss"]["step"]) == 20 and series["a|train|loss"]["step"][-1] == 100
    assert series["b|eval|accuracy"] == {"run": "b", "split": "eval", "metric": "accuracy", "color": "#ff7f0e",
                                         "one_fit": False, "step": [5], "wall": [0.5], "value": [0.9]}


def test_non_finite_values_become_null(chart):
    state = _run()
    apply_event(state, {"type": "step_end", "global_step": 1, "time": 100.0, "loss": math.nan})
    message = chart.update([state])
    assert message["points"]["linear_classifier-1|train|loss"] == [[1, 0.0, None]]


def test_helpers():
    assert chart_metrics(["loss", "average_loss", "r_squared", "rmse"])[0] == "loss"
    assert "average_loss" not in chart_metrics(["loss", "average_loss", "rmse"])
    assert downsample([], 5) == []
    state = RunState("r", RunSpec("linear_regressor"))
    assert run_points(state) == {}


def test_run_points_after_a_step_reads_only_the_newer_rows_and_matches_the_full_read():
    state = RunState("r", RunSpec("linear_classifier"), status="running", start_time=100.0)
    for step in range(1, 301):
        loss = 1.0 / step if step % 3 == 0 else None  # most steps carry no loss, as in a fast run
        apply_event(state, {"type": "step_end", "global_step": step, "time": 100.0 + step / 10, "loss": loss})
    full = run_points(state)[("train", "loss")]
    assert len(full) == 100
    for after in (-1, 0, 3, 4, 150, 299, 300):
        newer = run_points(state, after).get(("train", "loss"), [])
        assert newer == [p for p in full if p[0] > after]
    assert run_points(state, 297)[("train", "loss")] == [(300, 30.0, 1.0 / 300)]
    assert run_points(state, 300) == {}


def test_front_end_module_is_self_contained():
    from estlab.widgets._chart_front import ESM

    assert "export default" in ESM and "http" not in ESM  # nothing fetched at run time
    chart = CurveChart()
    assert chart._esm == ESM and chart.has_trait("snapshot")
    chart.close()


def test_a_full_batch_fit_is_marked_to_be_drawn_as_a_level(chart):
    fit = RunState("boosted_trees_classifier-2", RunSpec("boosted_trees_classifier"))
    apply_event(fit, {"type": "train_begin", "global_step": 0, "time": 100.0, "target_step": 200, "full_batch": True})
    _evaluate(fit, 1, accuracy=0.87)
    old = RunState("baseline_classifier-3", RunSpec("baseline_classifier"))  # a record without full_batch
    apply_event(old, {"type": "train_begin", "global_step": 0, "time": 100.0, "target_step": 200})
    _evaluate(old, 1, accuracy=0.76)
    stepped = _run()
    _steps(stepped, [1, 2])
    _evaluate(stepped, 2, accuracy=0.8)
    chart.update([fit, old, stepped], force=True)
    flags = {(v["run"], v["metric"]): v["one_fit"] for v in chart.snapshot["series"].values()}
    assert flags == {("boosted_trees_classifier-2", "accuracy"): True, ("baseline_classifier-3", "accuracy"): True,
                     ("linear_classifier-1", "loss"): False, ("linear_classifier-1", "accuracy"): False}
    assert fit.one_fit and old.one_fit and not stepped.one_fit
