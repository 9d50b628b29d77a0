"""TrainingPanel driven headless: button.click(), trait values, never a duplicate run."""

from __future__ import annotations

import html
import re
import time

from estlab.widgets._state import RunSpec
from estlab.widgets.runs import RunManager
from estlab.widgets.training import TrainingPanel

PNG = b"\x89PNG"


def plan_of(*specs):
    return lambda: list(specs)


def test_train_click_runs_in_background_and_updates_widgets(manager_for, fake_job):
    job = fake_job(steps=30, delay=0.01)
    manager = manager_for(job)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("dnn_classifier", {"hidden_units": [8]}, max_steps=30)))
    panel.click_train()
    assert not job.stop_event.is_set() and manager.runs["dnn_classifier-1"].global_step < 30  # returned at once
    manager.wait()
    assert panel.progress.value == panel.progress.max == 30
    assert panel.progress.bar_style == "success"
    assert panel.chart.last_steps() == {"dnn_classifier-1": 30}  # points streamed, no picture drawn
    assert panel.chart.snapshot["seq"] == panel.chart.seq
    assert "<b>done</b> · 30 steps" in panel.stats.value
    assert f"eval accuracy {30 / 31:.4f}" in panel.stats.value and "eval loss" not in panel.stats.value
    assert "finished" in panel.header.value and "device <b>cpu</b>" in panel.header.value
    assert panel.stop_button.disabled
    assert "dnn_classifier-1" in panel.message.value
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "data:image/png;base64," in bundle["text/html"]
    panel.close()


def test_stop_button_stops_the_running_run(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    panel.click_train()
    assert job.started.wait(5)
    manager.flush()
    assert not panel.stop_button.disabled
    panel.click_stop()
    state = manager.wait(timeout=5)
    assert state.status == "stopped" and state.global_step < 100_000
    assert panel.progress.bar_style == "warning"
    assert f"stopped at step {state.global_step:,}" in panel.message.value


def test_second_click_with_same_config_shows_a_message_not_a_second_run(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    panel.click_train()
    panel.click_train()
    manager.flush()
    assert list(manager.runs) == ["linear_classifier-1"]
    assert re.search(r"not started again: linear_classifier \(same settings as linear_classifier-1, (queued|running)\)",
                     html.unescape(panel.note.value))
    manager.stop()
    manager.wait()


def test_failure_is_shown_in_the_panel(manager_for, fake_job):
    manager = manager_for(fake_job(steps=10, fail_at=4))
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=10)))
    panel.click_train()
    manager.wait()
    assert "ValueError: boom at step 4" in panel.stats.value
    assert "estlab-msg-error" in panel.message.value
    assert panel.progress.bar_style == "danger"


def test_empty_plan_and_broken_plan_are_explained(manager_for):
    manager = manager_for()
    panel = TrainingPanel(manager, plan_of())
    panel.click_train()
    manager.flush()
    assert "nothing to train" in panel.note.value

    def broken():
        raise ValueError("label: 'income' is not a column")

    panel.plan = broken
    panel.click_train()
    manager.flush()
    assert "cannot train: label: 'income' is not a column" in html.unescape(panel.note.value)


def test_stop_all_stops_running_and_cancel_queued_cancels_the_rest(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    specs = [RunSpec.create("linear_classifier", max_steps=100_000 + i) for i in range(3)]
    panel = TrainingPanel(manager, plan_of(*specs))
    panel.click_train()
    assert job.started.wait(5)
    manager.flush()
    assert not panel.cancel_button.disabled and not panel.stop_all_button.disabled
    panel.cancel_button.click()
    manager.flush()
    assert [s.status for s in manager.runs.values()][1:] == ["cancelled", "cancelled"]
    assert "cancelled 2 queued runs (linear_classifier-2, linear_classifier-3)" in panel.message.value
    panel.click_stop_all()
    manager.wait(timeout=10)
    manager.flush()
    assert manager.runs["linear_classifier-1"].status == "stopped"
    assert panel.stop_all_button.disabled and panel.cancel_button.disabled
    panel.close()


def _parallel(fake_job, *jobs, capacity=2):
    from estlab.runner.executor import ThreadExecutor
    from estlab.widgets.runs import RunManager

    pending = list(jobs)
    return RunManager(executor=ThreadExecutor(lambda spec, name: pending.pop(0), capacity=capacity))


def test_stop_all_message_says_what_happened_to_every_run(fake_job):
    first, second = fake_job(steps=100_000, delay=0.002), fake_job(steps=100_000, delay=0.002)
    manager = _parallel(fake_job, first, second)
    try:
        specs = [RunSpec.create("linear_classifier", max_steps=100_000 + i) for i in range(4)]
        panel = TrainingPanel(manager, plan_of(*specs))
        panel.click_train()
        assert first.started.wait(10) and second.started.wait(10)
        manager.flush()
        panel.click_stop_all()
        manager.wait(timeout=30)
        manager.flush()
        runs = manager.runs
        assert [s.status for s in runs.values()] == ["stopped", "stopped", "cancelled", "cancelled"]
        one, two = (runs[f"linear_classifier-{i}"].global_step for i in (1, 2))
        assert one > 0 and two > 0
        assert html.unescape(panel.message.value).count("stop all: ") == 1
        assert (f"stop all: stopped 2 runs (linear_classifier-1 at step {one:,}, linear_classifier-2 at step "
                f"{two:,}); cancelled 2 queued runs (linear_classifier-3, linear_classifier-4)"
                in html.unescape(panel.message.value))
        assert manager.notice[1] == "info"
        assert "queued linear_classifier-1" not in html.unescape(panel.note.value)  # Train's note no longer holds
        panel.click_stop_all()  # nothing left
        manager.flush()
        assert "nothing is training or queued" in panel.message.value
        panel.close()
    finally:
        manager.close()


def test_stop_all_message_while_runs_are_still_stopping_and_for_a_run_that_finished_first():
    from estlab.widgets._state import RunState
    from estlab.widgets.runs import StopAll

    group = StopAll(["a", "b", "c"], [])
    assert group.text() == "stop all: stopping 3 runs (a, b, c) after their current step"
    group.ended(RunState("b", RunSpec("linear_classifier"), status="failed", global_step=7, error="ValueError: x"))
    group.ended(RunState("a", RunSpec("linear_classifier"), status="stopped", global_step=1234))
    assert group.text() == ("stop all: stopped 1 run (a at step 1,234); failed: b at step 7: ValueError: x; "
                            "stopping 1 run (c) after its current step")
    assert group.failed and group.pending == ["c"]
    group.ended(RunState("c", RunSpec("linear_classifier"), status="finished", global_step=50))
    assert group.pending == [] and group.text().endswith("finished before it stopped: c at step 50; failed: "
                                                         "b at step 7: ValueError: x")


def test_stop_on_the_shown_run_stops_only_that_run(fake_job):
    first, second = fake_job(steps=100_000, delay=0.002), fake_job(steps=100_000, delay=0.002)
    manager = _parallel(fake_job, first, second)
    try:
        panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000),
                                               RunSpec.create("dnn_classifier", max_steps=100_000)))
        panel.click_train()
        assert first.started.wait(10) and second.started.wait(10)
        panel.show("linear_classifier-1")
        assert panel.shown == "linear_classifier-1" and not panel.stop_button.disabled
        panel.click_stop()
        manager.wait("linear_classifier-1", timeout=30)
        manager.flush()
        assert manager.runs["linear_classifier-1"].status == "stopped"
        assert manager.runs["dnn_classifier-2"].status == "running" and not second.stop_event.is_set()
        assert panel.shown == "linear_classifier-1"  # the stopped run's final state stays on screen
        stopped_at = manager.runs["linear_classifier-1"].global_step
        assert f"stopped at step <b>{stopped_at:,}</b> / 100,000" in panel.stats.value
        assert panel.progress.bar_style == "warning" and panel.stop_button.disabled
        panel.show(None)  # follow again: the run still training
        assert panel.shown == "dnn_classifier-2" and " left</span>" in panel.stats.value
        panel.click_stop_all()
        manager.wait(timeout=30)
        assert manager.runs["dnn_classifier-2"].status == "stopped"
        panel.close()
    finally:
        manager.close()


def test_the_panel_never_jumps_to_a_queued_run(manager_for, fake_job):
    jobs = [fake_job(steps=15, delay=0.01), fake_job(steps=15, delay=0.01, fail_at=7), fake_job(steps=15, delay=0.01)]
    manager = manager_for(*jobs, max_rate=50.0)
    specs = [RunSpec.create("linear_classifier", max_steps=15), RunSpec.create("dnn_regressor", max_steps=15),
             RunSpec.create("dnn_classifier", max_steps=15)]
    panel = TrainingPanel(manager, plan_of(*specs))
    seen = []

    class Spy:
        def render(self, manager, dirty):
            if panel.shown is not None:
                seen.append((panel.shown, manager.runs[panel.shown].status))

    manager.attach(Spy())
    panel.click_train()
    manager.wait(timeout=60)
    names = [name for name, _ in seen]
    order = ["linear_classifier-1", "dnn_regressor-2", "dnn_classifier-3"]
    shown_order = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert shown_order == order  # one after another, never back, never ahead
    assert all(status != "queued" for name, status in seen if name != order[0])
    panel.show("dnn_regressor-2")
    assert "ValueError: boom at step 7" in panel.stats.value and "failed at step <b>6</b> / 15" in panel.stats.value
    assert "dnn_regressor-2" in panel.header.value and panel.progress.bar_style == "danger"
    panel.close()


def test_a_finished_one_step_fit_reads_done(manager_for, fake_job):
    manager = manager_for(fake_job(steps=1))
    panel = TrainingPanel(manager, plan_of(RunSpec.create("boosted_trees_classifier", max_steps=600)))
    panel.click_train()
    manager.wait()
    assert "<b>done</b> (one full-batch fit)" in panel.stats.value and "/ 600" not in panel.stats.value
    assert panel.progress.value == panel.progress.max


def test_ui_actions_give_ui_feedback_and_no_python_warnings(manager_for, fake_job):
    import warnings

    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel.click_train()
        panel.click_train()
        manager.flush()
        text = html.unescape(panel.note.value)
        panel.click_stop_all()
        manager.wait(timeout=30)
    assert caught == []
    assert "not started again" in text and "stop(" not in text


def test_eta_counts_down_monotonically_at_a_constant_speed_with_jitter():
    import random

    from estlab.widgets._state import RunState, apply_event

    rng = random.Random(0)
    state = RunState("r", RunSpec("dnn_classifier"))
    now = 1000.0
    apply_event(state, {"type": "train_begin", "global_step": 0, "time": now, "target_step": 3000})
    etas, rates = [], []
    for step in range(1, 3001):
        now += 0.01 * rng.uniform(0.5, 1.5)  # 100 steps/s on average, ±50 % per step
        examples = 3200.0 * rng.uniform(0.3, 1.7)  # the loop's own window is noisy too
        apply_event(state, {"type": "step_end", "global_step": step, "time": now, "loss": 1.0,
                            "examples_per_sec": examples})
        eta = state.rates.eta_at(now)
        if eta is not None:
            etas.append(eta)
            rates.append(state.examples_per_sec)
    assert len(etas) > 2900
    assert all(b <= a for a, b in zip(etas, etas[1:]))  # never goes up
    assert 25.0 < etas[100] < 33.0 and etas[-1] < 0.5
    settled = rates[500:]
    assert 2900 < min(settled) and max(settled) < 3500  # raw values span 960..5440


def test_resume_continues_a_stopped_run_under_its_own_name(fake_job, tmp_path):
    import pandas as pd

    from estlab.runner import Experiment, ThreadExecutor
    from estlab.widgets.runs import RunManager

    small_frames = (pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}),) * 2
    jobs = [fake_job(steps=100_000, delay=0.002), fake_job(steps=30)]
    experiment = Experiment.create(str(tmp_path / "exp"), *small_frames, label="y")
    manager = RunManager(executor=ThreadExecutor(lambda spec, name: jobs.pop(0)), experiment=experiment)
    try:
        panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=30, label="y")))
        panel.click_train()
        manager.flush()
        assert panel.resume_button.disabled  # running: nothing to resume
        panel.click_stop()
        manager.wait(timeout=30)
        assert manager.runs["linear_classifier-1"].status == "stopped" and not panel.resume_button.disabled
        panel.resume_button.click()
        manager.wait(timeout=30)
        state = manager.runs["linear_classifier-1"]
        assert list(manager.runs) == ["linear_classifier-1"] and state.status == "finished"
        assert experiment.record("linear_classifier-1").status == "finished" and panel.resume_button.disabled
        panel.resume_button.disabled = False  # a click on a finished run is explained, not raised
        panel.resume_button.click()
        manager.flush()
        assert "cannot resume linear_classifier-1: name: run 'linear_classifier-1' finished at step 30" in \
            html.unescape(panel.message.value)
        panel.close()
    finally:
        manager.close()


def test_a_hidden_panel_sends_no_points_or_counters_and_catches_up_when_shown(manager_for, fake_job):
    import time

    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job, max_rate=50.0)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    panel.set_visible(False)
    panel.click_train()
    assert job.started.wait(10)
    deadline = time.monotonic() + 30
    while manager.runs["linear_classifier-1"].global_step < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.flush()
    assert "linear_classifier-1" in panel.header.value  # the status change itself is drawn
    sent, stats = panel.chart.messages_sent, panel.stats.value
    for _ in range(5):  # more renders while it trains: nothing new is sent
        manager.flush()
    assert panel.chart.messages_sent == sent and panel.stats.value == stats
    panel.set_visible(True)
    manager.flush()
    step = manager.runs["linear_classifier-1"].global_step
    assert panel.chart.messages_sent > sent and panel.chart.last_steps()["linear_classifier-1"] > 50
    assert " left</span>" in panel.stats.value and panel.stats.value != stats and step > 50
    panel.click_stop_all()
    manager.wait(timeout=30)
    panel.close()


def test_the_queued_note_follows_the_runs_it_names(fake_job):
    first, second = fake_job(steps=100_000, delay=0.002), fake_job(steps=40, delay=0.0)
    manager = _parallel(fake_job, first, second, capacity=1)
    specs = [RunSpec.create("linear_classifier", max_steps=100_000), RunSpec.create("dnn_classifier", max_steps=40)]
    panel = TrainingPanel(manager, plan_of(*specs))
    try:
        panel.click_train()
        assert first.started.wait(10)
        manager.flush()
        # the first run started: the note names only the one still waiting
        assert html.unescape(panel.note.value).count("queued dnn_classifier-2") == 1
        assert "linear_classifier-1" not in panel.note.value
        manager.stop("linear_classifier-1")
        deadline = time.monotonic() + 60
        while manager.runs["dnn_classifier-2"].status != "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        manager.flush()
        assert manager.runs["dnn_classifier-2"].status == "finished"
        assert panel.note.value == ""  # every run it named has started (and ended): nothing queued any more
        assert "queued" not in panel.message.value
    finally:
        manager.close()
        panel.close()


def test_the_note_keeps_what_was_not_started_again(manager_for, fake_job):
    manager = manager_for(fake_job(steps=100_000, delay=0.002))
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    panel.click_train()
    panel.click_train()
    manager.flush()
    note = html.unescape(panel.note.value)
    assert re.search(r"^not started again: linear_classifier \(same settings as linear_classifier-1, "
                     r"(queued|running)\)", html.unescape(re.sub("<[^>]+>", "", panel.note.value)))
    assert "queued linear" not in note
    manager.stop()
    manager.wait()
    manager.flush()
    assert "not started again" in html.unescape(panel.note.value)  # still true once the run ended
    panel.close()


def test_stats_use_the_runs_tab_numbers_and_never_break_an_item():
    from estlab.widgets._state import RunState, apply_event

    manager = RunManager(job_factory=lambda spec, name: None)
    panel = TrainingPanel(manager, plan_of())
    state = RunState("dnn_regressor-1", RunSpec("dnn_regressor"), status="running", start_time=0.0)
    apply_event(state, {"type": "train_begin", "global_step": 0, "time": 0.0, "target_step": 3000})
    apply_event(state, {"type": "step_end", "global_step": 10, "time": 1.0, "loss": 232571.7938})
    apply_event(state, {"type": "evaluate", "global_step": 10, "time": 1.0, "name": None,
                        "metrics": {"average_loss": 326579.5802, "rmse": 571.47}})
    state.status = "finished"
    stats = panel._stats_html(state)
    assert '<span style="white-space:nowrap">loss 232,572</span>' in stats
    assert '<span style="white-space:nowrap">eval average_loss 326,580</span>' in stats
    assert '<span style="white-space:nowrap">eval rmse 571.5</span>' in stats
    assert "232571.7938" not in stats
    panel.close()
    manager.close()


def test_time_left_reads_as_a_duration_not_a_clock():
    from estlab.widgets._html import fmt_remaining

    assert fmt_remaining(18 * 60 + 39) == "18 min 39 s"
    assert fmt_remaining(2 * 3600 + 5 * 60 + 9) == "2 h 05 min"
    assert fmt_remaining(7.4) == "7 s"


class _FullBatchJob:
    """The events of a full-batch fit (session.fit_full_batch): nominal target 600, one step, no step_end."""

    def run(self, emit) -> None:
        emit({"type": "train_begin", "run": "x", "global_step": 0, "time": time.time(), "start_step": 0,
              "target_step": 600, "device": "cpu", "full_batch": True})
        emit({"type": "train_end", "run": "x", "global_step": 1, "time": time.time(), "status": "finished",
              "reason": "full-batch fit", "error": None, "final_loss": None})

    def request_stop(self) -> None:
        pass

    def release(self) -> None:
        pass


def test_a_full_batch_fit_shows_one_step_not_the_nominal_total(manager_for):
    manager = manager_for(_FullBatchJob())
    panel = TrainingPanel(manager, plan_of(RunSpec.create("boosted_trees_classifier", max_steps=600)))
    panel.click_train()
    manager.wait()
    manager.flush()
    assert (panel.progress.value, panel.progress.max, panel.progress.bar_style) == (1, 1, "success")
    panel.close()


def test_muted_text_follows_the_theme():
    manager = RunManager(job_factory=lambda spec, name: None)
    panel = TrainingPanel(manager, plan_of())
    assert "color:#555" not in panel.header.value and "var(--jp-ui-font-color2" in panel.header.value
    panel.close()
    manager.close()


def test_step_counts_in_messages_have_separators(manager_for, fake_job):
    manager = manager_for(fake_job(steps=1500, eval_every=1000))
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=1500)))
    panel.click_train()
    manager.wait()
    manager.flush()
    assert "finished at step 1,500" in panel.message.value and "1500" not in panel.message.value
    assert "1,500 steps" in panel.stats.value
    panel.close()
