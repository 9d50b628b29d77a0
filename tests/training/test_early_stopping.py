"""EarlyStopping reads each metric's direction from the heads' declarations (``metric_info``); TF's early-stopping
hooks keep TF's signatures, cadence and stop steps."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest

from estlab.training.early_stopping import (
    EarlyStopping,
    StopOnPredicateHook,
    make_early_stopping_hook,
    read_eval_metrics,
    stop_if_higher_hook,
    stop_if_lower_hook,
    stop_if_no_decrease_hook,
    stop_if_no_increase_hook,
)
from estlab.training.history import History
from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate


@pytest.mark.parametrize(
    ("metric", "mode"),
    [("accuracy", "max"), ("auc_precision_recall", "max"), ("recall/class_2", "max"), ("eval_val/auc", "max"),
     ("loss", "min"), ("rmse", "min"), ("mae", "min"), ("label/mean", "min"), ("my_custom_metric", "min")],
)
def test_auto_mode_follows_the_declared_direction(metric: str, mode: str) -> None:
    assert EarlyStopping(metric).mode == mode


def test_explicit_mode_wins_and_max_mode_stops_on_no_increase() -> None:
    stop = EarlyStopping("rmse", mode="max", patience=1)
    assert stop.mode == "max"
    assert [stop.observe(v) for v in (1.0, 2.0, 1.5)] == [False, False, True]
    with pytest.raises(ValueError, match=r"mode must be 'min', 'max' or 'auto', got 'up'"):
        EarlyStopping("auc", mode="up")


# -- TF's hook family: signatures, cadence and exact stop steps -------------------------------------------------

EVERY_STEP = {"run_every_secs": None, "run_every_steps": 1}


def fake_estimator(evaluations, name=None, model_dir="/nonexistent/m"):
    history = History()
    for step, metrics in evaluations:
        history.dispatch({"type": "evaluate", "global_step": step, "time": 0.0, "name": name, "metrics": metrics})
    return SimpleNamespace(history=history, model_dir=model_dir)


def run(est, frame, hook, max_steps=20, every=2, name=None):
    """train_and_evaluate with evaluations every ``every`` steps and ``hook``; the final global step."""
    result, _ = train_and_evaluate(est, TrainSpec(frame, max_steps, [hook], label="y"),
                                   EvalSpec(frame, name=name, every_n_steps=every))
    return result["global_step"]


def test_no_improvement_predicates_follow_tf_walk():
    losses = [(10, {"loss": 1.0}), (20, {"loss": 0.5}), (30, {"loss": 0.6}), (40, {"loss": 0.7})]
    est = fake_estimator(losses)
    # best 0.5 at step 20; the step-40 evaluation is 20 steps behind it
    assert stop_if_no_decrease_hook(est, "loss", 20).should_stop() is True
    assert stop_if_no_decrease_hook(est, "loss", 21).should_stop() is False
    # no increase: nothing beats 1.0 at step 10, and the step-40 evaluation is 30 steps later
    assert stop_if_no_increase_hook(est, "loss", 30).should_stop() is True
    assert stop_if_no_increase_hook(est, "loss", 31).should_stop() is False
    # min_steps drops the evaluations before it: from step 30, best 0.6 at 30, only 10 steps later
    assert stop_if_no_decrease_hook(est, "loss", 10, min_steps=30).should_stop() is True
    assert stop_if_no_decrease_hook(est, "loss", 11, min_steps=30).should_stop() is False
    # thresholds are strict, and min_steps applies to them too
    assert stop_if_lower_hook(est, "loss", 0.5).should_stop() is False
    assert stop_if_lower_hook(est, "loss", 0.51).should_stop() is True
    assert stop_if_higher_hook(est, "loss", 0.65, min_steps=15).should_stop() is True
    assert stop_if_higher_hook(est, "loss", 0.7).should_stop() is True
    assert stop_if_higher_hook(est, "loss", 1.0).should_stop() is False
    assert stop_if_higher_hook(fake_estimator([]), "loss", 0.0).should_stop() is False


def test_predicates_read_the_named_evaluation_and_name_a_missing_metric():
    est = fake_estimator([(5, {"auc": 0.9})], name="val")
    assert stop_if_higher_hook(est, "auc", 0.8).should_stop() is False  # eval_dir=None: the default evaluation
    assert stop_if_higher_hook(est, "auc", 0.8, eval_name="val").should_stop() is True
    assert stop_if_higher_hook(est, "auc", 0.8, os.path.join(est.model_dir, "eval_val")).should_stop() is True
    with pytest.raises(ValueError, match=r"metric 'loss' is not in the evaluation of step 5, which has \['auc'\]"):
        stop_if_lower_hook(est, "loss", 1.0, eval_name="val").should_stop()


def test_cadence_arguments_follow_tf():
    with pytest.raises(ValueError, match="either run_every_secs or run_every_steps must be set"):
        make_early_stopping_hook(fake_estimator([]), lambda: False, run_every_secs=None)
    with pytest.raises(ValueError, match="run_every_steps must be a positive int or None, got 0"):
        stop_if_lower_hook(fake_estimator([]), "loss", 1.0, run_every_steps=0)
    with pytest.raises(TypeError, match="estimator must be an estlab Estimator, got NoneType"):
        stop_if_no_decrease_hook(None, "loss", 10)
    hook = make_early_stopping_hook(fake_estimator([]), lambda: False, 60, 5)  # TF refuses both; steps win
    assert (hook.run_every_secs, hook.run_every_steps) == (None, 5)


def test_no_decrease_stops_at_the_evaluation_that_shows_it(make_estimator, binary_frame):
    # label/mean is the same at every evaluation: it never decreases after the first one (step 2)
    est = make_estimator(save_checkpoints_steps=1000)
    assert run(est, binary_frame, stop_if_no_decrease_hook(est, "label/mean", 5, **EVERY_STEP)) == 8  # 8 - 2 >= 5
    assert est.last_run.status == "stopped"
    assert est.last_run.reason == "early stopping: no decrease in label/mean for 5 steps"
    assert [r["global_step"] for r in est.history.evaluations] == [2, 4, 6, 8]


def test_min_steps_and_no_increase(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    hook = stop_if_no_increase_hook(est, "label/mean", 5, None, 3, **EVERY_STEP)  # evaluations from step 4 on
    assert run(est, binary_frame, hook) == 10


def test_thresholds_stop_at_the_first_evaluation_past_min_steps(make_estimator, binary_frame, tmp_path):
    est = make_estimator(tmp_path / "lower", save_checkpoints_steps=1000)
    assert run(est, binary_frame, stop_if_lower_hook(est, "loss", 100.0, min_steps=5, **EVERY_STEP)) == 6
    assert est.last_run.reason == "early stopping: loss lower than 100.0"
    est = make_estimator(tmp_path / "higher", save_checkpoints_steps=1000)
    assert run(est, binary_frame, stop_if_higher_hook(est, "accuracy", -1.0, min_steps=3, **EVERY_STEP)) == 4
    est = make_estimator(tmp_path / "never", save_checkpoints_steps=1000)
    assert run(est, binary_frame, stop_if_higher_hook(est, "loss", 1e9, **EVERY_STEP), max_steps=6) == 6
    assert est.last_run.status == "finished"


def test_run_every_steps_checks_at_the_first_step_then_every_n(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    hook = stop_if_no_decrease_hook(est, "label/mean", 5, run_every_secs=None, run_every_steps=3)
    # true from the step-8 evaluation on, seen at the next check: steps 1, 4, 7, 10; step 4 is also
    # evaluated, so (as TF, whose checkpoint hook evaluates before the user's hooks) it is checked again then
    assert run(est, binary_frame, hook) == 10
    assert hook.checked_steps == [1, 4, 4, 7, 10]


def test_run_every_secs_default_checks_once_in_a_short_run(make_estimator, binary_frame, tmp_path):
    est = make_estimator(tmp_path / "secs60", save_checkpoints_steps=1000)
    hook = stop_if_no_decrease_hook(est, "label/mean", 5)  # TF's default: every 60 seconds
    assert run(est, binary_frame, hook, max_steps=12) == 12
    assert hook.checked_steps == [1]
    est = make_estimator(tmp_path / "secs0", save_checkpoints_steps=1000)
    assert run(est, binary_frame, stop_if_no_decrease_hook(est, "label/mean", 5, run_every_secs=0)) == 8


def test_make_early_stopping_hook_calls_the_predicate_on_its_cadence(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    calls = []

    def should_stop():
        calls.append(len(calls))
        return len(calls) == 3

    hook = make_early_stopping_hook(est, should_stop, None, 2)
    assert isinstance(hook, StopOnPredicateHook)
    est.train(binary_frame, label="y", max_steps=20, hooks=[hook])
    assert hook.checked_steps == [1, 3, 5] and est.global_step == 5 and est.last_run.status == "stopped"


def test_eval_dir_of_another_run_is_read_from_its_event_files(make_estimator, binary_frame, tmp_path):
    first = make_estimator(tmp_path / "first", save_checkpoints_steps=1000)
    run(first, binary_frame, stop_if_higher_hook(first, "loss", 1e9, **EVERY_STEP), max_steps=4)
    eval_dir = os.path.join(first.model_dir, "eval")
    read = read_eval_metrics(make_estimator(tmp_path / "other"), eval_dir)
    assert list(read) == [2, 4]
    expected = {r["global_step"]: r["metrics"]["loss"] for r in first.history.evaluations}
    assert {step: m["loss"] for step, m in read.items()} == {
        step: float(np.float32(v)) for step, v in expected.items()}  # TensorBoard stores float32
    second = make_estimator(tmp_path / "second", save_checkpoints_steps=1000)
    second.train(binary_frame, label="y", max_steps=20,
                 hooks=[stop_if_lower_hook(second, "loss", 1e9, eval_dir, **EVERY_STEP)])
    assert second.global_step == 1  # the other run's evaluations already cross the threshold
    assert read_eval_metrics(second, tmp_path / "missing") == {}


# -- EarlyStopping(restore_best=True) ---------------------------------------------------------------------------


def _weights(path):
    from estlab.training import checkpoints

    return checkpoints.load_checkpoint(path)["model"]


def test_restore_best_puts_the_best_weights_in_the_latest_checkpoint(make_estimator, binary_frame):
    import torch

    from estlab.training import checkpoints

    est = make_estimator(save_checkpoints_steps=1000, keep_checkpoint_max=2)
    # "loss" watched as higher-is-better: the first evaluation (step 2, least trained) is the best, for sure
    stop = EarlyStopping("loss", mode="max", patience=100, restore_best=True)
    train_and_evaluate(est, TrainSpec(binary_frame, 10, [stop], label="y"), EvalSpec(binary_frame, every_n_steps=2))
    losses = dict(est.history.metric_history("loss"))
    assert sorted(losses) == [2, 4, 6, 8, 10] and losses[2] == max(losses.values()) and losses[10] < losses[2]
    assert (stop.best, stop.best_step) == (losses[2], 2)
    # step 2's checkpoint was pruned from model_dir (keep 2) but kept under best/
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [8, 10]
    assert stop.best_checkpoint == os.path.join(est.model_dir, "best", "loss", "model.ckpt-2.pt")
    kept, latest = _weights(stop.best_checkpoint), _weights(checkpoints.latest_checkpoint(est.model_dir))
    assert all(torch.equal(kept[k], latest[k]) for k in kept)
    assert est.global_step == 10
    # the in-memory model, evaluate and a fresh estimator on the same model_dir all see step 2's weights
    assert est.evaluate(binary_frame)["loss"] == losses[2]
    fresh = make_estimator(save_checkpoints_steps=1000)
    assert fresh.evaluate(binary_frame)["loss"] == losses[2] and fresh.global_step == 10
    np.testing.assert_array_equal(fresh.predict_frame(binary_frame)["logits"].to_numpy(),
                                  est.predict_frame(binary_frame)["logits"].to_numpy())
    # the History of the whole run is kept in the rewritten checkpoint
    assert sorted(dict(fresh.history.metric_history("loss"))) == [2, 4, 6, 8, 10]


def test_restore_best_after_an_early_stop_and_when_the_last_is_best(make_estimator, binary_frame, tmp_path):
    from estlab.training import checkpoints

    est = make_estimator(save_checkpoints_steps=1000)
    stop = EarlyStopping("loss", mode="max", patience=2, restore_best=True)
    train_and_evaluate(est, TrainSpec(binary_frame, 100, [stop], label="y"), EvalSpec(binary_frame, every_n_steps=2))
    assert est.last_run.status == "stopped" and est.global_step == 6  # best at 2, then 4 and 6 without improvement
    assert est.evaluate(binary_frame)["loss"] == dict(est.history.metric_history("loss"))[2]
    # the plain loss keeps falling on this separable problem: the last evaluation is the best, nothing changes
    other = make_estimator(model_dir=tmp_path / "other", save_checkpoints_steps=1000)
    stop = EarlyStopping("loss", patience=100, restore_best=True)
    train_and_evaluate(other, TrainSpec(binary_frame, 6, [stop], label="y"), EvalSpec(binary_frame, every_n_steps=2))
    assert stop.best_step == 6 and checkpoints.latest_checkpoint(other.model_dir).name == "model.ckpt-6.pt"
    assert other.evaluate(binary_frame)["loss"] == stop.best


def test_restore_best_is_off_by_default_and_checked():
    assert EarlyStopping("loss").restore_best is False and EarlyStopping("loss").restore_path() is None
    with pytest.raises(ValueError, match=r"restore_best must be True or False, got 'yes'"):
        EarlyStopping("loss", restore_best="yes")


def test_restore_best_warns_when_the_best_has_no_checkpoint():
    from estlab.warnings import TrainingWarning

    stop = EarlyStopping("loss", restore_best=True)
    stop.on_evaluate({"type": "evaluate", "global_step": 3, "run": "/nonexistent/m", "metrics": {"loss": 1.0},
                      "name": None})
    with pytest.warns(TrainingWarning, match=r"best evaluation \(step 3, loss=1\) has no kept checkpoint"):
        assert stop.restore_path() is None
