"""Widget test helpers: a scripted job that emits the training events of events.py (no torch)."""

from __future__ import annotations

import threading
import time

import pytest


class FakeJob:
    """Emits ``steps`` steps (loss 1/step), an evaluation every ``eval_every`` steps, honours stop."""

    def __init__(self, steps: int = 20, delay: float = 0.0, fail_at: int | None = None, eval_every: int = 5,
                 device: str = "cpu", name: str = "fake") -> None:
        self.steps, self.delay, self.fail_at, self.eval_every = steps, delay, fail_at, eval_every
        self.device, self.name = device, name
        self.stop_event = threading.Event()
        self.released = False
        self.started = threading.Event()

    def _event(self, kind: str, step: int, **payload):
        return {"type": kind, "run": self.name, "global_step": step, "time": time.time(), **payload}

    def run(self, emit) -> None:
        emit(self._event("train_begin", 0, start_step=0, target_step=self.steps, device=self.device,
                         estimator="FakeEstimator", params={}))
        self.started.set()
        for step in range(1, self.steps + 1):
            if self.stop_event.is_set():
                emit(self._event("checkpoint", step - 1, path=f"/tmp/ckpt-{step - 1}"))
                emit(self._event("train_end", step - 1, status="stopped", reason="stop requested", error=None,
                                 final_loss=1.0 / max(step - 1, 1)))
                return
            if step == self.fail_at:
                raise ValueError(f"boom at step {step}")
            emit(self._event("step_end", step, loss=1.0 / step, learning_rate=0.1, examples_per_sec=1000.0,
                             epoch=0, examples_seen=step * 32))
            if step % self.eval_every == 0:
                emit(self._event("evaluate", step, name=None,
                                 metrics={"loss": 2.0 / step, "accuracy": step / (step + 1)}))
            if self.delay:
                time.sleep(self.delay)
        emit(self._event("train_end", self.steps, status="finished", reason="max_steps", error=None,
                         final_loss=1.0 / self.steps))

    def request_stop(self) -> None:
        self.stop_event.set()

    def release(self) -> None:
        self.released = True


@pytest.fixture
def fake_job():
    """The FakeJob class."""
    return FakeJob


@pytest.fixture
def manager_for():
    """Build a RunManager whose jobs come from ``jobs`` (a list consumed in order); closed after the test."""
    from estlab.widgets.runs import RunManager

    made = []

    def build(*jobs, max_rate: float = 5.0):
        pending = list(jobs)
        manager = RunManager(job_factory=lambda spec, name: pending.pop(0), max_rate=max_rate)
        made.append(manager)
        return manager

    yield build
    for manager in made:
        manager.close()
