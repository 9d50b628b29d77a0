"""Is a run still being trained? Process identity, the worker's heartbeat file and stop requests (torch-free).

A worker writes ``worker.json`` into the folder of the run it trains about once a second (:class:`Heartbeat`):
its pid, the process's start time and the time of the beat. A run whose record says it is active is *live*
while that worker is alive (the same pid with the same start time, so a reused pid does not count) and beat
recently, or while the lab that queued it (the record's ``owner``) is alive; otherwise its kernel or worker died
before it ended and the run is *interrupted*. A lab that did not start a live run follows it from the files
and stops it with a ``stop.request`` file that the worker's heartbeat thread reads.

Examples
--------
>>> me = this_process()
>>> process_alive(me), process_alive({"pid": me["pid"], "start": "not-its-start"})
(True, False)
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from estlab._util import pid_alive

HEARTBEAT_FILE = "worker.json"
STOP_FILE = "stop.request"
#: Seconds between beats, and the age after which a beat no longer proves the worker alive.
BEAT_EVERY = 1.0
BEAT_FRESH = 15.0


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` as the kernel counts it (``/proc/<pid>/stat``), or None when unknown.

    Examples
    --------
    >>> process_start(os.getpid()) == process_start(os.getpid())
    True
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of the line: starttime, in clock ticks


def this_process() -> dict[str, Any]:
    """``{"pid", "start", "host"}`` of the calling process (what records and heartbeats store).

    Examples
    --------
    >>> this_process()["pid"] == os.getpid()
    True
    """
    return {"pid": os.getpid(), "start": process_start(os.getpid()), "host": socket.gethostname()}


def process_alive(info: Mapping[str, Any]) -> bool:
    """Whether the process ``info`` describes (``pid``, optional ``start`` and ``host``) still runs.

    A pid reused by another process has another start time and does not count; a process on another host
    cannot be checked and counts as alive.

    Examples
    --------
    >>> process_alive({}), process_alive({"pid": os.getpid()})
    (False, True)
    """
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    host = info.get("host")
    if host and host != socket.gethostname():
        return True
    if not pid_alive(pid):
        return False
    start = info.get("start")
    if start is None:
        return True
    now = process_start(pid)
    return now is None or now == start


def read_heartbeat(run_dir: str) -> dict[str, Any] | None:
    """The run folder's ``worker.json``, or None (missing or torn)."""
    try:
        with open(os.path.join(run_dir, HEARTBEAT_FILE), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def worker_alive(run_dir: str, fresh: float = BEAT_FRESH, now: float | None = None) -> bool:
    """Whether a live worker trains the run in ``run_dir``: its heartbeat is recent and its process runs.

    Examples
    --------
    >>> worker_alive(tempfile.mkdtemp())
    False
    """
    beat = read_heartbeat(run_dir)
    if beat is None or beat.get("ended"):
        return False
    age = (time.time() if now is None else now) - float(beat.get("beat") or 0.0)
    return age <= fresh and process_alive(beat)


def request_stop(run_dir: str) -> None:
    """Ask the worker training the run in ``run_dir`` to stop it (it reads the file at its next beat).

    Examples
    --------
    >>> folder = tempfile.mkdtemp(); request_stop(folder); os.path.exists(os.path.join(folder, STOP_FILE))
    True
    """
    _write_json(os.path.join(run_dir, STOP_FILE), {"time": time.time(), **this_process()})


class Heartbeat:
    """A worker's thread that beats into the run folder and turns a ``stop.request`` file into a stop.

    Parameters
    ----------
    run_dir
        The run's folder (its model_dir).
    run
        The run's name.
    on_stop
        Called once when a stop request appears (e.g. the job's ``request_stop``).
    every
        Seconds between beats.

    Examples
    --------
    >>> folder = tempfile.mkdtemp()
    >>> with Heartbeat(folder, "r1", on_stop=lambda: None):
    ...     worker_alive(folder)
    True
    >>> worker_alive(folder)
    False
    """

    def __init__(
        self, run_dir: str, run: str, on_stop: Callable[[], None], every: float = BEAT_EVERY
    ) -> None:
        self.run_dir, self.run, self.on_stop, self.every = run_dir, run, on_stop, every
        self.stop_seen = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._info = this_process()

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Beat once now, then every ``every`` seconds in a daemon thread."""
        try:  # a stop request left from an earlier life of this run is not for this one
            os.unlink(os.path.join(self.run_dir, STOP_FILE))
        except OSError:
            pass
        self.beat()
        self._thread = threading.Thread(target=self._loop, name=f"estlab-heartbeat-{self.run}", daemon=True)
        self._thread.start()

    def beat(self, ended: bool = False) -> None:
        """Write ``worker.json`` (atomically); a full disk only skips the beat."""
        try:
            _write_json(
                os.path.join(self.run_dir, HEARTBEAT_FILE),
                {**self._info, "run": self.run, "beat": time.time(), "ended": ended},
            )
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._done.wait(self.every):
            self.beat()
            if not self.stop_seen and os.path.exists(os.path.join(self.run_dir, STOP_FILE)):
                self.stop_seen = True
                self.on_stop()

    def close(self) -> None:
        """Stop beating and mark the beat as ended (the run is over in this worker)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(2 * self.every)
        self.beat(ended=True)
        try:
            os.unlink(os.path.join(self.run_dir, STOP_FILE))
        except OSError:
            pass


def _write_json(path: str, data: Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
