"""After a kernel dies: its runs read "interrupted", resume from their last checkpoint, and live runs reattach."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from estlab import feature_column as fc
from estlab.runner import Experiment, RunSpec, ThreadExecutor, WorkerPool
from estlab.runner.liveness import HEARTBEAT_FILE
from estlab.widgets.runs import RunManager

pytestmark = pytest.mark.slow

STEPS = 3000
EVERY = 100

KERNEL = textwrap.dedent("""
    import sys, time
    from estlab import feature_column as fc
    from estlab.datasets import load_adult
    from estlab.runner import Experiment, RunSpec, WorkerPool
    from estlab.widgets.runs import RunManager

    train, test = load_adult()
    columns = ["age", "hours_per_week", "income_bracket"]
    train, test = train[columns].sample(400, random_state=0), test[columns].sample(200, random_state=0)
    manager = RunManager(executor=WorkerPool(size=2), experiment=Experiment.create(sys.argv[1], train, test,
                                                                                     label="income_bracket"))
    for rate in (0.1, 0.2):
        manager.launch(RunSpec.create("linear_classifier", {{"learning_rate": rate}},
                                      feature_columns=[fc.numeric_column("age")], label="income_bracket",
                                      max_steps={steps}, eval_every={every}, batch_size=32))
    print("launched", flush=True)
    time.sleep(3600)
""").format(steps=STEPS, every=EVERY)


def poll(condition, timeout=180.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)


def checkpointed(experiment, name, step):
    return any(e["type"] == "checkpoint" and e["global_step"] >= step for e in experiment.events(name))


def spec(max_steps, **params):
    return RunSpec.create(
        "linear_classifier",
        params,
        feature_columns=[fc.numeric_column("age")],
        label="income_bracket",
        max_steps=max_steps,
        eval_every=EVERY,
        batch_size=32,
    )


@pytest.fixture(autouse=True)
def _no_step_cap(monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)


def test_runs_of_a_killed_kernel_read_interrupted_and_resume_from_their_last_checkpoint(
    small_adult, tmp_path
):
    train, test = small_adult
    path = str(tmp_path / "exp")
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    log = tmp_path / "kernel.log"
    with open(log, "w") as stderr:
        kernel = subprocess.Popen(
            [sys.executable, str(script), path], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
        )
    try:
        assert kernel.stdout.readline().strip() == "launched", log.read_text()
        poll(lambda: os.path.exists(os.path.join(path, "linear_classifier-2", "run.json")), what="records")
        watcher = Experiment.open(path)
        names = ["linear_classifier-1", "linear_classifier-2"]
        poll(lambda: all(checkpointed(watcher, n, EVERY) for n in names), what="a checkpoint in both runs")
        workers = psutil.Process(kernel.pid).children(recursive=True)
        assert len(workers) == 2
        assert {r.status for r in watcher.records()} == {"running"}
        # what a kernel restart does: SIGKILL to the kernel and its workers, mid-run
        for process in [psutil.Process(kernel.pid), *workers]:
            process.send_signal(signal.SIGKILL)
        kernel.wait(30)
        psutil.wait_procs(workers, timeout=30)
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait(30)

    reopened = Experiment.open(path)  # without widgets
    records = {r.name: r for r in reopened.records()}
    assert [records[n].status for n in names] == ["interrupted", "interrupted"]
    assert "resume it to continue from its last checkpoint" in records[names[0]].reason
    stopped_at = {n: records[n].global_step for n in names}
    assert all(EVERY <= s < STEPS for s in stopped_at.values())
    # the newest checkpoint on disk (the worker may have written one the dead kernel never logged)
    checkpoint = {
        n: max(
            int(m.group(1))
            for f in os.listdir(reopened.run_dir(n))
            if (m := re.fullmatch(r"model\.ckpt-(\d+)\.pt", f))
        )
        for n in names
    }
    assert all(checkpoint[n] >= EVERY for n in names)

    # a lab on other data refuses to resume: the fingerprint decides
    other = RunManager(
        executor=ThreadExecutor(lambda s, n: None),
        experiment=Experiment.create(path, train.assign(age=train["age"] + 1), test, label="income_bracket"),
    )
    try:
        assert other.runs[names[0]].status == "interrupted"
        with pytest.raises(
            ValueError,
            match=r"data: run 'linear_classifier-1' trained on data '[0-9a-f]{16}' but "
            r"this experiment's data is now '[0-9a-f]{16}'",
        ):
            other.resume(names[0])
    finally:
        other.close()

    lab = RunManager(
        executor=WorkerPool(size=1), experiment=Experiment.create(path, train, test, label="income_bracket")
    )
    try:
        state = lab.runs[names[0]]
        assert state.status == "interrupted" and state.curves[("train", "loss")].count > 0
        assert lab.resume(names[0]) is state and state.status == "queued"
        lab.wait(names[0], timeout=300)
        assert state.status == "finished" and state.global_step == STEPS, state.error
        assert state.start_step == checkpoint[names[0]]  # continued from its last checkpoint, not from 0
        with pytest.raises(
            ValueError,
            match="name: run 'linear_classifier-1' finished at step 3,000; there is nothing to resume",
        ):
            lab.resume(names[0])
    finally:
        lab.close()
    begins = [e for e in Experiment.open(path).events(names[0]) if e["type"] == "train_begin"]
    assert [b["start_step"] for b in begins] == [0, checkpoint[names[0]]]

    # the same without a lab: Experiment.resume trains in a worker process and writes the record
    record = Experiment.create(path, train, test, label="income_bracket").resume(names[1], timeout=300)
    assert (
        record.status == "finished" and record.global_step == STEPS and 0 <= record.metrics["accuracy"] <= 1
    )
    assert Experiment.open(path).record(names[1]).status == "finished"


def test_a_second_lab_reattaches_to_a_live_run_and_stops_it(small_adult, tmp_path):
    path = str(tmp_path / "exp")
    owner = RunManager(
        executor=WorkerPool(size=1), experiment=Experiment.create(path, *small_adult, label="income_bracket")
    )
    follower = None
    try:
        state = owner.launch(spec(10_000_000))
        poll(
            lambda: state.global_step >= 5 and os.path.exists(os.path.join(state.model_dir, HEARTBEAT_FILE)),
            what="the run training",
        )
        follower = RunManager(
            executor=ThreadExecutor(lambda s, n: None),
            experiment=Experiment.create(path, *small_adult, label="income_bracket"),
        )
        seen = follower.runs[state.name]
        assert seen.status == "running" and not follower.is_active(state.name)
        first = seen.global_step
        poll(lambda: seen.global_step > first + 20, what="the reattached run's steps to advance")
        follower.stop(state.name)  # reaches the worker through the run folder, not through its owner
        poll(lambda: seen.status == "stopped", what="the reattached run to read stopped")
        owner.wait(state.name, timeout=60)
        assert state.status == "stopped" and state.checkpoint and os.path.exists(state.checkpoint)
        assert seen.global_step == state.global_step
        assert Experiment.open(path).record(state.name).status == "stopped"
    finally:
        owner.close()
        if follower is not None:
            follower.close()
