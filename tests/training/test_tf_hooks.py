"""TF's training hooks (``tf.estimator.StopAtStepHook``, ``SessionRunHook``, ``LoggingTensorHook``, ...) on estlab's
bus: TF's constructors, errors and semantics, checked on small real training runs with exact values."""

from __future__ import annotations

import json
import logging
import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import estlab.estimator as tfe
from estlab.estimators.custom import ModelSpec
from estlab.estimators.heads import make_head
from estlab.inputs import pandas_input_fn
from estlab.training import checkpoints
from estlab.training.basic_hooks import format_value
from estlab.training.checkpoint_hooks import StopAtCheckpointStepHook
from estlab.training.events import Listener
from estlab.training.hook_timers import NeverTriggerTimer
from estlab.training.loop import NanLossError
from estlab.training.session_run_hook import STEP_VALUES, HookSession
from estlab.warnings import IgnoredArgumentWarning

QUIET = {"save_checkpoints_steps": 1000, "log_step_count_steps": 1000, "save_summary_steps": 1000}


def endless(frame: pd.DataFrame, batch_size: int = 8):
    """An endless, unshuffled input over ``frame`` (TF's ``num_epochs=None``): batch ``i`` is rows ``8i..8i+7``."""
    return pandas_input_fn(
        frame[["a", "b"]], frame["y"], batch_size=batch_size, num_epochs=None, shuffle=False
    )


class Recorder(Listener):
    """Every event's type, step and (for train_end) status/reason, in order."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def dispatch(self, event: dict) -> None:
        self.events.append(dict(event))

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


# -- the TF namespace ------------------------------------------------------------------------------------------

HOOK_NAMES = (
    "StopAtStepHook",
    "LoggingTensorHook",
    "SessionRunHook",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunValues",
    "CheckpointSaverListener",
    "CheckpointSaverHook",
    "NanTensorHook",
    "SummarySaverHook",
    "StepCounterHook",
    "ProfilerHook",
    "FinalOpsHook",
    "FeedFnHook",
    "GlobalStepWaiterHook",
    "SecondOrStepTimer",
)


def test_every_tf_hook_name_is_served_and_hooks_are_listeners():
    for name in HOOK_NAMES:
        assert name in tfe.__all__ and getattr(tfe, name).__name__ == name
    assert tfe.experimental.make_stop_at_checkpoint_step_hook.__name__ == "make_stop_at_checkpoint_step_hook"
    for name in HOOK_NAMES:
        cls = getattr(tfe, name)
        if name.endswith("Hook") and name != "SessionRunHook":
            assert issubclass(cls, tfe.SessionRunHook) and issubclass(cls, Listener), name


# -- StopAtStepHook --------------------------------------------------------------------------------------------


def test_stop_at_step_hook_counts_num_steps_from_the_resumed_step(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    est.train(binary_frame, label="y", steps=10, batch_size=8)
    assert est.global_step == 10
    est.train(endless(binary_frame), hooks=[tfe.StopAtStepHook(num_steps=7)])
    assert est.global_step == 17
    assert checkpoints.step_of(est.latest_checkpoint()) == 17
    est.train(endless(binary_frame), hooks=[tfe.StopAtStepHook(last_step=25)])
    assert est.global_step == 25


def test_stop_at_step_hook_constructor_errors_are_tfs():
    with pytest.raises(ValueError, match=r"^One of num_steps or last_step must be specified\.$"):
        tfe.StopAtStepHook()
    with pytest.raises(ValueError, match=r"^Only one of num_steps or last_step can be specified\.$"):
        tfe.StopAtStepHook(num_steps=3, last_step=5)
    with pytest.raises(TypeError, match=r"StopAtStepHook: num_steps must be an int, got '3'"):
        tfe.StopAtStepHook(num_steps="3")


def test_a_hook_that_fetches_no_loss_keeps_the_loss_on_the_device(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    recorder = Recorder()
    est.train(endless(binary_frame), hooks=[tfe.StopAtStepHook(num_steps=6), recorder])
    losses = [e["loss"] for e in recorder.of("step_end")]
    assert (
        len(losses) == 6 and losses[:5] == [None] * 5
    )  # synchronised only at the last step (the loop's own)
    assert recorder.of("train_end")[0]["reason"] == "StopAtStepHook requested stop at step 6"


# -- SessionRunHook: a TF user's subclass --------------------------------------------------------------------


class TFStyleHook(tfe.SessionRunHook):
    """What a TF program writes: record the calls, fetch loss and global step, stop at a step."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.results: list = []
        self.stop_after = stop_after

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append(f"after_create_session:{session.run('global_step:0')}:{coord}")

    def before_run(self, run_context):
        self.calls.append("before_run")
        return tfe.SessionRunArgs({"loss": "loss", "step": "global_step"})

    def after_run(self, run_context, run_values):
        self.calls.append("after_run")
        self.results.append(run_values.results)
        if self.stop_after is not None and run_values.results["step"] + 1 >= self.stop_after:
            run_context.request_stop()

    def end(self, session):
        self.calls.append(f"end:{session.run(['global_step'])}")


def test_session_run_hook_sees_begin_runs_end_in_order_with_historys_losses(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    est.train(binary_frame, label="y", steps=3, batch_size=8)
    hook = TFStyleHook()
    est.train(binary_frame, label="y", steps=5, batch_size=8, hooks=[hook])
    assert hook.calls == ["begin", "after_create_session:3:None", *["before_run", "after_run"] * 5, "end:[8]"]
    assert [r["step"] for r in hook.results] == [3, 4, 5, 6, 7]  # TF's read: the step before its increment
    steps, losses = est.history.curve("train", "loss")
    recorded = dict(zip(steps, losses, strict=True))
    assert [r["loss"] for r in hook.results] == [recorded[s] for s in (4, 5, 6, 7, 8)]
    assert all(isinstance(r["loss"], float) and math.isfinite(r["loss"]) for r in hook.results)


def test_run_context_request_stop_ends_training_after_that_step(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    recorder = Recorder()
    hook = TFStyleHook(stop_after=4)
    est.train(endless(binary_frame), hooks=[hook, recorder], steps=50)
    assert est.global_step == 4
    assert hook.calls[-3:] == ["before_run", "after_run", "end:[4]"]  # no before_run once a stop was asked
    end = recorder.of("train_end")[0]
    assert (end["status"], end["reason"]) == ("stopped", "TFStyleHook requested stop at step 4")


class FetchHook(tfe.SessionRunHook):
    def __init__(self, args) -> None:
        self.args = args

    def before_run(self, run_context):
        return self.args


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            tfe.SessionRunArgs("accuracy"),
            ValueError,
            r"FetchHook.before_run: 'accuracy' is not a value estlab has here; available: 'loss', 'global_step', "
            r"'learning_rate', 'epoch', 'examples_seen', 'examples_per_sec' \(as 'name' or TF's 'name:0'\)",
        ),
        (
            tfe.SessionRunArgs({"x": torch.zeros(())}),
            TypeError,
            r"FetchHook.before_run: fetches are names of values, got a torch.Tensor; estlab has no graph",
        ),
        (
            tfe.SessionRunArgs("loss", feed_dict={"x": 1}),
            ValueError,
            r"FetchHook.before_run: feed_dict=dict of 1 entries, but estlab has no placeholders to feed",
        ),
        ("loss", TypeError, r"FetchHook.before_run: must return SessionRunArgs\(fetches\) or None, got str"),
    ],
)
def test_bad_fetches_are_refused_naming_what_is_available(make_estimator, binary_frame, args, error, message):
    est = make_estimator(**QUIET)
    with pytest.raises(error, match=message):
        est.train(binary_frame, label="y", steps=2, batch_size=8, hooks=[FetchHook(args)])


def test_fetch_structures_and_tf_tensor_names_resolve():
    session = HookSession({name: i for i, name in enumerate(STEP_VALUES)})
    assert session.run({"a": ["loss:0", ("global_step",)], "b": "learning_rate"}) == {"a": [0, (1,)], "b": 2}
    assert session.run(None) is None


def test_run_values_have_no_options_and_options_are_ignored_with_a_warning(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    with pytest.warns(IgnoredArgumentWarning, match=r"FetchHook.before_run: ignoring SessionRunArgs.options"):
        est.train(
            binary_frame,
            label="y",
            steps=2,
            batch_size=8,
            hooks=[FetchHook(tfe.SessionRunArgs("loss", options=object()))],
        )


# -- LoggingTensorHook -----------------------------------------------------------------------------------------


def test_logging_tensor_hook_logs_every_n_iter_and_at_end_like_tf(make_estimator, binary_frame, caplog):
    est = make_estimator(**QUIET)
    hook = tfe.LoggingTensorHook({"loss": "loss", "step": "global_step:0"}, every_n_iter=3, at_end=True)
    with caplog.at_level(logging.INFO, logger="estlab.training.basic_hooks"):
        est.train(binary_frame, label="y", steps=7, batch_size=8, hooks=[hook])
    lines = [r.getMessage() for r in caplog.records if r.name == "estlab.training.basic_hooks"]
    steps, losses = est.history.curve("train", "loss")
    loss = dict(zip(steps, losses, strict=True))
    # iterations 0, 3, 6 are global steps 1, 4, 7 (TF logs the stale step read); then the final values
    expected = [
        f"loss = {format_value(loss[1])}, step = 0",
        f"loss = {format_value(loss[4])}, step = 3",
        f"loss = {format_value(loss[7])}, step = 6",
        f"loss = {format_value(loss[7])}, step = 7",
    ]
    assert [line.split(" (")[0] for line in lines] == expected
    assert "(" not in lines[0] and all(line.endswith(" sec)") for line in lines[1:])


def test_logging_tensor_hook_list_order_and_formatter(make_estimator, binary_frame, caplog):
    est = make_estimator(**QUIET)
    hook = tfe.LoggingTensorHook(
        ["global_step", "learning_rate"],
        every_n_iter=2,
        formatter=lambda values: f"lr={values['learning_rate']} gs={values['global_step']}",
    )
    with caplog.at_level(logging.INFO, logger="estlab.training.basic_hooks"):
        est.train(binary_frame, label="y", steps=4, batch_size=8, hooks=[hook])
    lines = [r.getMessage() for r in caplog.records if r.name == "estlab.training.basic_hooks"]
    assert lines == ["lr=0.5 gs=0", "lr=0.5 gs=2"]


def test_logging_tensor_hook_constructor_errors():
    with pytest.raises(
        ValueError, match=r"^either at_end and/or exactly one of every_n_iter and every_n_secs must"
    ):
        tfe.LoggingTensorHook(["loss"], every_n_iter=1, every_n_secs=1)
    with pytest.raises(ValueError, match=r"^invalid every_n_iter=0\.$"):
        tfe.LoggingTensorHook(["loss"], every_n_iter=0)
    with pytest.raises(
        ValueError, match=r"LoggingTensorHook: tensors: 'acc:0' is not a value estlab has here"
    ):
        tfe.LoggingTensorHook({"acc": "acc:0"}, every_n_iter=1)
    assert isinstance(tfe.LoggingTensorHook(["loss"], at_end=True)._timer, NeverTriggerTimer)


# -- NanTensorHook ---------------------------------------------------------------------------------------------


def nan_at_step(step: int):
    """A model_fn whose training forward returns NaN logits at its ``step``-th call (so the loss of that step)."""

    def model_fn(params):
        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.linear = torch.nn.Linear(2, 1)
                self.calls = 0

            def forward(self, a, b):
                out = self.linear(torch.stack([a, b], dim=1))
                if self.training:
                    self.calls += 1
                    if self.calls == step:
                        out = out * float("nan")
                return out

        return ModelSpec(
            module=Net(), head=make_head(2), input_names=("a", "b"), optimizer="SGD", learning_rate=0.1
        )

    return model_fn


def test_nan_tensor_hook_stops_without_an_error_and_keeps_the_last_good_checkpoint(
    tmp_path, binary_frame, caplog
):
    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig

    est = Estimator(
        nan_at_step(8),
        model_dir=str(tmp_path / "m"),
        config=RunConfig(save_checkpoints_steps=5, log_step_count_steps=1000, random_seed=0),
    )
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="estlab.training.basic_hooks"):
        est.train(
            endless(binary_frame),
            steps=20,
            hooks=[tfe.NanTensorHook("loss", fail_on_nan_loss=False), recorder],
        )
    end = recorder.of("train_end")[0]
    assert (end["status"], end["global_step"]) == ("stopped", 8)
    assert end["reason"].startswith("diverged: loss is NaN or infinite at step 8")
    assert [e["global_step"] for e in recorder.of("step_end")] == list(
        range(1, 8)
    )  # step 8's never reached hooks
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [5]
    assert (
        est.global_step == 5
    )  # the diverged in-memory model was dropped: the last good checkpoint is reloaded
    assert "Model diverged with loss = NaN." in [r.getMessage() for r in caplog.records]


def test_nan_tensor_hook_fails_as_tf_by_default(tmp_path, binary_frame, caplog):
    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig

    est = Estimator(nan_at_step(3), model_dir=str(tmp_path / "m"), config=RunConfig(**QUIET, random_seed=0))
    with (
        caplog.at_level(logging.ERROR, logger="estlab.training.basic_hooks"),
        pytest.raises(tfe.NanLossDuringTrainingError, match="loss is NaN or infinite at step 3"),
    ):
        est.train(endless(binary_frame), steps=10, hooks=[tfe.NanTensorHook("loss:0")])
    assert [r.getMessage() for r in caplog.records if r.name == "estlab.training.basic_hooks"] == [
        "Model diverged with loss = NaN."
    ]
    with pytest.raises(
        ValueError, match=r"NanTensorHook: loss_tensor must name the training loss \('loss'\), got "
    ):
        tfe.NanTensorHook("global_step")
    assert issubclass(tfe.NanLossDuringTrainingError, NanLossError)


# -- StepCounterHook and SummarySaverHook ----------------------------------------------------------------------


def scalars(log_dir: str, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    accumulator = EventAccumulator(log_dir, size_guidance={SCALARS: 0})
    accumulator.Reload()
    return [(int(s.step), float(s.value)) for s in accumulator.Scalars(tag)]


def test_step_counter_hook_writes_global_step_per_sec(make_estimator, binary_frame, tmp_path, caplog):
    est = make_estimator(**QUIET)
    hook = tfe.StepCounterHook(every_n_steps=2, output_dir=str(tmp_path / "rate"))
    with caplog.at_level(logging.INFO, logger="estlab.training.basic_hooks"):
        est.train(binary_frame, label="y", steps=8, batch_size=8, hooks=[hook])
    assert [step for step, _ in hook.rates] == [3, 5, 7]  # the first step starts the clock, as TF's timer
    assert all(rate > 0 for _, rate in hook.rates)
    written = scalars(str(tmp_path / "rate"), "global_step/sec")
    assert [step for step, _ in written] == [3, 5, 7]
    assert [value for _, value in written] == [pytest.approx(rate, rel=1e-6) for _, rate in hook.rates]
    assert sum(r.getMessage().startswith("global_step/sec: ") for r in caplog.records) == 3
    with pytest.raises(
        ValueError, match=r"^exactly one of every_n_steps and every_n_secs should be provided\.$"
    ):
        tfe.StepCounterHook(every_n_steps=None)
    with pytest.raises(TypeError, match=r"StepCounterHook: summary_writer must be a torch.utils.tensorboard"):
        tfe.StepCounterHook(summary_writer=object())


def test_summary_saver_hook_writes_the_named_values_at_its_cadence(make_estimator, binary_frame, tmp_path):
    est = make_estimator(**QUIET)
    out = str(tmp_path / "summaries")
    est.train(
        binary_frame,
        label="y",
        steps=7,
        batch_size=8,
        hooks=[tfe.SummarySaverHook(save_steps=3, output_dir=out, summary_op=["loss", "learning_rate"])],
    )
    steps, losses = est.history.curve("train", "loss")
    loss = dict(zip(steps, losses, strict=True))
    assert scalars(out, "loss") == [(s, float(np.float32(loss[s]))) for s in (1, 4, 7)]
    assert scalars(out, "learning_rate") == [(1, 0.5), (4, 0.5), (7, 0.5)]
    with pytest.raises(ValueError, match=r"^Exactly one of scaffold or summary_op must be provided\.$"):
        tfe.SummarySaverHook(save_steps=1, output_dir=out)
    with pytest.raises(ValueError, match=r"SummarySaverHook: scaffold has no meaning in estlab"):
        tfe.SummarySaverHook(save_steps=1, output_dir=out, scaffold=object())
    with pytest.raises(TypeError, match=r"SummarySaverHook: summary_op must be a name or a list of names"):
        tfe.SummarySaverHook(save_steps=1, output_dir=out, summary_op=torch.zeros(()))


# -- CheckpointSaverListener and CheckpointSaverHook ----------------------------------------------------------


class SaveLog(tfe.CheckpointSaverListener):
    def __init__(self, stop_at: int | None = None, model_dir: str | None = None) -> None:
        self.calls: list[str] = []
        self.stop_at, self.model_dir = stop_at, model_dir

    def begin(self):
        self.calls.append("begin")

    def before_save(self, session, global_step_value):
        on_disk = (
            self.model_dir is not None
            and checkpoints.checkpoint_path(self.model_dir, global_step_value).exists()
        )
        self.calls.append(f"before_save:{global_step_value}{':on-disk' if on_disk else ''}")

    def after_save(self, session, global_step_value):
        self.calls.append(f"after_save:{global_step_value}")
        return global_step_value == self.stop_at

    def end(self, session, global_step_value):
        self.calls.append(f"end:{global_step_value}")


def test_checkpoint_saver_hook_saves_at_its_steps_and_calls_its_listeners(make_estimator, binary_frame):
    est = make_estimator(
        save_checkpoints_steps=1000,
        log_step_count_steps=1000,
        save_summary_steps=1000,
        keep_checkpoint_max=None,
    )
    listener = SaveLog(model_dir=est.model_dir)
    recorder = Recorder()
    est.train(
        binary_frame,
        label="y",
        steps=8,
        batch_size=8,
        hooks=[tfe.CheckpointSaverHook(est.model_dir, save_steps=3, listeners=[listener]), recorder],
    )
    # TF: the starting state, every 3 steps, then the last step (written by the loop's final checkpoint)
    assert listener.calls == [
        "begin",
        "before_save:0",
        "after_save:0",
        "before_save:3",
        "after_save:3",
        "before_save:6",
        "after_save:6",
        "before_save:8:on-disk",
        "after_save:8",
        "end:8",
    ]
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [0, 3, 6, 8]
    assert [e["global_step"] for e in recorder.of("checkpoint")] == [0, 3, 6, 8]


def test_a_listener_returning_true_from_after_save_stops_training(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    listener = SaveLog(stop_at=4)
    est.train(
        endless(binary_frame),
        steps=50,
        hooks=[tfe.CheckpointSaverHook(est.model_dir, save_steps=2, listeners=[listener])],
    )
    assert est.global_step == 4
    assert listener.calls[-3:] == ["before_save:4", "after_save:4", "end:4"]


def test_checkpoint_saver_hook_arguments(make_estimator, binary_frame, tmp_path):
    with pytest.raises(ValueError, match=r"^You cannot provide both saver and scaffold\.$"):
        tfe.CheckpointSaverHook(str(tmp_path), save_steps=1, saver=object(), scaffold=object())
    with pytest.raises(ValueError, match=r"^Either every_secs or every_steps should be provided\.$"):
        tfe.CheckpointSaverHook(str(tmp_path))
    with pytest.raises(ValueError, match=r"checkpoint_basename must be 'model.ckpt' .* got 'my.ckpt'"):
        tfe.CheckpointSaverHook(str(tmp_path), save_steps=1, checkpoint_basename="my.ckpt")
    with pytest.raises(TypeError, match=r"listeners must be CheckpointSaverListener instances, got Recorder"):
        tfe.CheckpointSaverHook(str(tmp_path), save_steps=1, listeners=[Recorder()])
    with pytest.warns(
        IgnoredArgumentWarning, match=r"CheckpointSaverHook: ignoring saver \(estlab writes its own"
    ):
        tfe.CheckpointSaverHook(str(tmp_path), save_steps=1, saver=object())
    est = make_estimator(**QUIET)
    with pytest.raises(ValueError, match=r"checkpoint_dir '.*elsewhere' is not the model_dir being trained"):
        est.train(
            binary_frame,
            label="y",
            steps=2,
            batch_size=8,
            hooks=[tfe.CheckpointSaverHook(str(tmp_path / "elsewhere"), save_steps=1)],
        )


def test_make_stop_at_checkpoint_step_hook(make_estimator, binary_frame, tmp_path):
    est = make_estimator(**QUIET)
    hook = tfe.experimental.make_stop_at_checkpoint_step_hook(est, last_step=6)
    assert isinstance(hook, tfe.StopAtStepHook) and hook.last_step == 6  # the chief stops at the step itself
    est.train(endless(binary_frame), hooks=[hook])
    assert est.global_step == 6
    # another worker stops once the chief's newest checkpoint has reached last_step (TF's non-chief hook)
    waiter = StopAtCheckpointStepHook(est.model_dir, last_step=6, wait_after_file_check_secs=0)
    other = StopAtCheckpointStepHook(est.model_dir, last_step=9, wait_after_file_check_secs=0)
    for hook, expected in ((waiter, True), (other, False)):
        context = tfe.SessionRunContext(
            tfe.SessionRunArgs(("train_op", "loss")), HookSession({"global_step": 9})
        )
        hook.after_run(context, tfe.SessionRunValues(8))
        assert context.stop_requested is expected
    with pytest.raises(
        TypeError, match=r"make_stop_at_checkpoint_step_hook: estimator must be an estlab Estimator"
    ):
        tfe.experimental.make_stop_at_checkpoint_step_hook(object(), last_step=1)


# -- timers and the remaining hooks ---------------------------------------------------------------------------


def test_second_or_step_timer_is_tfs():
    timer = tfe.SecondOrStepTimer(every_steps=3)
    assert timer.should_trigger_for_step(5) and timer.last_triggered_step() is None
    assert timer.update_last_triggered_step(5) == (None, None)
    assert [timer.should_trigger_for_step(s) for s in (5, 6, 7, 8, 9)] == [False, False, False, True, True]
    elapsed, steps = timer.update_last_triggered_step(8)
    assert steps == 3 and elapsed >= 0
    timer.reset()
    assert timer.should_trigger_for_step(8)
    by_time = tfe.SecondOrStepTimer(every_secs=0)
    by_time.update_last_triggered_step(1)
    assert by_time.should_trigger_for_step(2) and not by_time.should_trigger_for_step(1)
    with pytest.raises(ValueError, match=r"^Either every_secs or every_steps should be provided\.$"):
        tfe.SecondOrStepTimer()
    with pytest.raises(ValueError, match=r"^Can not provide both every_secs and every_steps\.$"):
        tfe.SecondOrStepTimer(every_secs=1, every_steps=1)


def test_final_ops_hook_reads_final_values_of_training_and_evaluation_metrics(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    after_training = tfe.FinalOpsHook({"step": "global_step", "loss": "loss"})
    est.train(binary_frame, label="y", steps=5, batch_size=8, hooks=[after_training])
    assert after_training.final_ops_values == {"step": 5, "loss": est.history.latest_loss}
    after_evaluation = tfe.FinalOpsHook(["accuracy", "global_step:0"])
    metrics = est.evaluate(binary_frame, label="y", hooks=[after_evaluation])
    assert after_evaluation.final_ops_values == [metrics["accuracy"], 5]
    with pytest.raises(ValueError, match=r"FinalOpsHook: final_ops_feed_dict has nothing to feed"):
        tfe.FinalOpsHook("loss", final_ops_feed_dict={"x": 1})


def test_feed_fn_hook_and_global_step_waiter_hook_say_what_they_cannot_do(make_estimator, binary_frame):
    with pytest.raises(ValueError, match=r"FeedFnHook: estlab has no placeholders to feed"):
        tfe.FeedFnHook(lambda: {"x": 1})
    est = make_estimator(**QUIET)
    est.train(binary_frame, label="y", steps=2, batch_size=8, hooks=[tfe.GlobalStepWaiterHook(0)])
    est.train(binary_frame, label="y", steps=2, batch_size=8, hooks=[tfe.GlobalStepWaiterHook(2)])  # reached
    assert est.global_step == 4
    with pytest.raises(
        ValueError,
        match=r"GlobalStepWaiterHook\(wait_until_step=10\): this run starts at global step "
        r"4 and no other process advances it",
    ):
        est.train(binary_frame, label="y", steps=2, batch_size=8, hooks=[tfe.GlobalStepWaiterHook(10)])


def test_profiler_hook_writes_chrome_traces_of_the_traced_steps(make_estimator, binary_frame, tmp_path):
    est = make_estimator(**QUIET)
    out = tmp_path / "profile"
    hook = tfe.ProfilerHook(save_steps=3, output_dir=str(out))
    est.train(binary_frame, label="y", steps=5, batch_size=8, hooks=[hook])
    assert sorted(os.listdir(out)) == ["timeline-1.json", "timeline-4.json"]
    with open(out / "timeline-4.json") as handle:
        trace = json.load(handle)
    assert isinstance(trace["traceEvents"], list) and trace["traceEvents"]


def test_hooks_in_a_full_batch_run_get_begin_and_end(tmp_path, binary_frame):
    from estlab.estimators.baseline import BaselineClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = BaselineClassifier(model_dir=str(tmp_path / "base"))
    hook = TFStyleHook()
    est.train(binary_frame, label="y", hooks=[hook])
    assert hook.calls == ["begin", "after_create_session:0:None", "end:[1]"]


def test_train_saving_listeners_join_a_saver_at_the_run_configs_cadence(make_estimator, binary_frame):
    from types import SimpleNamespace

    from estlab.training.checkpoint_hooks import with_saving_listeners

    est = make_estimator(save_checkpoints_steps=3, log_step_count_steps=1000, save_summary_steps=1000)
    listener = SaveLog()
    est.train(binary_frame, None, 7, None, [listener], label="y", batch_size=8)  # TF's positional order
    assert listener.calls == [
        "begin",
        "before_save:0",
        "after_save:0",
        "before_save:3",
        "after_save:3",
        "before_save:6",
        "after_save:6",
        "before_save:7",
        "after_save:7",
        "end:7",
    ]
    saver = tfe.CheckpointSaverHook(est.model_dir, save_steps=2)
    assert with_saving_listeners([saver], [listener], est.model_dir, est.config) == [saver]
    assert saver.listeners == [listener]  # TF: the listeners join the saver hook given in hooks
    no_cadence = SimpleNamespace(is_chief=True, save_checkpoints_steps=None, save_checkpoints_secs=None)
    with pytest.raises(
        ValueError, match=r"^There should be a CheckpointSaverHook to use saving_listeners\. Please"
    ):
        with_saving_listeners([], [listener], est.model_dir, no_cadence)
    with pytest.raises(
        TypeError, match=r"saving_listeners must be CheckpointSaverListener instances, got Recorder"
    ):
        est.train(binary_frame, label="y", steps=1, saving_listeners=[Recorder()])


def test_training_hooks_passed_to_evaluate_run_once_and_write_nothing(make_estimator, binary_frame, caplog):
    est = make_estimator(**QUIET)
    est.train(binary_frame, label="y", steps=3, batch_size=8)
    before = checkpoints.list_checkpoints(est.model_dir)
    listener = SaveLog()
    hook = TFStyleHook()
    logging_hook = tfe.LoggingTensorHook({"eval_loss": "loss", "step": "global_step"}, at_end=True)
    with caplog.at_level(logging.INFO, logger="estlab.training.basic_hooks"):
        metrics = est.evaluate(
            binary_frame,
            label="y",
            hooks=[
                hook,
                logging_hook,
                tfe.GlobalStepWaiterHook(100),
                tfe.CheckpointSaverHook(est.model_dir, save_steps=1, listeners=[listener]),
            ],
        )
    assert hook.calls == ["begin", "after_create_session:3:None", "end:[3]"]
    assert listener.calls == [] and checkpoints.list_checkpoints(est.model_dir) == before
    assert [r.getMessage() for r in caplog.records if r.name == "estlab.training.basic_hooks"] == [
        f"eval_loss = {format_value(metrics['loss'])}, step = 3"
    ]


def test_tf_hooks_in_train_and_evaluate(make_estimator, binary_frame):
    est = make_estimator(**QUIET)
    hook = TFStyleHook()
    result, _ = tfe.train_and_evaluate(
        est,
        tfe.TrainSpec(endless(binary_frame), 20, [tfe.StopAtStepHook(last_step=8), hook]),
        tfe.EvalSpec(binary_frame, label="y", every_n_steps=4),
    )
    assert result["global_step"] == 8
    assert [r["global_step"] for r in est.history.evaluations] == [4, 8]
    assert hook.calls[:2] == ["begin", "after_create_session:0:None"] and hook.calls[-1] == "end:[8]"
    assert hook.calls.count("after_run") == 8  # the evaluations inside training are not hook calls
