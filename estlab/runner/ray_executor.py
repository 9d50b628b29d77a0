"""``RayExecutor``: the same run requests, records and event stream, executed on a Ray cluster (optional extra).

Install with ``pip install estlab[ray]``. Each run is one Ray actor (``num_cpus=threads_per_worker``, or one GPU
with ``gpus_per_run=1``) that trains an :class:`~estlab.runner.job.EstimatorJob` and buffers its plain events;
one ``estlab-ray`` thread in the kernel drains every actor's buffer about 20 times a second and forwards the
events to the run's ``emit`` (so the lab's records, ``events.jsonl`` and curves are the same as with the
:class:`~estlab.runner.pool.WorkerPool`). Stop calls the actor's ``stop`` (a final checkpoint, as in a worker);
an actor that dies (node lost, SIGKILL, out of memory) fails its run with Ray's reason.

Data reaches the cluster once per experiment: the driver reads the experiment's parquet files and ``ray.put``\\ s
the frames; every actor receives them from the object store. The eval-set predictions file comes back with the
run's result and is written into the run's folder on the driver when the actor ran on another machine.
Checkpoints and TensorBoard files are written under the run's ``model_dir`` *on the node that trained it*: put
the experiment on a filesystem every node mounts at the same path to keep them (see ``docs/scaling.md``).

Ray is imported only when a ``RayExecutor`` is created (the runner imports without it).

Examples
--------
>>> RayExecutor  # doctest: +SKIP
>>> executor = RayExecutor(address="ray://head:10001", threads_per_worker=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from estlab.runner.executor import Done, Emit, RunRequest, failure_event

#: Ray nices its workers (15) by default, so on a busy machine a local run barely trains; a local instance
#: started here runs them at normal priority (set ``RAY_worker_niceness`` yourself to choose otherwise).
LOCAL_WORKER_NICENESS = ("RAY_worker_niceness", "0")

#: Seconds between two drains of the actors' event buffers.
POLL_EVERY = 0.05


def import_ray() -> Any:
    """``import ray``, or an ImportError that names the extra to install."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("executor='ray' needs Ray: pip install 'estlab[ray]' (or pip install ray)") from exc
    return ray


class RunActor:
    """The Ray actor that trains one run (threaded: ``drain`` and ``stop`` are served while ``run`` trains).

    Examples
    --------
    >>> actor = RunActor(threads=0)
    >>> actor.stop(); actor.drain()
    []
    """

    def __init__(self, threads: int = 1) -> None:
        if threads > 0:
            from estlab.runner.worker import set_threads

            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
            set_threads(threads)
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._job: Any = None
        self._stop = False
        self._ended = False
        self._predictions: str | None = None

    def _emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            if event.get("type") == "train_end":
                self._ended = True
            if event.get("type") == "predictions":
                self._predictions = str(event.get("path"))
            if event.get("type") == "step_end" and event.get("loss") is None:
                return  # draws nothing; the lab's log leaves it out too
            self._events.append(event)

    def run(self, request: RunRequest, train_df: Any, eval_df: Any) -> dict[str, Any]:
        """Train ``request`` on the frames; returns ``{"predictions": (path, bytes) or None}`` when it ends."""
        from estlab.runner.job import EstimatorJob

        self._emit({"type": "starting", "time": time.time(), "worker": os.getpid(), "node": socket.gethostname()})
        job = None
        try:
            job = EstimatorJob(request.spec, request.model_dir, train_df, eval_df)
            with self._lock:
                self._job, stop_first = job, self._stop
            if stop_first:
                job.request_stop()
            job.run(self._emit)
        except Exception as exc:  # the run fails, reported through the stream
            self._emit(failure_event(exc, self._ended, request.model_dir))
        finally:
            with self._lock:
                self._job = None
            if job is not None:
                job.release()
        return {"predictions": _read_file(self._predictions)}

    def drain(self) -> list[dict[str, Any]]:
        """The events buffered since the last drain."""
        with self._lock:
            out, self._events = self._events, []
        return out

    def stop(self) -> None:
        """Stop after the current step (before the job exists: at its start)."""
        with self._lock:
            self._stop = True
            job = self._job
        if job is not None:
            job.request_stop()


def _read_file(path: str | None) -> tuple[str, bytes] | None:
    if path is None or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return path, handle.read()


@dataclass
class _RayRun:
    name: str
    actor: Any
    result: Any
    emit: Emit
    done: Done
    ended: bool = False
    stopping: bool = False


class RayExecutor:
    """Run each request in a Ray actor; the :class:`~estlab.runner.executor.Executor` contract, on a cluster.

    Parameters
    ----------
    address
        Where the cluster is: ``None`` (an already initialised Ray, else ``RAY_ADDRESS``, else a new local
        instance), ``"auto"`` (the cluster this machine belongs to), ``"ray://<head>:10001"`` (Ray Client).
    capacity
        Runs at once (default: the cluster's CPUs // ``threads_per_worker``, or its GPUs // ``gpus_per_run``).
        Ray queues actors beyond what fits; the lab's queue holds the rest.
    threads_per_worker
        CPUs each run's actor reserves (and torch threads it uses).
    gpus_per_run
        GPUs each run reserves (fractions share a GPU: ``0.5`` trains two runs on one).
    init_kwargs
        Extra ``ray.init`` arguments when this executor starts Ray (``runtime_env``, ``num_cpus``, ...).
    shutdown
        Shut Ray down in :meth:`close` (default: only when this executor started it).
    runtime_env
        The actors' Ray runtime environment (default: ``PYTHONPATH`` led by this kernel's estlab, so a local
        instance trains with the same code; on a cluster pass e.g. ``{"py_modules": [estlab]}`` or install
        estlab on every node).
    """

    def __init__(self, address: str | None = None, capacity: int | None = None, threads_per_worker: int = 1,
                 gpus_per_run: float = 0, init_kwargs: dict[str, Any] | None = None,
                 shutdown: bool | None = None, runtime_env: dict[str, Any] | None = None) -> None:
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
            raise ValueError(f"workers: must be a positive int, got {capacity!r}")
        ray = self._ray = import_ray()
        started = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
            if address is None:  # a local instance: its workers train the user's runs, at normal priority
                os.environ.setdefault(LOCAL_WORKER_NICENESS[0], LOCAL_WORKER_NICENESS[1])
            ray.init(address=address, **kwargs)
            started = True
        self._shutdown = started if shutdown is None else shutdown
        self.threads_per_worker = max(1, int(threads_per_worker))
        resources = ray.cluster_resources()
        if capacity is None:
            capacity = int(resources.get("CPU", 1) // self.threads_per_worker)
            if gpus_per_run:
                capacity = int(resources.get("GPU", 0) // gpus_per_run)
        self.capacity = max(1, capacity)
        if runtime_env is None:  # actors import the estlab this kernel imported (a path missing on a node is skipped)
            package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
            runtime_env = {"env_vars": {"PYTHONPATH": path}}
        self._actor_class = ray.remote(RunActor).options(
            num_cpus=self.threads_per_worker, num_gpus=gpus_per_run, max_concurrency=4, runtime_env=runtime_env)
        self._runs: dict[str, _RayRun] = {}
        self._data: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._lock = threading.RLock()
        self._closing = False
        self._wake = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="estlab-ray", daemon=True)
        self._poller.start()

    # ---- Executor ---------------------------------------------------------------------------------
    def start(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None:
        """Create the run's actor and start training (the actor's first event is ``starting``)."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the Ray executor is closed")
        train_ref, eval_ref = self._frames(request)
        actor = self._actor_class.remote(self.threads_per_worker)
        result = actor.run.remote(request, train_ref, eval_ref)
        with self._lock:
            self._runs[name] = _RayRun(name, actor, result, emit, done)
        self._wake.set()

    def stop(self, name: str) -> None:
        """Ask run ``name`` to stop after its current step (it writes a final checkpoint)."""
        with self._lock:
            run = self._runs.get(name)
        if run is not None:
            run.stopping = True
            run.actor.stop.remote()

    def release(self, name: str) -> None:
        """Nothing to free: the actor ends with its run."""

    def close(self, timeout: float = 1.0) -> None:
        """Stop every run, wait up to ``timeout`` for them to end, then kill what is left (and Ray if we started it)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closing:
                return
            self._closing = True
            runs = list(self._runs.values())
        for run in runs:
            run.actor.stop.remote()
        self._wake.set()
        self._poller.join(max(deadline - time.monotonic() - 0.1 * timeout, 0.05))
        with self._lock:
            left, self._runs = list(self._runs.values()), {}
        for run in left:  # still training at the deadline: end its actor, the run is stopped
            self._ray.kill(run.actor, no_restart=True)
            if not run.ended:
                run.emit({"type": "train_end", "status": "stopped", "time": time.time(),
                          "reason": "the lab was closed", "error": None})
            run.done(run.name)
        self._data.clear()
        if self._shutdown:
            self._ray.shutdown()

    # ---- internals ----------------------------------------------------------------------------------
    def _frames(self, request: RunRequest) -> tuple[Any, Any]:
        key = (request.train_path, request.eval_path)
        with self._lock:
            if key not in self._data:  # once per experiment dataset: the object store serves every actor
                import pandas as pd

                frames = [pd.read_parquet(path) for path in key]
                self._data[key] = (self._ray.put(frames[0]), self._ray.put(frames[1]))
            return self._data[key]

    def _poll_loop(self) -> None:
        ray = self._ray
        while True:
            self._wake.wait(POLL_EVERY)
            self._wake.clear()
            with self._lock:
                runs = list(self._runs.values())
                closing = self._closing
            if closing and not runs:
                return
            if not runs:
                continue
            finished, _ = ray.wait([r.result for r in runs], num_returns=len(runs), timeout=0)
            finished_ids = set(finished)
            drains = [(run, run.actor.drain.remote()) for run in runs]
            for run, ref in drains:
                try:
                    events = ray.get(ref, timeout=30)
                except Exception:  # the actor is gone; its result says why
                    events = []
                self._forward(run, events)
            for run in runs:
                if run.result in finished_ids:
                    self._finish(run)

    def _forward(self, run: _RayRun, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event.get("type") == "train_end":
                run.ended = True
            run.emit(event)

    def _finish(self, run: _RayRun) -> None:
        ray = self._ray
        try:
            outcome = ray.get(run.result)
            self._forward(run, ray.get(run.actor.drain.remote(), timeout=30))
            predictions = outcome.get("predictions")
            if predictions is not None and not os.path.exists(predictions[0]):  # trained on another node
                os.makedirs(os.path.dirname(predictions[0]), exist_ok=True)
                with open(predictions[0], "wb") as handle:
                    handle.write(predictions[1])
        except Exception as exc:  # the actor died (killed, node lost, out of memory)
            if not run.ended:
                run.ended = True
                if self._closing or run.stopping:
                    run.emit({"type": "train_end", "status": "stopped", "time": time.time(),
                              "reason": "the lab was closed" if self._closing else "stopped", "error": None})
                else:
                    run.emit({"type": "train_end", "status": "failed", "time": time.time(),
                              "reason": "worker died", "error": f"the Ray actor died: {type(exc).__name__}: {exc}"})
        with self._lock:
            self._runs.pop(run.name, None)
        ray.kill(run.actor, no_restart=True)
        run.done(run.name)
