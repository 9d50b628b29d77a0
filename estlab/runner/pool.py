"""``WorkerPool``: warm worker processes that train runs; the kernel side sends requests and reads events.

Kernel side (this module, torch-free): one reader thread (``estlab-pool``) waits on every worker's pipe and
process sentinel at once (``multiprocessing.connection.wait``), forwards event batches to each run's ``emit``,
hands queued requests to idle workers, and notices a worker that died (SIGKILL, segfault, out of memory): its
run ends ``failed`` with the exit reason, a fresh worker replaces it, and the next run proceeds.

Each worker is a fresh interpreter, ``python -m estlab.runner.worker``, joined to the kernel by a socket pair
wrapped in ``multiprocessing.connection.Connection`` (pickled messages). Why not ``fork`` or ``forkserver``:
the kernel is a threaded process (ZMQ, the UI thread) that ``fork`` must not copy, and ``forkserver`` leaves
its server process running after ``close()``. Why not ``multiprocessing``'s ``spawn``: it re-imports the
parent's ``__main__``, which fails in a script without an ``if __name__ == "__main__"`` guard; an explicit
``-m`` command never does. The ~2 s of imports (torch, the estimators) happen while the pool warms, before
the first Train. A worker's death closes its socket: the reader sees end-of-file at once. See
:mod:`estlab.runner.worker` for the messages.

Examples
--------
>>> default_workers(threads_per_worker=1) >= 1
True
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any

from estlab.runner.executor import Done, Emit, RunRequest


def default_workers(threads_per_worker: int = 1) -> int:
    """Workers that fit this machine: usable CPU cores divided by torch threads per worker (at least 1).

    Examples
    --------
    >>> default_workers(threads_per_worker=10_000)
    1
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, threads_per_worker))


def exit_reason(exitcode: int | None) -> str:
    """Words for a process exit code (a negative code is the signal that ended it).

    Examples
    --------
    >>> exit_reason(-9), exit_reason(3)
    ('killed by SIGKILL', 'exit code 3')
    """
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerProcess:
    """A worker started as ``python -m estlab.runner.worker`` with one end of a socket pair.

    Examples
    --------
    >>> process, conn = WorkerProcess.start(threads=1)  # doctest: +SKIP
    >>> process.terminate(); process.join(5)  # doctest: +SKIP
    """

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid

    @classmethod
    def start(cls, threads: int) -> tuple[WorkerProcess, Connection]:
        """Start a worker; returns it and the kernel's end of its connection."""
        ours, theirs = socket.socketpair()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            popen = subprocess.Popen(
                [sys.executable, "-m", "estlab.runner.worker", str(theirs.fileno()), str(threads)],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            theirs.close()
        return cls(popen), Connection(ours.detach())

    @property
    def exitcode(self) -> int | None:
        """The exit code (negative: the signal), or None while it runs."""
        return self.popen.poll()

    def is_alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the process to end (and reap it)."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def terminate(self) -> None:
        """SIGTERM."""
        if self.is_alive():
            self.popen.terminate()

    def kill(self) -> None:
        """SIGKILL."""
        if self.is_alive():
            self.popen.kill()


@dataclass
class _Slot:
    process: WorkerProcess
    conn: Connection
    ready: bool = False
    run: str | None = None
    ended: bool = False
    emit: Emit | None = None
    done: Done | None = None
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: tuple[Any, ...]) -> bool:
        with self.send_lock:
            try:
                self.conn.send(message)
                return True
            except (OSError, ValueError):
                return False


class WorkerPool:
    """``size`` warm worker processes, each training one run at a time with ``threads_per_worker`` torch threads.

    Parameters
    ----------
    size
        Worker processes (runs at once); default :func:`default_workers`.
    threads_per_worker
        Torch intra-op threads of each worker.

    Examples
    --------
    >>> pool = WorkerPool(size=1)  # doctest: +SKIP
    >>> pool.wait_ready(60)  # doctest: +SKIP
    True
    >>> pool.close()  # doctest: +SKIP
    """

    def __init__(self, size: int | None = None, threads_per_worker: int = 1) -> None:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"workers: must be a positive int, got {size!r}")
        self.capacity = size or default_workers(threads_per_worker)
        self.threads_per_worker = threads_per_worker
        self._slots: list[_Slot] = []
        self._pending: deque[tuple[str, RunRequest, Emit, Done]] = deque()
        self._lock = threading.RLock()
        self._closing = False
        self._wake_read, self._wake_write = Pipe(duplex=False)
        for _ in range(self.capacity):
            self._spawn()
        self._reader = threading.Thread(target=self._read_loop, name="estlab-pool", daemon=True)
        self._reader.start()

    # ---- public API (any thread) -------------------------------------------------------------
    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._lock:
            return [s.process.pid for s in self._slots]

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until every worker has imported torch and the estimators (True) or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._slots and all(s.ready for s in self._slots):
                    return True
            time.sleep(0.01)
        return False

    def start(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None:
        """Queue ``request``; the first idle warm worker takes it (``emit`` gets ``starting`` then)."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the worker pool is closed")
            self._pending.append((name, request, emit, done))
        self._assign()

    def stop(self, name: str) -> None:
        """Stop run ``name``: a message its worker forwards to ``estimator.request_stop()``."""
        with self._lock:
            waiting = [p for p in self._pending if p[0] == name]
            for item in waiting:
                self._pending.remove(item)
            slot = next((s for s in self._slots if s.run == name), None)
        for _, _, emit, done in waiting:  # not picked up yet: it ends here, at step 0
            emit({"type": "train_end", "status": "stopped", "global_step": 0, "time": time.time(),
                  "reason": "stopped before a worker picked it up", "error": None})
            done(name)
        if slot is not None:
            slot.send(("stop", name))

    def release(self, name: str) -> None:
        """Nothing to free: a worker drops the model when its run ends (the data stays for the next run)."""

    def close(self, timeout: float = 1.0) -> None:
        """Stop every run, end every worker (quit, then SIGTERM, then SIGKILL) and the reader thread.

        Returns within about ``timeout`` seconds; no process or thread of the pool is left.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closing:
                return
            self._closing = True
            pending, self._pending = list(self._pending), deque()
            slots = list(self._slots)
        for name, _, emit, done in pending:
            emit({"type": "train_end", "status": "stopped", "global_step": 0, "time": time.time(),
                  "reason": "the lab was closed before it started", "error": None})
            done(name)
        for slot in slots:
            slot.send(("quit",))
        grace = deadline - 0.35 * timeout
        for slot in slots:
            slot.process.join(max(grace - time.monotonic(), 0.0))
        for slot in slots:
            if slot.process.is_alive():
                slot.process.terminate()
        for slot in slots:
            slot.process.join(max(deadline - 0.15 * timeout - time.monotonic(), 0.05))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1.0)
        self._wake()
        self._reader.join(max(deadline - time.monotonic(), 0.2))
        for connection in (self._wake_read, self._wake_write):
            connection.close()

    # ---- internals -----------------------------------------------------------------------------
    def _spawn(self) -> None:
        process, conn = WorkerProcess.start(self.threads_per_worker)
        with self._lock:
            self._slots.append(_Slot(process=process, conn=conn))
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_write.send_bytes(b"w")
        except (OSError, ValueError):
            pass

    def _assign(self) -> None:
        started = []
        with self._lock:
            for slot in self._slots:
                if not self._pending:
                    break
                if slot.ready and slot.run is None:
                    name, request, emit, done = self._pending.popleft()
                    slot.run, slot.ended, slot.emit, slot.done = name, False, emit, done
                    if slot.send(("run", name, request)):
                        started.append((emit, slot.process.pid))
        for emit, pid in started:
            emit({"type": "starting", "time": time.time(), "worker": pid})

    def _read_loop(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._slots:
                    return
                by_conn = {s.conn: s for s in self._slots}
            ready = wait([self._wake_read, *by_conn], timeout=1.0)
            for item in ready:
                if item is self._wake_read:
                    try:
                        while self._wake_read.poll():
                            self._wake_read.recv_bytes()
                    except (OSError, EOFError):
                        pass
                elif item in by_conn:
                    slot = by_conn[item]
                    try:
                        message = item.recv()
                    except (EOFError, OSError):
                        self._lost(slot)
                        continue
                    self._handle(slot, message)

    def _handle(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            slot.ready = True
            self._assign()
        elif kind == "events" and slot.emit is not None and message[1] == slot.run:
            for event in message[2]:
                if event.get("type") == "train_end":
                    slot.ended = True
                slot.emit(event)
        elif kind == "done" and slot.done is not None and message[1] == slot.run:
            done, name = slot.done, str(message[1])
            with self._lock:
                slot.run, slot.emit, slot.done = None, None, None
            done(name)
            self._assign()

    def _lost(self, slot: _Slot) -> None:
        with self._lock:
            if slot not in self._slots:
                return
            self._slots.remove(slot)
        try:  # what it sent before it died still counts
            while slot.conn.poll():
                self._handle(slot, slot.conn.recv())
        except (EOFError, OSError):
            pass
        slot.process.join(1.0)
        slot.conn.close()
        name = slot.run
        if name is not None and slot.emit is not None and slot.done is not None:
            if not slot.ended:
                if self._closing:
                    end = {"status": "stopped", "reason": "the lab was closed", "error": None}
                else:
                    why = exit_reason(slot.process.exitcode)
                    end = {"status": "failed", "reason": "worker died",
                           "error": f"the worker process (pid {slot.process.pid}) died: {why}"}
                slot.emit({"type": "train_end", "time": time.time(), **end})
            slot.done(name)
        if not self._closing:
            self._spawn()
