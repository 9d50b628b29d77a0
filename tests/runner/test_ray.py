"""The Ray path: a real local Ray instance runs a small sweep with the same run records and event stream."""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from estlab.runner import Experiment, trials_of
from estlab.runner.executor import make_executor
from estlab.widgets.runs import RunManager

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def poll(condition, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def local_ray():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    os.environ.setdefault("RAY_worker_niceness", "0")  # as RayExecutor does for a local instance
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    poll(lambda: not [p for p in psutil.Process().children(recursive=True)
                      if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
         timeout=60, what="Ray's processes gone")


@pytest.fixture
def experiment(small_adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    return Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket")


def test_a_sweep_runs_on_a_local_ray_instance_with_the_same_records_and_events(local_ray, experiment, spec_of):
    before_threads = {t.ident for t in threading.enumerate()}
    executor = make_executor("ray")
    assert executor.capacity == 2  # the instance's 2 CPUs, one per run
    manager = RunManager(executor=executor, experiment=experiment)
    try:
        names = [manager.launch(spec_of(max_steps=30, **params)).name
                 for params in trials_of({"learning_rate": [0.05, 0.1, 0.2]})]
        for name in names:
            manager.wait(name, timeout=900)
    finally:
        manager.close(timeout=5)
    records = {r.name: r for r in Experiment.open(experiment.path).records()}
    assert sorted(records) == sorted(names)
    for name in names:
        record = records[name]
        assert record.status == "finished" and record.global_step == 30 and record.error is None
        assert 0.0 <= record.metrics["accuracy"] <= 1.0
        assert record.worker != os.getpid()  # trained in a Ray actor's process
        assert record.predictions_path == os.path.join(experiment.run_dir(name), "eval_predictions.npz")
        assert os.path.exists(record.predictions_path), sorted(os.listdir(experiment.run_dir(name)))
        kinds = [e["type"] for e in experiment.events(name)]
        assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
        assert {"step_end", "evaluate", "checkpoint"} <= set(kinds)
        history = experiment.history(name)
        assert history.latest_metrics()["accuracy"] == record.metrics["accuracy"]
    assert experiment.leaderboard()["status"].tolist() == ["finished"] * 3
    assert not [t for t in threading.enumerate() if t.ident not in before_threads and t.is_alive()]


def test_stop_on_ray_ends_the_run_with_a_checkpoint(local_ray, experiment, spec_of):
    manager = RunManager(executor=make_executor("ray", shutdown=False), experiment=experiment)
    try:
        run = manager.launch(spec_of(max_steps=10_000_000))
        poll(lambda: run.global_step >= 5, what="5 steps on Ray")
        stopped_at = time.monotonic()
        manager.stop(run.name)
        manager.wait(run.name, timeout=600)
        assert time.monotonic() - stopped_at < 30
        assert run.status == "stopped" and run.checkpoint and os.path.exists(run.checkpoint)
    finally:
        manager.close(timeout=5)
    assert experiment.record(run.name).status == "stopped"
