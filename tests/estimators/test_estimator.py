"""Estimator core: steps semantics, resume, reproducibility, whole-input metrics, predict, safety."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from estimator_testing import linear_model_fn
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.features import numeric_column
from estlab.training import checkpoints
from estlab.training.config import RunConfig
from estlab.training.events import Listener
from estlab.training.loop import NanLossError


class StepLog(Listener):
    def __init__(self):
        self.events = []

    def dispatch(self, event):
        self.events.append(event)

    def of(self, kind):
        return [e for e in self.events if e["type"] == kind]


def test_steps_add_max_steps_is_absolute(make_estimator, binary_frame, caplog):
    est = make_estimator()
    est.train(binary_frame, label="y", steps=3)
    est.train(binary_frame, label="y", steps=4)
    assert est.global_step == 7
    est.train(binary_frame, label="y", max_steps=9)
    assert est.global_step == 9
    before = est.get_variable_value("linear.weight")
    with caplog.at_level(logging.WARNING):
        est.train(binary_frame, label="y", max_steps=5)
    assert "already reached max_steps=5" in caplog.text and est.global_step == 9
    np.testing.assert_array_equal(est.get_variable_value("linear.weight"), before)
    with pytest.raises(ValueError, match="steps=1 and max_steps=2 were both given"):
        est.train(binary_frame, label="y", steps=1, max_steps=2)
    with pytest.raises(ValueError, match="steps must be a positive int or None, got 0"):
        est.train(binary_frame, label="y", steps=0)


def test_new_estimator_on_the_same_dir_resumes(make_estimator, binary_frame, tmp_path):
    first = make_estimator()
    first.train(binary_frame, label="y", steps=6)
    second = make_estimator()
    assert second.global_step == 6
    np.testing.assert_array_equal(second.get_variable_value("linear.weight"),
                                  first.get_variable_value("linear.weight"))
    second.train(binary_frame, label="y", steps=2)
    assert second.latest_checkpoint().endswith("model.ckpt-8.pt")
    assert first.evaluate(binary_frame)["global_step"] == 8  # the older object picks up the newer checkpoint


def test_same_seed_gives_identical_weights(make_estimator, binary_frame, tmp_path):
    weights = []
    for name in ("a", "b"):
        est = make_estimator(tmp_path / name)
        est.train(binary_frame, label="y", steps=12, batch_size=8)
        weights.append(est.get_variable_value("linear.weight"))
    np.testing.assert_array_equal(weights[0], weights[1])
    other = make_estimator(tmp_path / "c", random_seed=1)
    other.train(binary_frame, label="y", steps=12, batch_size=8)
    assert not np.array_equal(other.get_variable_value("linear.weight"), weights[0])


def test_evaluate_is_computed_over_the_whole_input(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", steps=5, batch_size=8)
    metrics = est.evaluate(binary_frame, batch_size=7)  # 64 rows: 9 uneven batches
    w = est.get_variable_value("linear.weight")[0]
    b = est.get_variable_value("linear.bias")[0]
    p = 1 / (1 + np.exp(-(binary_frame[["a", "b"]].to_numpy() @ w + b)))
    y = binary_frame["y"].to_numpy()
    assert metrics["global_step"] == 5
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, p > 0.5))
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert metrics["average_loss"] == pytest.approx(log_loss(y, p), rel=1e-5)
    assert all(isinstance(v, float) for k, v in metrics.items() if k != "global_step")
    assert est.evaluate(binary_frame, steps=2, batch_size=7)["label/mean"] == pytest.approx(y[:14].mean())


def test_predict_has_tf_keys_and_predict_frame_matches(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", steps=5)
    rows = list(est.predict(binary_frame))
    assert len(rows) == 64
    assert set(rows[0]) == {"logits", "logistic", "probabilities", "class_ids", "classes", "all_class_ids",
                            "all_classes"}
    assert rows[0]["probabilities"].shape == (2,) and rows[0]["probabilities"].sum() == pytest.approx(1.0)
    frame = est.predict_frame(binary_frame, predict_keys=["logistic", "probabilities", "class_ids"])
    assert list(frame.columns) == ["logistic", "probabilities_0", "probabilities_1", "class_ids"]
    np.testing.assert_allclose(frame["logistic"], [r["logistic"][0] for r in rows], rtol=1e-6)
    batches = list(est.predict(binary_frame, predict_keys="class_ids", yield_single_examples=False, batch_size=50))
    assert [b["class_ids"].shape[0] for b in batches] == [50, 14]
    with pytest.raises(ValueError, match=r"predict_keys: \['proba'\] are not predictions of this model"):
        next(est.predict(binary_frame, predict_keys=["proba"]))


def test_predict_frame_keeps_the_index_and_names_probabilities_by_class(make_estimator, binary_frame):
    est = make_estimator()
    est.train(binary_frame, label="y", steps=5)
    frame = binary_frame.set_axis([f"row{i}" for i in range(64)]).iloc[::-1]  # a labelled, unsorted index
    out = est.predict_frame(frame)
    assert out.index.tolist() == frame.index.tolist()
    assert ["probabilities_0", "probabilities_1"] == [c for c in out.columns if c.startswith("probabilities")]
    assert est.predict_frame(frame.drop(columns="y").to_dict("list")).index.tolist() == list(range(64))
    with pytest.raises(ValueError, match=r"predict_keys: \['proba'\] are not predictions of this model"):
        est.predict_frame(frame, predict_keys="proba")


def test_predict_frame_names_columns_by_the_label_vocabulary(tmp_path):
    from estlab.estimators import LinearClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60)}, index=pd.RangeIndex(100, 160))
    frame["species"] = np.where(frame["x"] > 0.5, "gentoo", np.where(frame["x"] < -0.5, "adelie", "chinstrap"))
    vocabulary = ["adelie", "chinstrap", "gentoo"]
    est = LinearClassifier(feature_columns=[numeric_column("x")], n_classes=3, label_vocabulary=vocabulary,
                           model_dir=str(tmp_path / "m"), config=RunConfig(random_seed=0))
    est.train(frame, label="species", steps=3)
    out = est.predict_frame(frame.drop(columns="species").head(4), predict_keys=["probabilities", "classes"])
    assert list(out.columns) == ["probabilities_adelie", "probabilities_chinstrap", "probabilities_gentoo", "classes"]
    assert out.index.tolist() == [100, 101, 102, 103]
    best = out[[f"probabilities_{c}" for c in vocabulary]].to_numpy().argmax(axis=1)
    assert out["classes"].tolist() == [vocabulary[i] for i in best]
    assert [c for c in est.predict_frame(frame.head(2)).columns if c.startswith("logits")] == [
        "logits_adelie", "logits_chinstrap", "logits_gentoo"]


def test_untrained_model_dir_cannot_predict(make_estimator, binary_frame):
    with pytest.raises(ValueError, match="Could not find a trained model in model_dir .*call train"):
        make_estimator().evaluate(binary_frame, label="y")


def test_model_dir_conflicts_and_temp_dir(tmp_path, caplog):
    with pytest.raises(ValueError, match="differs from config.model_dir"):
        Estimator(linear_model_fn, model_dir=str(tmp_path / "a"), config=RunConfig(model_dir=str(tmp_path / "b")))
    same = Estimator(linear_model_fn, model_dir=str(tmp_path / "a"), config=RunConfig(model_dir=str(tmp_path / "a")))
    assert same.config.model_dir == same.model_dir
    temp = Estimator(linear_model_fn)  # no filesystem work in __init__: the temporary dir is made on first use
    with caplog.at_level(logging.WARNING):
        model_dir = temp.model_dir
    assert "Using temporary folder as model directory" in caplog.text and "estlab_" in model_dir
    assert temp.model_dir == model_dir


def test_nan_loss_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path, binary_frame):
    calls = {"n": 0}

    def flaky_loss(logits, labels):
        calls["n"] += 1
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float().reshape(-1, 1))
        return loss * float("nan") if calls["n"] == 7 else loss

    def model_fn(params):
        return ModelSpec(module=torch.nn.Linear(2, 1), loss_fn=flaky_loss, input_names=("a",))

    est = Estimator(model_fn, model_dir=str(tmp_path), config=RunConfig(save_checkpoints_steps=5))
    with pytest.raises(NanLossError, match="NaN or infinite at step 7; the last good checkpoint is kept"):
        est.train({"a": binary_frame[["a", "b"]].to_numpy(), "y": binary_frame["y"].to_numpy()}, label="y", steps=20)
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(tmp_path)] == [5]
    assert est.global_step == 5  # the damaged in-memory model was dropped
    assert est.history.runs[-1]["status"] == "failed"


def test_keyboard_interrupt_checkpoints_then_reraises(make_estimator, binary_frame):
    class Interrupt(Listener):
        def on_step_end(self, event):
            if event["global_step"] == 3:
                raise KeyboardInterrupt

    est = make_estimator()
    log = StepLog()
    with pytest.raises(KeyboardInterrupt):
        est.train(binary_frame, label="y", steps=50, hooks=[Interrupt(), log])
    assert est.latest_checkpoint().endswith("model.ckpt-3.pt")
    assert log.of("train_end")[0]["status"] == "stopped" and log.of("train_end")[0]["reason"] == "KeyboardInterrupt"
    est.train(binary_frame, label="y", steps=1)
    assert est.global_step == 4


def test_request_stop_from_another_thread(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    started, requested = threading.Event(), threading.Event()

    class Started(Listener):
        def on_step_end(self, event):  # the first step waits for the request: the run cannot end before it
            started.set()
            requested.wait(60)

    worker = threading.Thread(target=est.train, args=(binary_frame,),
                              kwargs={"label": "y", "hooks": [Started()], "batch_size": 4})
    worker.start()
    assert started.wait(60)
    est.request_stop()
    requested.set()
    worker.join(30)
    assert not worker.is_alive()
    assert est.last_run.status == "stopped" and est.last_run.reason == "stop requested"
    assert est.latest_checkpoint().endswith(f"model.ckpt-{est.global_step}.pt")


def test_loss_is_synced_only_when_a_listener_needs_it(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=4, save_summary_steps=100, log_step_count_steps=100)
    log = StepLog()
    est.train(binary_frame, label="y", steps=10, hooks=[log])
    steps = log.of("step_end")
    assert [e["global_step"] for e in steps] == list(range(1, 11))
    assert [e["global_step"] for e in steps if e["loss"] is not None] == [4, 8, 10]
    assert all(isinstance(e["learning_rate"], float) and e["learning_rate"] == 0.5 for e in steps)
    assert [e["global_step"] for e in log.of("checkpoint")] == [4, 8, 10]
    assert log.of("train_end")[0]["final_loss"] == steps[-1]["loss"]


def test_negative_weights_and_missing_columns_are_named(tmp_path, binary_frame):
    frame = binary_frame.assign(w=np.where(np.arange(64) == 3, -2.0, 1.0))
    est = Estimator(linear_model_fn, model_dir=str(tmp_path / "w"), params={"weight_column": "w"})
    with pytest.raises(ValueError, match=r"weight_column 'w' has 1 negative or non-finite weight\(s\), e.g. -2.0"):
        est.train(frame, label="y", steps=1)

    class DictNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, features):
            return self.linear(torch.cat([features["a"], features["zzz"]], dim=1))

    def model_fn(params):
        from estlab.estimators.heads import make_head

        return ModelSpec(module=DictNet(), head=make_head(2),
                         feature_columns=[numeric_column("a"), numeric_column("zzz")])

    est = Estimator(model_fn, model_dir=str(tmp_path / "c"))
    with pytest.raises(ValueError, match=r"feature column key\(s\) \['zzz'\] are missing from the input"):
        est.train(binary_frame, label="y", steps=1)


def test_input_position_survives_evaluate_and_restart(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1000)
    est.train(binary_frame, label="y", steps=3, batch_size=16, shuffle=False)
    est.evaluate(binary_frame)
    data = checkpoints.load_checkpoint(est.latest_checkpoint())
    assert {k: data["meta"]["batcher"][k] for k in ("epoch", "position")} == {"epoch": 0, "position": 48}
    make_estimator(save_checkpoints_steps=1000).train(binary_frame, label="y", steps=2, batch_size=16, shuffle=False)
    data = checkpoints.load_checkpoint(est.latest_checkpoint())
    assert {k: data["meta"]["batcher"][k] for k in ("epoch", "position")} == {"epoch": 1, "position": 16}


def test_feature_column_model_stores_the_fitted_transformer(tmp_path):
    frame = pd.DataFrame({"x": [0.0, 10.0, 20.0, 30.0], "y": [0.0, 1.0, 2.0, 3.0]})

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, features):
            return self.linear(features["x"])

    def model_fn(params):
        from estlab.estimators.heads import make_head

        return ModelSpec(module=Net(), head=make_head(None), feature_columns=[numeric_column("x")])

    est = Estimator(model_fn, model_dir=str(tmp_path))
    est.train(frame, label="y", steps=2)
    meta = checkpoints.load_checkpoint(est.latest_checkpoint())["meta"]
    assert meta["transformer"] is not None and meta["label"] == "y"
    fresh = Estimator(model_fn, model_dir=str(tmp_path))
    np.testing.assert_allclose(fresh.predict_frame(frame)["predictions"], est.predict_frame(frame)["predictions"])


def test_warm_start_loads_matching_variables(make_estimator, binary_frame, tmp_path):
    source = make_estimator(tmp_path / "src")
    source.train(binary_frame, label="y", steps=5)
    target = Estimator(linear_model_fn, model_dir=str(tmp_path / "dst"), params={"learning_rate": 1e-9},
                       warm_start_from=str(tmp_path / "src"))
    target.train(binary_frame, label="y", steps=1)
    np.testing.assert_allclose(target.get_variable_value("linear.weight"),
                               source.get_variable_value("linear.weight"), atol=1e-6)
    from_file = Estimator(linear_model_fn, model_dir=str(tmp_path / "dst2"), params={"learning_rate": 1e-9},
                          warm_start_from=source.latest_checkpoint())
    from_file.train(binary_frame, label="y", steps=1)
    np.testing.assert_allclose(from_file.get_variable_value("linear.bias"),
                               source.get_variable_value("linear.bias"), atol=1e-6)


def test_keep_checkpoint_max_and_close(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=1, keep_checkpoint_max=2)
    est.train(binary_frame, label="y", steps=5)
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [4, 5]
    before = est.evaluate(binary_frame)
    est.close()
    assert est._models.state is None
    assert est.evaluate(binary_frame) == before
    assert est.get_variable_names() == ["linear.bias", "linear.weight"]
    older = est.evaluate(binary_frame, checkpoint_path=str(checkpoints.checkpoint_path(est.model_dir, 4)))
    assert older["global_step"] == 4 and est.global_step == 5  # the in-memory model is untouched
    tf_prefix = f"{est.model_dir}/model.ckpt-4"  # TF names a checkpoint by its files' prefix
    assert est.evaluate(binary_frame, checkpoint_path=tf_prefix) == older
    assert [p["logits"].tolist() for p in est.predict(binary_frame.head(2), checkpoint_path=tf_prefix)] == [
        p["logits"].tolist() for p in est.predict(binary_frame.head(2), checkpoint_path=f"{tf_prefix}.pt")]
    with pytest.raises(ValueError, match="checkpoint_path '.*model.ckpt-99.pt' does not exist"):
        est.evaluate(binary_frame, checkpoint_path=str(checkpoints.checkpoint_path(est.model_dir, 99)))


def test_damaged_newest_checkpoint_resumes_from_the_previous_one(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=4)
    est.train(binary_frame, label="y", steps=8)
    newest = checkpoints.checkpoint_path(est.model_dir, 8)
    newest.write_bytes(newest.read_bytes()[:100])
    resumed = make_estimator(save_checkpoints_steps=4)
    resumed.train(binary_frame, label="y", steps=1)
    assert resumed.global_step == 5  # 4 (newest readable) + 1; the damaged step-8 file is moved aside
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(est.model_dir)] == [4, 5]
    assert newest.with_name("model.ckpt-8.pt.damaged").exists()


def test_env_cap_and_bf16_autocast(make_estimator, binary_frame, monkeypatch, caplog):
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "3")
    est = make_estimator(mixed_precision="bf16")
    with caplog.at_level(logging.WARNING):
        est.train(binary_frame, label="y", steps=50)
    assert est.global_step == 3 and "ESTLAB_MAX_STEPS=3 caps this train call" in caplog.text
    assert np.isfinite(est.evaluate(binary_frame)["average_loss"])
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "ten")
    with pytest.raises(ValueError, match="ESTLAB_MAX_STEPS must be a positive int, got 'ten'"):
        est.train(binary_frame, label="y", steps=1)


def test_evaluate_while_another_thread_trains_reads_the_newest_checkpoint(make_estimator, binary_frame):
    est = make_estimator(save_checkpoints_steps=5)
    paused, resume = threading.Event(), threading.Event()

    class Pause(Listener):
        def on_step_end(self, event):
            if event["global_step"] == 7:
                paused.set()
                resume.wait(30)

    worker = threading.Thread(target=est.train, args=(binary_frame,),
                              kwargs={"label": "y", "steps": 10, "hooks": [Pause()]})
    worker.start()
    try:
        assert paused.wait(30)
        assert est.evaluate(binary_frame)["global_step"] == 5  # does not wait for the training thread
        assert len(est.predict_frame(binary_frame)) == 64
    finally:
        resume.set()
        worker.join(30)
    assert est.global_step == 10 and est.evaluate(binary_frame)["global_step"] == 10


def test_resumed_run_matches_an_uninterrupted_one(make_estimator, binary_frame, tmp_path):
    straight = make_estimator(tmp_path / "straight")
    straight.train(binary_frame, label="y", steps=12, batch_size=8)
    make_estimator(tmp_path / "split").train(binary_frame, label="y", steps=5, batch_size=8)
    resumed = make_estimator(tmp_path / "split")  # a new object: model, optimizer, RNG and input position from disk
    resumed.train(binary_frame, label="y", steps=7, batch_size=8)
    np.testing.assert_array_equal(resumed.get_variable_value("linear.weight"),
                                  straight.get_variable_value("linear.weight"))


def test_new_estimator_remembers_the_label_of_the_checkpoint(make_estimator, binary_frame):
    make_estimator().train(binary_frame, label="y", steps=2)
    est = make_estimator()
    est.train(binary_frame, steps=1)  # no label=: taken from the checkpoint
    assert est.global_step == 3 and "accuracy" in est.evaluate(binary_frame)
    est.train(binary_frame, max_steps=2)
    assert est.last_run.reason == "max_steps already reached"


def test_sync_window_bounds_the_device_buffer(make_estimator, binary_frame, monkeypatch):
    from estlab.training import loop

    monkeypatch.setattr(loop, "SYNC_WINDOW", 3)
    log = StepLog()
    make_estimator(save_checkpoints_steps=1000).train(binary_frame, label="y", steps=10, hooks=[log])
    assert [e["global_step"] for e in log.of("step_end") if e["loss"] is not None] == [3, 6, 9, 10]
