"""``Follower``: reattach to runs that another lab or a surviving worker trains, by reading their files (torch-free).

A lab re-opened on an experiment (a second ``Lab`` on the same folder, another kernel) finds runs whose record
says they train and whose worker or lab is alive (:meth:`Experiment.is_live
<estlab.runner.experiment.Experiment.is_live>`). It did not start them, so no pipe brings their events: the
follower reads what their owner appends to ``events.jsonl`` and ``run.json``, at most every ``every`` seconds,
and hands the new events to the lab. When the run's record says it ended, the follower lets go; when its worker
and owner are gone first, the run is marked ``interrupted``. Stop reaches it through
:func:`~estlab.runner.liveness.request_stop`.

Examples
--------
>>> import tempfile, pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
>>> follower = Follower(Experiment.create(tempfile.mkdtemp(), frame, frame, label="y"))
>>> follower.names, follower.poll(lambda name, event: None, force=True)
([], set())
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from estlab.runner.experiment import ACTIVE, EVENTS_FILE, Experiment
from estlab.runner.liveness import request_stop

Apply = Callable[[str, dict[str, Any]], None]


class Follower:
    """Follow runs of ``experiment`` from their files; ``poll(apply)`` gives their new events to ``apply``.

    Parameters
    ----------
    experiment
        The experiment the runs live in.
    every
        Seconds between reads (``poll`` returns at once in between).
    """

    def __init__(self, experiment: Experiment, every: float = 0.5) -> None:
        self.experiment, self.every = experiment, every
        self._offsets: dict[str, int] = {}
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """The runs followed now."""
        with self._lock:
            return list(self._offsets)

    def follows(self, name: str) -> bool:
        """True while run ``name`` is followed."""
        with self._lock:
            return name in self._offsets

    def add(self, name: str) -> None:
        """Follow run ``name`` from the current end of its event log (what is before was read already)."""
        path = os.path.join(self.experiment.run_dir(name), EVENTS_FILE)
        with self._lock:
            self._offsets[name] = os.path.getsize(path) if os.path.exists(path) else 0

    def stop(self, name: str) -> bool:
        """Ask the worker of followed run ``name`` to stop it; False when the run is not followed."""
        if not self.follows(name):
            return False
        request_stop(self.experiment.run_dir(name))
        return True

    def poll(self, apply: Apply, force: bool = False) -> set[str]:
        """Hand every followed run's new events to ``apply(name, event)``; returns the names that changed."""
        now = time.monotonic()
        if not force and now < self._next:
            return set()
        self._next = now + self.every
        changed = set()
        for name in self.names:
            events = self._read(name)
            record = self.experiment.record(name)
            if record.status in ACTIVE and not self.experiment.is_live(record):
                self.experiment.interrupt(record)
                events.append(
                    {
                        "type": "train_end",
                        "global_step": record.global_step,
                        "time": time.time(),
                        "status": "interrupted",
                        "reason": record.reason,
                        "error": None,
                    }
                )
            if record.status not in ACTIVE:
                if not any(e.get("type") == "train_end" for e in events):
                    events.append(
                        {
                            "type": "train_end",
                            "global_step": record.global_step,
                            "time": record.end_time or time.time(),
                            "status": record.status,
                            "reason": record.reason,
                            "error": record.error,
                        }
                    )
                if record.predictions_path:
                    events.append(
                        {"type": "predictions", "time": time.time(), "path": record.predictions_path}
                    )
                with self._lock:
                    self._offsets.pop(name, None)
            for event in events:
                apply(name, event)
            if events:
                changed.add(name)
        return changed

    def _read(self, name: str) -> list[dict[str, Any]]:
        """Complete new lines of the run's event log (a line still being written waits for the next poll)."""
        path = os.path.join(self.experiment.run_dir(name), EVENTS_FILE)
        with self._lock:
            offset = self._offsets.get(name, 0)
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        with self._lock:
            if name in self._offsets:
                self._offsets[name] = offset + end
        return events
