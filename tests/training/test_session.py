"""The training session's one bus: every listener sees every event exactly once, in one order."""

from __future__ import annotations

import glob
import os
import threading

import pytest

from estlab.training.config import RunConfig
from estlab.training.events import ORDER, Control, Listener
from estlab.training.history import History
from estlab.training.session import TrainingSession, plan_target
from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate


class EventLog(Listener):
    """Records ``(type, global_step)`` of every event it receives."""

    order = ORDER["ui"]

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def dispatch(self, event):
        self.events.append((event["type"], event["global_step"]))

    def evaluations(self) -> list[int]:
        return [step for kind, step in self.events if kind == "evaluate"]


def test_evaluate_reaches_a_hook_and_history_exactly_once(make_estimator, binary_frame):
    est = make_estimator().train(binary_frame, label="y", steps=4)
    hook = EventLog()
    result = est.evaluate(binary_frame, hooks=[hook])
    assert hook.events == [("evaluate", 4)]
    assert [row["global_step"] for row in est.history.evaluations] == [4]
    assert est.history.evaluations[0]["metrics"]["accuracy"] == result["accuracy"]


def test_train_and_evaluate_periodic_and_final_evaluations_each_reach_listeners_once(make_estimator, binary_frame):
    est = make_estimator()
    train_hook, eval_hook, both = EventLog(), EventLog(), EventLog()
    result, _ = train_and_evaluate(
        est,
        TrainSpec(binary_frame, label="y", max_steps=10, hooks=[train_hook, both]),
        EvalSpec(binary_frame, label="y", every_n_steps=4, hooks=[eval_hook, both]),
    )
    # periodic at 4 and 8, final at 10 (after the last checkpoint, while listeners are attached)
    assert train_hook.evaluations() == [4, 8, 10]
    assert eval_hook.evaluations() == [4, 8, 10]
    assert both.evaluations() == [4, 8, 10]
    assert [row["global_step"] for row in est.history.evaluations] == [4, 8, 10]
    assert result["global_step"] == 10
    # the final evaluation comes after train_end: the bus is first in, first out
    assert train_hook.events[-2:] == [("train_end", 10), ("evaluate", 10)]
    assert sum(kind == "train_end" for kind, _ in train_hook.events) == 1


def test_final_evaluation_is_not_repeated_when_the_last_step_was_evaluated(make_estimator, binary_frame):
    est = make_estimator()
    hook = EventLog()
    train_and_evaluate(est, TrainSpec(binary_frame, label="y", max_steps=8, hooks=[hook]),
                       EvalSpec(binary_frame, label="y", every_n_steps=4))
    assert hook.evaluations() == [4, 8]


def test_train_and_evaluate_on_a_finished_model_evaluates_once(make_estimator, binary_frame):
    est = make_estimator().train(binary_frame, label="y", max_steps=6)
    hook = EventLog()
    result, _ = train_and_evaluate(est, TrainSpec(binary_frame, label="y", max_steps=6, hooks=[hook]),
                                   EvalSpec(binary_frame, label="y"))
    assert hook.evaluations() == [6] and result["global_step"] == 6


def test_evaluations_are_written_to_tensorboard_eval_dirs(make_estimator, binary_frame):
    est = make_estimator()
    train_and_evaluate(est, TrainSpec(binary_frame, label="y", max_steps=4),
                       EvalSpec(binary_frame, label="y", every_n_steps=2, name="holdout"))
    est.evaluate(binary_frame)
    assert glob.glob(os.path.join(est.model_dir, "eval_holdout", "events.out.tfevents.*"))
    assert glob.glob(os.path.join(est.model_dir, "eval", "events.out.tfevents.*"))


def test_a_stop_before_the_first_step_uses_the_one_flag(make_estimator, binary_frame):
    est = make_estimator()

    class StopAtBegin(Listener):
        def on_train_begin(self, event):
            est.request_stop()  # another thread would do the same: one flag, checked every batch

    est.train(binary_frame, label="y", steps=50, hooks=[StopAtBegin()])
    assert est.last_run.status == "stopped" and est.global_step == 0


def test_bus_is_first_in_first_out():
    log: list[str] = []

    class First(Listener):
        order = ORDER["metrics"]

        def dispatch(self, event):
            log.append(f"first:{event['type']}")
            if event["type"] == "step_end":
                self.control.emit("checkpoint", path="p")

    class Last(Listener):
        order = ORDER["ui"]

        def dispatch(self, event):
            log.append(f"last:{event['type']}")

    Control([First(), Last()], {"run": "r"}).emit("step_end")
    assert log == ["first:step_end", "last:step_end", "first:checkpoint", "last:checkpoint"]


def test_extra_listeners_get_one_event_without_duplicates():
    log = EventLog()
    control = Control([log], {"run": "r"})
    control.emit("evaluate", extra=[log], metrics={}, name=None)
    assert log.events == [("evaluate", 0)]


def test_evaluation_session_has_only_the_recording_listeners(tmp_path):
    session = TrainingSession(str(tmp_path), RunConfig(), History(), threading.Event(), training=False,
                              metrics_fn=lambda input_fn, steps=None, label=None: {"loss": 0.25})
    assert [type(x).__name__ for x in session.control.listeners] == ["History", "EvalSummaryWriter"]
    assert session.evaluate(None, global_step=7) == {"loss": 0.25, "global_step": 7}
    session.close()
    assert all(x.control is None for x in session.control.listeners)


def test_plan_target_caps_with_the_environment(monkeypatch):
    assert plan_target(3, steps=None, max_steps=None, model_dir="m") is None
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "4")
    assert plan_target(3, steps=None, max_steps=100, model_dir="m") == 7
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "x")
    with pytest.raises(ValueError, match="ESTLAB_MAX_STEPS must be a positive int, got 'x'"):
        plan_target(3, steps=1, max_steps=None, model_dir="m")
