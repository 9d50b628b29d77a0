"""RunManager: background runs finish, stop, fail visibly, refuse duplicates, fill the leaderboard."""

from __future__ import annotations

import threading
import time

import pytest

from estlab.widgets._state import RunSpec
from estlab.widgets.runs import DuplicateRunError


def spec(name="linear_classifier", **params):
    return RunSpec.create(name, params, max_steps=20, feature_set="all")


def test_run_finishes_and_fills_leaderboard(manager_for, fake_job):
    manager = manager_for(fake_job(steps=20))
    state = manager.launch(spec(learning_rate=0.1))
    assert state.status in ("queued", "running")
    manager.wait(state.name)
    assert state.status == "finished"
    assert state.global_step == 20
    assert state.device == "cpu"
    assert state.metrics == {"loss": 2.0 / 20, "accuracy": 20 / 21}
    board = manager.leaderboard()
    assert board.loc[0, "run"] == "linear_classifier-1"
    assert board.loc[0, "params"] == "learning_rate=0.1"
    assert board.loc[0, "status"] == "finished"
    assert board.loc[0, "steps"] == 20
    assert board.loc[0, "accuracy"] == pytest.approx(20 / 21)
    steps, values = state.curves[("train", "loss")].points()
    assert steps == list(range(1, 21)) and values[-1] == pytest.approx(1 / 20)


def test_stop_ends_run_within_a_step_with_checkpoint(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    state = manager.launch(spec())
    assert job.started.wait(5)
    time.sleep(0.05)
    manager.stop(state.name)
    manager.wait(state.name, timeout=5)
    assert state.status == "stopped"
    assert 0 < state.global_step < 100_000
    assert state.checkpoint == f"/tmp/ckpt-{state.global_step}"


def test_error_in_training_is_reported_not_raised(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10, fail_at=3))
    state = manager.launch(spec())
    manager.wait(state.name)
    assert state.status == "failed"
    assert state.error == "ValueError: boom at step 3"
    assert manager.notice == ("run 'linear_classifier-1' failed: ValueError: boom at step 3", "error")
    assert manager.leaderboard().loc[0, "status"] == "failed"


def test_duplicate_configuration_is_refused_while_running(manager_for, fake_job):
    first = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(first, fake_job(steps=5))
    manager.launch(spec(learning_rate=0.1))
    with pytest.raises(DuplicateRunError, match="'linear_classifier-1' with the same configuration is still"):
        manager.launch(spec(learning_rate=0.1))
    other = manager.launch(spec(learning_rate=0.2))  # a different configuration queues behind
    assert other.status == "queued"
    assert first.started.wait(5)
    manager.stop("linear_classifier-1")
    manager.wait(timeout=10)
    assert [s.status for s in manager.runs.values()] == ["stopped", "finished"]
    again = manager_for(fake_job(steps=3))  # once finished, the same configuration may run again
    again.launch(spec(learning_rate=0.1))
    again.wait()


def test_queued_run_can_be_cancelled(manager_for, fake_job):
    first = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(first, fake_job(steps=5))
    manager.launch(spec(learning_rate=0.1))
    second = manager.launch(spec(learning_rate=0.2))
    manager.stop(second.name)
    manager.flush()
    assert second.status == "cancelled"
    manager.stop("linear_classifier-1")
    manager.wait(timeout=10)
    assert second.global_step == 0


def test_release_only_after_the_run_ended(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    state = manager.launch(spec())
    assert job.started.wait(5)
    with pytest.raises(RuntimeError, match="is running; stop it first"):
        manager.release(state.name)
    manager.stop(state.name)
    manager.wait(state.name)
    manager.release(state.name)
    manager.flush()
    assert job.released and state.released
    assert manager.leaderboard().loc[0, "status"] == "stopped (released)"


def test_views_render_only_on_the_ui_thread_at_most_5_per_second(manager_for, fake_job):
    calls = []

    class Recorder:
        def render(self, manager, dirty):
            calls.append((threading.current_thread().name, time.monotonic()))

    manager = manager_for(fake_job(steps=400, delay=0.003))
    manager.attach(Recorder())
    manager.flush()
    calls.clear()
    start = time.monotonic()
    manager.wait(manager.launch(spec()).name)
    elapsed = time.monotonic() - start
    assert {name for name, _ in calls} == {"estlab-ui"}
    assert len(calls) <= 5 * elapsed + 2  # + the final flush from wait()
    gaps = [b - a for (_, a), (_, b) in zip(calls, calls[1:-1])]
    assert all(gap >= 0.19 for gap in gaps[:-1])


def test_leaderboard_baseline_deltas_and_sorting(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10), fake_job(steps=20))
    manager.launch(spec(learning_rate=0.1))
    manager.launch(spec(learning_rate=0.2))
    manager.wait()
    board = manager.leaderboard(sort_by="accuracy", baseline="linear_classifier-1")
    assert board["run"].tolist() == ["linear_classifier-2", "linear_classifier-1"]  # accuracy: higher first
    assert board.loc[0, "Δ accuracy"] == pytest.approx(20 / 21 - 10 / 11)
    assert board.loc[1, "Δ accuracy"] == 0.0
    with pytest.raises(ValueError, match="baseline: 'nope' is not a run"):
        manager.leaderboard(baseline="nope")
    with pytest.raises(ValueError, match="sort_by: 'x' is not a column"):
        manager.leaderboard(sort_by="x")


def test_sort_direction_comes_from_the_heads_declarations(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10), fake_job(steps=20))
    manager.launch(spec(learning_rate=0.1))
    manager.launch(spec(learning_rate=0.2))
    manager.wait()
    assert manager.leaderboard(sort_by="loss")["run"].tolist() == ["linear_classifier-2", "linear_classifier-1"]
    assert manager.leaderboard(sort_by="accuracy")["run"].tolist() == ["linear_classifier-2", "linear_classifier-1"]
    assert manager.leaderboard(sort_by="steps")["run"].tolist() == ["linear_classifier-1", "linear_classifier-2"]
