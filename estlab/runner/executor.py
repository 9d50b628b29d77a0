"""What executes runs: the ``Executor`` protocol, a run request, and the in-process ``ThreadExecutor``.

An executor starts a run when asked (the caller keeps the queue and asks only while ``capacity`` allows),
reports through ``emit`` (the training session's plain events, ``{"type": "starting", ...}`` when a worker
picks the run up, ``{"type": "predictions", "path": ...}``) and calls ``done(name)`` exactly once when the run
is over, whatever happened. :class:`~estlab.runner.pool.WorkerPool` runs each request in a warm worker
process; :class:`ThreadExecutor` runs in-process jobs in threads (scripted jobs in tests, or no processes).

Examples
--------
>>> request = RunRequest(RunSpec.create("linear_classifier"), model_dir="/tmp/r")
>>> request.spec.estimator
'linear_classifier'
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from estlab.runner.spec import RunSpec

Emit = Callable[[dict[str, Any]], None]
Done = Callable[[str], None]


@dataclass(frozen=True)
class RunRequest:
    """What a worker needs to train one run: its spec, its model_dir and where the data is.

    Parameters
    ----------
    spec
        The run's configuration.
    model_dir
        The run's folder in the experiment.
    train_path, eval_path
        Parquet files of the experiment's data (read once per worker and kept).

    Examples
    --------
    >>> RunRequest(RunSpec.create("dnn_classifier"), "/tmp/x", "t.parquet", "e.parquet").train_path
    't.parquet'
    """

    spec: RunSpec
    model_dir: str = ""
    train_path: str = ""
    eval_path: str = ""


class Job(Protocol):
    """One training run executed in-process (see :class:`ThreadExecutor`).

    ``run(emit)`` blocks until training ends and reports through ``emit``; ``request_stop()`` may be called
    from any thread, also before ``run`` (the run then stops before its first step); ``release()`` frees the
    model.
    """

    def run(self, emit: Emit) -> None: ...

    def request_stop(self) -> None: ...

    def release(self) -> None: ...


class Executor(Protocol):
    """Starts, stops and releases runs; see the module docstring for the contract."""

    capacity: int

    def start(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None: ...

    def stop(self, name: str) -> None: ...

    def release(self, name: str) -> None: ...

    def close(self, timeout: float = 1.0) -> None: ...


class ThreadExecutor:
    """Run in-process jobs, ``capacity`` at a time, each in its own thread.

    Parameters
    ----------
    job_factory
        ``spec, run_name -> Job``.
    capacity
        Runs at once.

    Examples
    --------
    >>> executor = ThreadExecutor(lambda spec, name: None)
    >>> executor.capacity
    1
    >>> executor.close()
    """

    def __init__(self, job_factory: Callable[[RunSpec, str], Job], capacity: int = 1) -> None:
        self.job_factory = job_factory
        self.capacity = capacity
        self.jobs: dict[str, Job] = {}
        self._stop_wanted: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None:
        """Run ``request`` in a new thread named ``estlab-run-<name>``."""
        thread = threading.Thread(target=self._run, args=(name, request, emit, done), name=f"estlab-run-{name}",
                                  daemon=True)
        with self._lock:
            self._threads[name] = thread
        thread.start()

    def _run(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None:
        ended = threading.Event()

        def forward(event: dict[str, Any]) -> None:
            if event.get("type") == "train_end":
                ended.set()
            emit(event)

        emit({"type": "starting", "time": time.time(), "worker": threading.get_ident()})
        try:
            job = self.job_factory(request.spec, name)
            with self._lock:
                self.jobs[name] = job
                stop_first = name in self._stop_wanted
            if stop_first:
                job.request_stop()
            job.run(forward)
        except Exception as exc:  # reported as the run's end, never raised in the thread
            if not ended.is_set():
                emit({"type": "train_end", "status": "failed", "time": time.time(), "reason": "error",
                      "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
        else:
            if not ended.is_set():
                emit({"type": "train_end", "status": "finished", "time": time.time(), "reason": "job returned",
                      "error": None})
        finally:
            with self._lock:
                self._threads.pop(name, None)
                self._stop_wanted.discard(name)
            done(name)

    def stop(self, name: str) -> None:
        """Ask run ``name`` to stop after its current step."""
        with self._lock:
            job = self.jobs.get(name)
            if job is None:
                self._stop_wanted.add(name)
        if job is not None:
            job.request_stop()

    def release(self, name: str) -> None:
        """Free the model of an ended run."""
        with self._lock:
            job = self.jobs.pop(name, None)
        if job is not None:
            job.release()

    def close(self, timeout: float = 1.0) -> None:
        """Stop every run and wait up to ``timeout`` seconds for their threads."""
        with self._lock:
            names, threads = list(self._threads), list(self._threads.values())
        for name in names:
            self.stop(name)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))


def failure_event(error: BaseException, ended: bool, run: str) -> dict[str, Any]:
    """The event a worker sends when a run's job raises ``error``.

    Before ``train_end`` (``ended`` False) the run failed: a ``train_end`` with the error and traceback. After
    it (writing the eval-set predictions) the run stands and the lab gets a warning ``notice``.

    Examples
    --------
    >>> failure_event(ValueError("bad"), ended=True, run="'dnn-1'")["text"]
    "run 'dnn-1': ValueError: bad"
    >>> failure_event(ValueError("bad"), ended=False, run="'dnn-1'")["status"]
    'failed'
    """
    message = f"{type(error).__name__}: {error}"
    if ended:
        return {"type": "notice", "level": "warning", "time": time.time(), "text": f"run {run}: {message}"}
    return {"type": "train_end", "status": "failed", "time": time.time(), "reason": "error", "error": message,
            "traceback": traceback.format_exc()}


def make_executor(executor: str = "process", workers: int | None = None, threads_per_worker: int = 1,
                  job_factory: Callable[[RunSpec, str], Job] | None = None, **options: Any) -> Executor:
    """The executor a lab asks for by name, so the lab only passes its arguments through.

    ``executor`` is ``"process"`` (:class:`~estlab.runner.pool.WorkerPool`, the default), ``"thread"``
    (:class:`ThreadExecutor` over ``job_factory``), ``"ray"`` (:class:`~estlab.runner.ray_executor.RayExecutor`:
    an initialised Ray, else ``RAY_ADDRESS``, else a local instance) or a Ray address (``"auto"``,
    ``"ray://head:10001"``). ``options`` go to the Ray executor (``gpus_per_run``, ``init_kwargs``, ``shutdown``).

    Examples
    --------
    >>> make_executor("thread", job_factory=lambda spec, name: None).capacity
    1
    >>> make_executor("gpu")
    Traceback (most recent call last):
    ...
    ValueError: executor: must be 'process', 'thread', 'ray' or a Ray address ('auto', 'ray://host:10001'), got 'gpu'
    """
    if executor == "process":
        from estlab.runner.pool import WorkerPool

        return WorkerPool(size=workers, threads_per_worker=threads_per_worker)
    if executor == "thread":
        if job_factory is None:
            raise ValueError("executor='thread' needs job_factory")
        return ThreadExecutor(job_factory, capacity=workers or 1)
    if executor in ("ray", "auto") or ":" in executor:
        from estlab.runner.ray_executor import RayExecutor

        address = None if executor == "ray" else executor
        return RayExecutor(address=address, capacity=workers, threads_per_worker=threads_per_worker, **options)
    raise ValueError("executor: must be 'process', 'thread', 'ray' or a Ray address ('auto', 'ray://host:10001'), "
                     f"got {executor!r}")
