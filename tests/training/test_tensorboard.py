from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def _scalars(path, tag):
    acc = EventAccumulator(str(path))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)] if tag in acc.Tags()["scalars"] else []


def test_training_and_eval_event_files(make_estimator, binary_frame, tmp_path):
    est = make_estimator(save_summary_steps=5, log_step_count_steps=5)
    losses = []

    from estlab.training.events import Listener

    class Losses(Listener):
        def on_step_end(self, event):
            if event["loss"] is not None:
                losses.append((event["global_step"], event["loss"]))

    est.train(binary_frame, label="y", steps=12, hooks=[Losses()])
    metrics = est.evaluate(binary_frame)
    named = est.evaluate(binary_frame, name="test")
    loss = _scalars(est.model_dir, "loss")
    assert [s for s, _ in loss] == [5, 10, 12]
    assert [v for _, v in loss] == pytest.approx([v for _, v in losses])
    assert [s for s, _ in _scalars(est.model_dir, "learning_rate")] == [5, 10]
    assert [s for s, _ in _scalars(est.model_dir, "global_step/sec")] == [5, 10]
    assert _scalars(tmp_path / "run" / "eval", "accuracy") == [(12, pytest.approx(metrics["accuracy"]))]
    assert _scalars(tmp_path / "run" / "eval_test", "auc") == [(12, pytest.approx(named["auc"]))]
    assert est.history.metric_history("auc", "test") == [(12, pytest.approx(named["auc"]))]
    frame = est.history.to_frame()
    assert set(frame["split"]) == {"train", "eval", "eval_test"}
