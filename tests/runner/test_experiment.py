"""The experiment directory is the source of truth: records, event logs, re-open, fingerprints decide reuse."""

from __future__ import annotations

import json
import os
import time

import pytest

from estlab.runner import Experiment, RunSpec, ThreadExecutor, data_fingerprint
from estlab.runner.experiment import EVENTS_FILE, RECORD_FILE
from estlab.widgets.runs import DuplicateRunError, RunManager


class ScriptedJob:
    """Four steps (loss 1/step), an evaluation at step 4 with accuracy 0.75."""

    def run(self, emit):
        emit({"type": "train_begin", "global_step": 0, "time": time.time(), "target_step": 4, "device": "cpu"})
        for step in range(1, 5):
            emit({"type": "step_end", "global_step": step, "time": time.time(), "loss": 1.0 / step})
        emit({"type": "evaluate", "global_step": 4, "time": time.time(), "name": None, "metrics": {"accuracy": 0.75}})
        emit({"type": "train_end", "global_step": 4, "time": time.time(), "status": "finished", "reason": "max_steps",
              "error": None, "final_loss": 0.25})

    def request_stop(self):
        pass

    def release(self):
        pass


def manager(experiment):
    return RunManager(executor=ThreadExecutor(lambda spec, name: ScriptedJob()), experiment=experiment)


def test_runs_are_written_and_reopened_without_widgets(small_adult, spec_of, tmp_path):
    experiment = Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket")
    first = manager(experiment)
    state = first.launch(spec_of(learning_rate=0.1))
    first.wait(state.name, timeout=60)
    first.close()
    run_dir = tmp_path / "exp" / "linear_classifier-1"
    assert sorted(os.listdir(run_dir)) == [EVENTS_FILE, RECORD_FILE]
    record = json.loads((run_dir / RECORD_FILE).read_text())
    assert record["status"] == "finished" and record["global_step"] == 4 and record["metrics"] == {"accuracy": 0.75}
    assert record["spec"]["params"] == {"learning_rate": 0.1}
    assert record["data_fingerprint"] == data_fingerprint(*small_adult)
    assert record["spec"]["feature_columns"][0]["class"] == "NumericColumn"

    reopened = Experiment.open(str(tmp_path / "exp"))  # e.g. after a kernel restart: no data, no widgets
    assert [r.name for r in reopened.records()] == ["linear_classifier-1"]
    assert reopened.records()[0].spec == spec_of(learning_rate=0.1)
    assert reopened.history("linear_classifier-1").curve("train", "loss") == ([1, 2, 3, 4], [1.0, 0.5, 1 / 3, 0.25])
    board = reopened.leaderboard()
    assert board[["run", "status", "steps", "accuracy"]].values.tolist() == [["linear_classifier-1", "finished",
                                                                               4, 0.75]]

    second = manager(Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket"))
    try:  # a new manager on the same experiment shows the run with its curves, and names new runs after it
        old = second.runs["linear_classifier-1"]
        assert old.status == "finished" and old.metrics == {"accuracy": 0.75}
        assert old.curves[("train", "loss")].points() == ([1, 2, 3, 4], [1.0, 0.5, 1 / 3, 0.25])
        assert second.launch(spec_of(learning_rate=0.2)).name == "linear_classifier-2"
        second.wait(timeout=60)
    finally:
        second.close()


def test_the_fingerprint_decides_reuse(small_adult, spec_of, tmp_path):
    train, test = small_adult
    path = str(tmp_path / "exp")
    first = manager(Experiment.create(path, train, test, label="income_bracket"))
    try:
        first.wait(first.launch(spec_of(learning_rate=0.1)).name, timeout=60)
        with pytest.raises(DuplicateRunError, match="'linear_classifier-1' already trained this configuration on "
                                                    "the same data"):
            first.launch(spec_of(learning_rate=0.1))
        changed = first.launch(spec_of(learning_rate=1e-7))  # a changed configuration: a new run, new folder
        assert changed.name == "linear_classifier-2" and changed.fingerprint != first.runs["linear_classifier-1"].fingerprint
        first.wait(timeout=60)
    finally:
        first.close()
    other_data = train.assign(age=train["age"] + 1)
    second = manager(Experiment.create(path, other_data, test, label="income_bracket"))
    try:  # the same configuration on changed data never reuses the old run
        state = second.launch(spec_of(learning_rate=0.1))
        assert state.name == "linear_classifier-3"
        assert state.data_fingerprint == data_fingerprint(other_data, test) != data_fingerprint(train, test)
        second.wait(timeout=60)
    finally:
        second.close()
    records = Experiment.open(path).records()
    assert [r.name for r in records] == ["linear_classifier-1", "linear_classifier-2", "linear_classifier-3"]
    assert len({r.fingerprint for r in records}) == 3
    assert len({r.data_fingerprint for r in records}) == 2


def test_a_run_whose_owner_is_gone_is_shown_interrupted(small_adult, spec_of, tmp_path):
    experiment = Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket")
    from estlab.runner import RunRecord

    experiment.save_record(RunRecord("linear_classifier-1", spec_of(), status="running",
                                     owner={"pid": os.getpid(), "token": "gone"}))
    reopened = manager(experiment)
    try:
        assert reopened.runs["linear_classifier-1"].status == "interrupted"
        assert Experiment.open(experiment.path).record("linear_classifier-1").status == "interrupted"
    finally:
        reopened.close()


def test_spec_round_trips_through_json():
    spec = RunSpec.create("dnn_classifier", {"hidden_units": [8, 4]}, max_steps=5, task="classification")
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
