"""TrainingPanel driven headless: button.click(), trait values, never a duplicate run."""

from __future__ import annotations

import html
import re

from estlab.widgets._state import RunSpec
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
    assert "step <b>30</b> / 30" in panel.stats.value
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
    assert f"stopped at step {state.global_step}" in panel.message.value


def test_second_click_with_same_config_shows_a_message_not_a_second_run(manager_for, fake_job):
    job = fake_job(steps=100_000, delay=0.002)
    manager = manager_for(job)
    panel = TrainingPanel(manager, plan_of(RunSpec.create("linear_classifier", max_steps=100_000)))
    panel.click_train()
    panel.click_train()
    manager.flush()
    assert list(manager.runs) == ["linear_classifier-1"]
    assert re.search(r"not started again: linear_classifier \(same settings as linear_classifier-1, (queued|running)\)",
                     html.unescape(panel.message.value))
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
    assert "nothing to train" in panel.message.value

    def broken():
        raise ValueError("label: 'income' is not a column")

    panel.plan = broken
    panel.click_train()
    manager.flush()
    assert "cannot train: label: 'income' is not a column" in html.unescape(panel.message.value)


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
