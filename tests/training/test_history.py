from __future__ import annotations

import pytest

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


def test_thinning_keeps_first_and_newest_rows_evenly_spaced_under_the_cap():
    h = History(max_step_rows=8)
    for step in range(1, 101):
        _step(h, step, 1.0 / step)
        assert len(h.steps) <= 8
        assert h.steps[0]["global_step"] == 1 and h.steps[-1]["global_step"] == step
    assert [r["global_step"] for r in h.steps] == [1, 17, 33, 49, 65, 81, 97, 100]
    assert h.latest_loss == 1.0 / 100
    assert History.from_dict(h.to_dict()).steps == h.steps


def test_thinning_with_irregular_synchronised_steps():
    h = History(max_step_rows=4)
    for step in (1, 2, 3, 10, 11, 30, 31, 32, 60):
        _step(h, step, float(step))
    assert [r["global_step"] for r in h.steps] == [1, 10, 30, 60]  # first row of each 4-step bucket from step 1
    with pytest.raises(ValueError, match="max_step_rows: must be an int >= 2, got 1"):
        History(max_step_rows=1)


def test_latest_values_and_curves_for_viewers():
    h = History()
    assert h.latest_loss is None and h.latest_metrics() == {} and h.curve_keys() == []
    _step(h, 1, 0.9)
    _step(h, 2, 0.7)
    for step, auc, name in ((2, 0.6, None), (4, 0.8, None), (3, 0.5, "holdout")):
        h.dispatch({"type": "evaluate", "global_step": step, "time": 0.0, "name": name,
                    "metrics": {"auc": auc, "loss": 1.0 - auc}})
    revision = h.revision
    h.dispatch({"type": "checkpoint", "global_step": 4, "time": 0.0, "path": "/tmp/ckpt-4"})
    assert h.revision == revision + 1
    assert h.latest_loss == 0.7
    assert h.latest_metrics() == {"auc": 0.8, "loss": 1.0 - 0.8}
    assert h.latest_metrics("holdout") == {"auc": 0.5, "loss": 0.5}
    assert h.curve("train", "loss") == ([1, 2], [0.9, 0.7])
    assert h.curve("eval", "auc") == ([2, 4], [0.6, 0.8])
    assert h.curve("eval_holdout", "loss") == ([3], [0.5])
    assert h.curve_keys() == [("train", "loss"), ("train", "learning_rate"), ("train", "examples_per_sec"),
                              ("eval", "auc"), ("eval", "loss"), ("eval_holdout", "auc"), ("eval_holdout", "loss")]
    with pytest.raises(ValueError, match="split: expected 'train', 'eval' or 'eval_<name>', got 'test'"):
        h.curve("test", "auc")
