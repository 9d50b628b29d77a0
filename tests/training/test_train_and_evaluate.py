from __future__ import annotations

import pytest

from estlab.training import checkpoints
from estlab.training.early_stopping import EarlyStopping, stop_if_no_decrease_hook, stop_if_no_increase_hook
from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate


class RecordingExporter:
    name = "best"

    def __init__(self):
        self.calls = []

    def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
        self.calls.append((export_path, checkpoint_path, eval_result["global_step"], is_the_final_export))
        return f"exported-{eval_result['global_step']}"


def test_evaluates_every_n_steps_and_exports(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    exporter = RecordingExporter()
    result, exports = train_and_evaluate(
        est, TrainSpec(binary_frame, max_steps=10, label="y"),
        EvalSpec(binary_frame, every_n_steps=4, exporters=[exporter]))
    assert result["global_step"] == 10 and exports == ["exported-10"]
    assert [r["global_step"] for r in est.history.evaluations] == [4, 8, 10]
    assert [(c[2], c[3]) for c in exporter.calls] == [(4, False), (8, False), (10, True)]
    assert exporter.calls[0][0].endswith("export/best") and exporter.calls[0][1].endswith("model.ckpt-4.pt")
    # every evaluation was preceded by a checkpoint of that step
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [4, 8, 10]


def test_early_stopping_listener_stops_the_run(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    stop = EarlyStopping("accuracy", min_delta=2.0, patience=2)  # no change can exceed 2.0
    result, _ = train_and_evaluate(est, TrainSpec(binary_frame, max_steps=100, hooks=[stop], label="y"),
                                   EvalSpec(binary_frame, every_n_steps=2))
    assert est.last_run.status == "stopped" and est.last_run.reason.startswith("early stopping: accuracy")
    assert result["global_step"] == 6 == est.global_step  # evals at 2 (best), 4 (wait 1), 6 (wait 2 > patience)


def test_early_stopping_counts_patience_in_evaluations():
    stop = EarlyStopping("loss", min_delta=0.1, patience=2)
    assert [stop.observe(v) for v in [1.0, 0.95, 0.85, 0.8, 0.79]] == [False, False, False, False, True]
    assert EarlyStopping("loss", patience=0).observe(1.0) is False
    assert stop.best == 0.85 and EarlyStopping("auc").mode == "max"


def test_stop_if_no_decrease_hook_reads_the_eval_history(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    hook = stop_if_no_decrease_hook(est, "accuracy", max_steps_without_decrease=4, run_every_steps=1)
    train_and_evaluate(est, TrainSpec(binary_frame, max_steps=100, hooks=[hook], label="y"),
                       EvalSpec(binary_frame, every_n_steps=2))
    values = est.history.metric_history("accuracy")
    best_step = min(values, key=lambda sv: (sv[1], sv[0]))[0]  # accuracy rarely decreases: the hook fires
    assert est.last_run.status == "stopped" and values[-1][0] - best_step >= 4
    increase = stop_if_no_increase_hook(est, "accuracy", 10**6)
    assert increase.should_stop() is False


def test_specs_validate_their_arguments():
    with pytest.raises(ValueError, match="every_n_steps must be a positive int or None, got 0"):
        EvalSpec(None, every_n_steps=0)
    with pytest.raises(TypeError, match="has no export"):
        EvalSpec(None, exporters=[object()])
    with pytest.raises(ValueError, match="max_steps must be a positive int or None, got -1"):
        TrainSpec(None, max_steps=-1)


def test_early_stopping_state_is_checkpointed_and_restored(make_estimator, binary_frame):
    stop = EarlyStopping("accuracy", min_delta=2.0, patience=5)
    train_and_evaluate(make_estimator(save_checkpoints_steps=1000),
                       TrainSpec(binary_frame, max_steps=4, hooks=[stop], label="y"),
                       EvalSpec(binary_frame, every_n_steps=2))
    assert stop.wait == 1
    fresh = EarlyStopping("accuracy", min_delta=2.0, patience=5)
    make_estimator(save_checkpoints_steps=1000).train(binary_frame, label="y", steps=1, hooks=[fresh])
    assert (fresh.best, fresh.wait) == (stop.best, 1)


def test_time_based_cadence_evaluates_new_checkpoints(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=3)
    result, _ = train_and_evaluate(est, TrainSpec(binary_frame, max_steps=10, label="y"),
                                   EvalSpec(binary_frame, start_delay_secs=0, throttle_secs=0))
    assert [r["global_step"] for r in est.history.evaluations] == [3, 6, 9, 10] and result["global_step"] == 10


def test_throttle_secs_spaces_evaluations_out(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=3)
    train_and_evaluate(est, TrainSpec(binary_frame, max_steps=10, label="y"),
                       EvalSpec(binary_frame, start_delay_secs=0, throttle_secs=3600))
    assert [r["global_step"] for r in est.history.evaluations] == [3, 10]  # first checkpoint, then the final one


def test_throttle_zero_evaluates_each_new_checkpoint_once_with_tf_defaults(make_estimator, binary_frame):
    # TF's local loop: no start delay, every checkpoint evaluated when throttle_secs=0 (issue 10, item 9)
    est = make_estimator(save_checkpoints_steps=2)
    result, _ = train_and_evaluate(est, TrainSpec(binary_frame, 7, label="y"), EvalSpec(binary_frame, throttle_secs=0))
    evaluated = [r["global_step"] for r in est.history.evaluations]
    saved = [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)]
    assert saved == [2, 4, 6, 7] and evaluated == [2, 4, 6, 7]  # one evaluation per checkpoint, the final one too
    assert {step: evaluated.count(step) for step in saved} == {2: 1, 4: 1, 6: 1, 7: 1}
    assert result["global_step"] == 7 and EvalSpec(binary_frame).start_delay_secs is None


def test_an_explicit_start_delay_holds_evaluation_back(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=2)
    train_and_evaluate(est, TrainSpec(binary_frame, 7, label="y"),
                       EvalSpec(binary_frame, start_delay_secs=3600, throttle_secs=0))
    assert [r["global_step"] for r in est.history.evaluations] == [7]  # only the final evaluation


def test_evaluation_hooks_see_each_checkpoint_evaluation(make_estimator, binary_frame):
    from estlab.training.events import Listener

    class Count(Listener):
        def __init__(self):
            self.steps = []

        def on_evaluate(self, event):
            self.steps.append(event["global_step"])

    counter = Count()
    est = make_estimator(save_checkpoints_steps=3)
    train_and_evaluate(est, TrainSpec(binary_frame, 9, label="y"),
                       EvalSpec(binary_frame, None, "val", [counter], None, 0, 0))  # TF's positional order
    assert counter.steps == [3, 6, 9]  # step 9 is a checkpoint and the last step: evaluated once
    assert [r["name"] for r in est.history.evaluations] == ["val"] * 3


def test_spec_arguments_bind_in_tf_order():
    hook = EarlyStopping("loss")
    spec = TrainSpec("data", 100, [hook])
    assert (spec.input_fn, spec.max_steps, spec.hooks, spec.label) == ("data", 100, (hook,), None)
    listener = object()
    assert TrainSpec("data", 100, None, [listener]).saving_listeners == [listener]
    exporter = RecordingExporter()
    spec = EvalSpec("data", 10, "val", None, exporter, 5, 30)
    assert (spec.steps, spec.name, spec.hooks, spec.exporters, spec.start_delay_secs, spec.throttle_secs) == (
        10, "val", (), (exporter,), 5, 30)
    with pytest.raises(TypeError):
        EvalSpec("data", 10, "val", None, None, 5, 30, 7)  # every_n_steps is keyword-only
    with pytest.raises(TypeError):
        TrainSpec("data", 100, None, None, "y")  # label is keyword-only
    with pytest.raises(ValueError, match="throttle_secs must be a number of seconds >= 0, got -1"):
        EvalSpec("data", throttle_secs=-1)


def test_an_evaluation_due_at_max_steps_is_the_final_one_and_exports_once(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    exporter = RecordingExporter()
    result, exports = train_and_evaluate(
        est, TrainSpec(binary_frame, max_steps=10, label="y"),
        EvalSpec(binary_frame, every_n_steps=5, exporters=[exporter]))
    assert [r["global_step"] for r in est.history.evaluations] == [5, 10]
    assert [(c[2], c[3]) for c in exporter.calls] == [(5, False), (10, True)]  # TF: once, flagged final
    assert result["global_step"] == 10 and exports == ["exported-10"]


def test_train_spec_saving_listeners_are_called_around_the_runs_checkpoints(make_estimator, binary_frame):
    from estlab.training.checkpoint_hooks import CheckpointSaverListener

    class Saves(CheckpointSaverListener):
        def __init__(self):
            self.steps = []

        def after_save(self, session, global_step_value):
            self.steps.append(global_step_value)

    est = make_estimator(save_checkpoints_steps=4)
    listener = Saves()
    train_and_evaluate(est, TrainSpec(binary_frame, 8, None, [listener], label="y"),
                       EvalSpec(binary_frame, every_n_steps=8))
    assert listener.steps == [0, 4, 8]
