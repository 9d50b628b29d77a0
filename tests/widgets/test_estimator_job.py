"""EstimatorJob with a real premade estimator: plain events only, the final evaluation once, one stop path."""

from __future__ import annotations

import json
import os

import pytest

from estlab import feature_column as fc
from estlab.datasets import load_adult
from estlab.training.events import EVENT_TYPES
from estlab.widgets._estimator_job import EstimatorJob
from estlab.widgets._predictions import PREDICTIONS_FILE
from estlab.widgets._state import RunSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adult():
    train, test = load_adult()
    columns = ["age", "hours_per_week", "income_bracket"]
    return train[columns].sample(400, random_state=0), test[columns].sample(200, random_state=0)


def make_job(adult, model_dir, max_steps=10, eval_every=4):
    spec = RunSpec.create("linear_classifier", feature_columns=[fc.numeric_column("age"),
                                                                fc.numeric_column("hours_per_week")],
                          label="income_bracket", max_steps=max_steps, eval_every=eval_every)
    return EstimatorJob(spec, str(model_dir), *adult, task="classification", batch_size=32)


def test_events_are_plain_and_the_final_evaluation_arrives_once(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    events = []
    job = make_job(adult, tmp_path / "run")
    job.run(events.append)
    kinds = [e["type"] for e in events]
    assert set(kinds) <= {*EVENT_TYPES, "predictions"}
    for event in events:
        assert json.loads(json.dumps(event)) == event  # plain values only: no arrays, no tensors
    assert [e["global_step"] for e in events if e["type"] == "evaluate"] == [4, 8, 10]  # periodic, then final
    # the predictions come before the run's end (and its final evaluation), so no ended run lacks them
    assert kinds.index("predictions") < kinds.index("train_end") < [i for i, k in enumerate(kinds)
                                                                     if k == "evaluate"][-1]
    path = events[kinds.index("predictions")]["path"]
    assert path == os.path.join(str(tmp_path / "run"), PREDICTIONS_FILE)
    assert os.path.isfile(path)


def test_stop_requested_before_the_estimator_exists_stops_before_the_first_step(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    events = []
    job = make_job(adult, tmp_path / "run", max_steps=200, eval_every=200)
    job.request_stop()
    assert job.estimator is None
    job.run(events.append)
    assert not [e for e in events if e["type"] == "step_end"]
    end = next(e for e in events if e["type"] == "train_end")
    assert end["status"] == "stopped" and end["global_step"] == 0
    job.release()
    assert job.estimator is None


def test_a_run_stopped_mid_way_has_its_predictions_before_its_end(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    events = []
    job = make_job(adult, tmp_path / "run", max_steps=100_000, eval_every=100_000)

    def emit(event):
        events.append(event)
        if event["type"] == "step_end" and event["global_step"] == 20:
            job.request_stop()

    job.run(emit)
    kinds = [e["type"] for e in events]
    end = events[kinds.index("train_end")]
    assert end["status"] == "stopped" and 20 <= end["global_step"] < 100_000
    assert kinds.index("predictions") < kinds.index("train_end")  # the lab never sees it stopped without them
    assert os.path.isfile(events[kinds.index("predictions")]["path"])
