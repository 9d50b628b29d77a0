"""Runs in real worker processes: parallel, Stop, SIGKILL fails only its run, close() leaves nothing behind."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from estlab.runner import Experiment, WorkerPool
from estlab.widgets.runs import RunManager

pytestmark = pytest.mark.slow


def poll(condition, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def experiment(small_adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    return Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket")


def test_sigkilled_worker_fails_its_run_and_the_next_run_proceeds(experiment, spec_of):
    pool = WorkerPool(size=1)
    manager = RunManager(executor=pool, experiment=experiment)
    try:
        doomed = manager.launch(spec_of(max_steps=10_000_000))
        poll(lambda: doomed.global_step >= 5, what="5 steps")
        victim = doomed.worker
        assert victim in pool.pids and victim != os.getpid()
        os.kill(victim, signal.SIGKILL)
        manager.wait(doomed.name, timeout=60)
        assert doomed.status == "failed"
        assert doomed.error == f"the worker process (pid {victim}) died: killed by SIGKILL"
        assert experiment.record(doomed.name).status == "failed"
        after = manager.launch(spec_of(max_steps=20))
        manager.wait(after.name, timeout=120)
        assert after.status == "finished" and after.global_step == 20
        assert after.worker != victim and not psutil.pid_exists(victim)
    finally:
        manager.close()


def test_parallel_runs_stop_and_close_leave_no_process_or_thread(experiment, spec_of):
    before_threads = {t.ident for t in threading.enumerate()}
    pool = WorkerPool(size=2)
    workers = list(pool.pids)
    manager = RunManager(executor=pool, experiment=experiment)
    a = manager.launch(spec_of(max_steps=10_000_000, learning_rate=0.1))
    b = manager.launch(spec_of(max_steps=10_000_000, learning_rate=0.2))
    poll(lambda: a.global_step >= 5 and b.global_step >= 5, what="both runs training")
    assert a.status == b.status == "running" and a.worker != b.worker  # two at once, in two processes
    manager.stop(a.name)
    manager.wait(a.name, timeout=60)
    assert a.status == "stopped" and a.checkpoint and os.path.exists(a.checkpoint)
    assert b.status == "running"
    manager.close()
    assert not [pid for pid in workers if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not psutil.Process().children(recursive=True)
    assert not [t for t in threading.enumerate() if t.ident not in before_threads and t.is_alive()]
    record = experiment.record(b.name)
    assert record.status == "stopped" and record.global_step > 5
