from __future__ import annotations

from estlab.training.history import History


def _step(h, step, loss):
    h.dispatch({"type": "step_end", "global_step": step, "time": float(step), "loss": loss, "learning_rate": 0.1,
                "examples_per_sec": 5.0})


def test_records_synced_steps_evaluations_and_runs_and_round_trips():
    h = History()
    h.dispatch({"type": "train_begin", "global_step": 0, "time": 0.0, "target_step": 3, "device": "cpu"})
    _step(h, 1, None)  # not synchronised: nothing to record
    _step(h, 2, 0.5)
    h.dispatch({"type": "evaluate", "global_step": 2, "time": 1.0, "name": None, "metrics": {"auc": 0.7}})
    h.dispatch({"type": "evaluate", "global_step": 2, "time": 2.0, "name": None, "metrics": {"auc": 0.8}})
    h.dispatch({"type": "train_end", "global_step": 3, "time": 3.0, "status": "stopped", "reason": "x",
                "final_loss": 0.4})
    assert [r["global_step"] for r in h.steps] == [2]
    assert h.metric_history("auc") == [(2, 0.8)]  # a re-evaluation of the same step replaces the row
    assert h.runs == [{"start_step": 0, "target_step": 3, "device": "cpu", "start_time": 0.0, "status": "stopped",
                       "reason": "x", "end_step": 3, "end_time": 3.0, "final_loss": 0.4}]
    assert History.from_dict(h.to_dict()).to_dict() == h.to_dict()
    frame = h.to_frame()
    assert frame.values.tolist() == [["train", "loss", 2, 0.5], ["train", "learning_rate", 2, 0.1],
                                     ["train", "examples_per_sec", 2, 5.0], ["eval", "auc", 2, 0.8]]


def test_long_runs_are_thinned_keeping_the_newest_row():
    h = History()
    h.max_step_rows = 10
    for step in range(1, 12):
        _step(h, step, 1.0 / step)
    assert [r["global_step"] for r in h.steps] == [1, 3, 5, 7, 9, 11]
