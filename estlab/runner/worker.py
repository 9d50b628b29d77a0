"""The worker process: trains the runs the pool sends it, streams their events back, obeys stop and quit.

A worker is started by :class:`~estlab.runner.pool.WorkerPool` as ``python -m estlab.runner.worker <fd>
<threads>`` (``fd``: its end of a socket pair), sets its torch threads once, imports torch and the estimators (so it is warm before the first run), then says ``ready``.
Messages (pickled over one duplex pipe):

* pool → worker: ``("run", name, RunRequest)``, ``("stop", name)``, ``("quit",)``. A listener thread reads
  them while the main thread trains, so Stop reaches ``estimator.request_stop()`` within one batch.
* worker → pool: ``("ready", pid)``, ``("events", name, [event, ...])`` (batched: at most every 100 ms, at once
  for anything but a step; of the steps without a loss only the newest of a batch is sent), ``("done", name)``.

While it trains a run, a :class:`~estlab.runner.liveness.Heartbeat` thread writes ``worker.json`` into the run's
folder every second and stops the run when a ``stop.request`` file appears there (a lab that did not start the
run, e.g. one re-opened on the experiment, stops it that way).

The pipe closing (the kernel exited) counts as ``quit``: the running run stops with a checkpoint and the worker
exits. The data files are read once per worker (``pandas.read_parquet(..., memory_map=True)``) and kept.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from estlab.runner.executor import RunRequest, failure_event
from estlab.runner.liveness import Heartbeat

#: Seconds a worker may hold step events before sending them.
SEND_EVERY = 0.1


def coalesce_steps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the step events without a loss that a later step event of the batch supersedes.

    A ``step_end`` without a loss only moves the step counter and the rate estimate, which the newest one
    does as well; steps with a loss (curve points) and every other event are kept, in order. The kernel
    then handles a few events per send instead of one per step (its CPU share stays small for fast runs).

    Examples
    --------
    >>> steps = [{"type": "step_end", "global_step": i, "loss": 0.5 if i == 2 else None} for i in range(1, 5)]
    >>> [(e["global_step"], e["loss"]) for e in coalesce_steps(steps + [{"type": "evaluate", "global_step": 4}])
    ...  if e["type"] == "step_end"]
    [(2, 0.5), (4, None)]
    """
    last_plain = max((i for i, e in enumerate(events) if e.get("type") == "step_end" and e.get("loss") is None),
                     default=-1)
    return [e for i, e in enumerate(events)
            if i == last_plain or e.get("type") != "step_end" or e.get("loss") is not None]


class _Sender:
    """Batches one run's events onto the pipe; a broken pipe (kernel gone) only stops the sending."""

    def __init__(self, conn: Connection, name: str, on_broken: Any) -> None:
        self.conn, self.name, self.on_broken = conn, name, on_broken
        self.buffer: list[dict[str, Any]] = []
        self.last = 0.0
        self.steps = 0
        self.ended = False
        self.failed = False

    def emit(self, event: dict[str, Any]) -> None:
        self.buffer.append(event)
        kind = event.get("type")
        if kind == "train_end":
            self.ended = True
            self.failed = event.get("status") == "failed"
        if kind == "step_end":
            self.steps += 1
        now = time.monotonic()
        if kind != "step_end" or self.steps == 1 or now - self.last >= SEND_EVERY:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if not self.buffer:
            return
        batch, self.buffer = coalesce_steps(self.buffer), []
        self.last = time.monotonic() if now is None else now
        try:
            self.conn.send(("events", self.name, batch))
        except (OSError, ValueError):
            self.on_broken()


class Worker:
    """The state of one worker process: its pipe, its current job, its cached data.

    Parameters
    ----------
    conn
        This worker's end of the pool's pipe.

    Examples
    --------
    >>> from multiprocessing import Pipe
    >>> ours, theirs = Pipe()
    >>> worker = Worker(ours)
    >>> worker.handle(("stop", "r1")); sorted(worker.stop_wanted)
    ['r1']
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tasks: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.job: Any = None
        self.name: str | None = None
        self.stop_wanted: set[str] = set()
        self.orphan = False
        self._frames: dict[tuple[str, str], tuple[Any, Any]] = {}

    def listen(self) -> None:
        """Read messages until ``quit`` or the pipe closes (listener thread)."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self.orphan = True
                self.handle(("quit",))
                return
            self.handle(message)
            if message[0] == "quit":
                return

    def handle(self, message: tuple[Any, ...]) -> None:
        """Act on one message from the pool."""
        kind = message[0]
        if kind == "run":
            self.tasks.put((message[1], message[2]))
        elif kind in ("stop", "quit"):
            with self.lock:
                job, name = self.job, self.name
                if kind == "stop":
                    self.stop_wanted.add(message[1])
            if job is not None and (kind == "quit" or name == message[1]):
                job.request_stop()
            if kind == "quit":
                self.tasks.put(None)

    def frames(self, request: RunRequest) -> tuple[Any, Any]:
        """The train and eval frames of ``request`` (read once, memory-mapped, then kept)."""
        import pandas as pd

        key = (request.train_path, request.eval_path)
        if key not in self._frames:
            self._frames = {key: (pd.read_parquet(key[0], memory_map=True), pd.read_parquet(key[1], memory_map=True))}
        return self._frames[key]

    def run(self, name: str, request: RunRequest) -> None:
        """Train one run, sending its events; always ends with ``("done", name)``."""
        from estlab.runner.job import EstimatorJob

        sender = _Sender(self.conn, name, self._broken)
        job = None
        heartbeat = None
        try:
            train_df, eval_df = self.frames(request)
            job = EstimatorJob(request.spec, request.model_dir, train_df, eval_df)
            with self.lock:
                self.job, self.name = job, name
                stop_first = name in self.stop_wanted or self.orphan
            if stop_first:
                job.request_stop()
            if request.model_dir:  # so a lab that did not start this run sees it live, and can stop it
                heartbeat = Heartbeat(request.model_dir, name, on_stop=job.request_stop)
                heartbeat.start()
            job.run(sender.emit)
        except Exception as exc:  # the run fails, the worker lives on
            if sender.failed:
                pass  # the training session already reported this failure (its train_end carries the error)
            else:
                sender.emit(failure_event(exc, sender.ended, repr(name)))
        finally:
            if heartbeat is not None:
                heartbeat.close()
            sender.flush()
            with self.lock:
                self.job, self.name = None, None
                self.stop_wanted.discard(name)
            if job is not None:
                job.release()  # the model leaves memory with its run; the data stays for the next one
            self._send(("done", name))

    def _broken(self) -> None:
        self.handle(("quit",))
        self.orphan = True

    def _send(self, message: tuple[Any, ...]) -> None:
        if self.orphan:
            return
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            self._broken()


def set_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op threads and one inter-op thread (before any work, so it holds).

    Examples
    --------
    >>> set_threads(1)  # doctest: +SKIP
    """
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def warm_up() -> None:
    """Import every premade estimator and train a two-step model once, so a first run starts at once.

    The estimator path imports a great deal on first use (premade modules, metrics, TensorBoard, sklearn):
    about 5 s that would otherwise fall between Train and the first curve point.

    Examples
    --------
    >>> warm_up()  # doctest: +SKIP
    """
    import shutil
    import tempfile

    import pandas as pd

    from estlab.estimators import registry
    from estlab.features import numeric_column
    from estlab.runner.job import EstimatorJob
    from estlab.runner.spec import RunSpec

    for info in registry.list_premade():
        try:
            info.cls  # noqa: B018  (imports the class's module)
        except Exception:  # an optional backend (lightgbm) may be missing: its runs will say so
            pass
    directory = tempfile.mkdtemp(prefix="estlab-warm-")
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]})
    spec = RunSpec.create("linear_classifier", feature_columns=[numeric_column("x")], label="y", max_steps=2,
                          eval_every=2, batch_size=2)
    try:
        job = EstimatorJob(spec, directory, frame, frame)
        job.run(lambda event: None)
        job.release()
    except Exception:  # warming is an optimisation only
        pass
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(conn: Connection, threads: int) -> None:
    """The worker process's entry point (``python -m estlab.runner.worker <fd> <threads>``).

    Examples
    --------
    >>> main  # doctest: +SKIP
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in a terminal is for the kernel; it stops us
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    worker = Worker(conn)
    listener = threading.Thread(target=worker.listen, name="estlab-worker-listen", daemon=True)
    listener.start()
    set_threads(threads)
    warm_up()
    worker._send(("ready", os.getpid()))
    while True:
        task = worker.tasks.get()
        if task is None:
            break
        worker.run(*task)
    try:
        conn.close()
    except OSError:
        pass
    os._exit(0)  # every file of the run is complete; skip tearing down torch's modules (it takes ~0.5 s)


if __name__ == "__main__":
    import sys

    main(Connection(int(sys.argv[1])), int(sys.argv[2]))
