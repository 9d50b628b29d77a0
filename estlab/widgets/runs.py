"""``RunManager``: queues runs, trains them one at a time in a worker thread, and owns the UI thread.

Threads
-------
* The **worker** runs jobs in order. It never prints or touches widgets: it only puts plain
  event dicts on ``RunManager.events`` (a ``queue.Queue``).
* The **UI owner thread** drains that queue, coalesces events, applies them to the run records
  and, at most ``max_rate`` times a second, asks every attached view to render (views assign their
  traits inside ``hold_sync()``). Button handlers never touch views either: they post to the queue.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from estlab.training.metric_info import higher_is_better
from estlab.widgets._state import RUNNING, RunSpec, RunState, apply_event

Emit = Callable[[dict[str, Any]], None]
_STOP = object()
_HIDDEN_METRIC_PREFIXES = ("label/", "prediction/")
#: The leaderboard's columns before the metrics.
FIXED_COLUMNS = ("run", "estimator", "params", "features", "status", "device", "steps", "wall_time_s")


class Job(Protocol):
    """One training run, executed on the worker thread.

    ``run(emit)`` blocks until training ends and reports through ``emit``: the training session's
    plain events, plus an optional ``{"type": "predictions", "path": ...}`` naming the eval-set
    predictions file it wrote (see ``_predictions.py``); ``request_stop()`` may be called from any
    thread, also before ``run`` (the run then stops before its first step); ``release()`` frees the model.
    """

    def run(self, emit: Emit) -> None: ...

    def request_stop(self) -> None: ...

    def release(self) -> None: ...


class View(Protocol):
    """Something the UI thread re-renders: ``render(manager, dirty_run_names)``."""

    def render(self, manager: RunManager, dirty: set[str]) -> None: ...


class DuplicateRunError(RuntimeError):
    """A run with the same configuration is already queued or running."""


class RunManager:
    """Queue, run, stop and release runs; keep their records; drive the views.

    Parameters
    ----------
    job_factory
        ``spec, run_name -> Job``; the lab passes one that builds a real estimator.
    max_rate
        Most view updates per second.

    Examples
    --------
    >>> manager = RunManager(job_factory=lambda spec, name: None)
    >>> manager.leaderboard().columns[:3].tolist()
    ['run', 'estimator', 'params']
    >>> manager.close()
    """

    def __init__(self, job_factory: Callable[[RunSpec, str], Job], max_rate: float = 5.0) -> None:
        self.job_factory = job_factory
        self.max_rate = max_rate
        self.events: queue.Queue = queue.Queue()
        self.runs: dict[str, RunState] = {}
        self.views: list[View] = []
        self.notice: tuple[str, str] = ("", "info")
        self.render_count = 0
        self.render_seconds = 0.0
        self.errors: list[str] = []
        self._jobs: dict[str, Job] = {}
        self._phase: dict[str, str] = {}  # queued → started → done, or cancelled: the worker-side truth
        self._stop_wanted: set[str] = set()
        self._todo: queue.Queue = queue.Queue()
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._closed = False
        self._ui = threading.Thread(target=self._ui_loop, name="estlab-ui", daemon=True)
        self._worker = threading.Thread(target=self._work_loop, name="estlab-worker", daemon=True)
        self._ui.start()
        self._worker.start()

    # ---- kernel-thread API -----------------------------------------------------------------
    def launch(self, spec: RunSpec, name: str | None = None) -> RunState:
        """Queue ``spec``; returns its record at once (training happens in the worker).

        Raises ``DuplicateRunError`` when the same configuration is already queued or running.
        """
        if self._closed:
            raise RuntimeError("RunManager is closed; create a new lab to train again")
        with self._lock:
            for state in self.runs.values():
                phase = self._phase[state.name]
                if phase in ("queued", "started") and state.spec.key() == spec.key():
                    word = "queued" if phase == "queued" else "running"
                    raise DuplicateRunError(
                        f"run {state.name!r} with the same configuration is still {word}; "
                        f"wait for it, stop it (stop({state.name!r})) or change a parameter"
                    )
            name = name or f"{spec.estimator}-{next(self._counter)}"
            if name in self.runs:
                raise ValueError(f"name: a run called {name!r} exists already; pick another name")
            state = RunState(name=name, spec=spec)
            self.runs[name] = state
            self._phase[name] = "queued"
        self.events.put({"type": "queued", "lab_run": name})
        self._todo.put(name)
        return state

    def stop(self, name: str | None = None) -> None:
        """Stop run ``name`` (default: the current one) after its step; a queued run is cancelled."""
        name = name or self.current_name()
        if name is None:
            return
        self._get(name)
        with self._lock:
            phase = self._phase[name]
            if phase == "queued":
                self._phase[name] = "cancelled"
                self.events.put({"type": "cancelled", "lab_run": name, "time": time.time()})
            elif phase == "started":
                job = self._jobs.get(name)
                if job is None:
                    self._stop_wanted.add(name)
                else:
                    job.request_stop()

    def release(self, name: str) -> None:
        """Free the model of a run that ended (its record and metrics stay)."""
        self._get(name)
        with self._lock:
            phase = self._phase[name]
            if phase not in ("done", "cancelled"):
                word = "queued" if phase == "queued" else "running"
                raise RuntimeError(f"run {name!r} is {word}; stop it first (stop({name!r})), then release it")
            job = self._jobs.pop(name, None)
        if job is not None:
            job.release()
        self.events.put({"type": "released", "lab_run": name, "time": time.time()})
        if threading.current_thread() is not self._ui:
            self.flush()  # so the record says "released" when this returns

    def is_active(self, name: str) -> bool:
        """True while run ``name`` is queued or training."""
        self._get(name)
        return self._phase[name] in ("queued", "started")

    def notify(self, text: str, level: str = "info") -> None:
        """Show a message in the views (posted to the UI thread)."""
        self.events.put({"type": "notice", "text": text, "level": level})

    def refresh(self) -> None:
        """Ask the UI thread to re-render every view."""
        self.events.put({"type": "refresh"})

    def attach(self, view: View) -> None:
        """Render ``view`` on every UI update."""
        with self._lock:
            self.views.append(view)
        self.refresh()

    def detach(self, view: View) -> None:
        """Stop rendering ``view``."""
        with self._lock:
            if view in self.views:
                self.views.remove(view)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every event posted so far is applied and rendered (for tests and scripts)."""
        done = threading.Event()
        self.events.put({"type": "flush", "done": done})
        if not done.wait(timeout):
            raise TimeoutError(f"timeout: the UI thread did not catch up within {timeout} s")

    def wait(self, name: str | None = None, timeout: float = 300.0) -> RunState | None:
        """Block until run ``name`` (default: every run) ended and the views caught up; returns its record."""
        deadline = time.monotonic() + timeout
        names = [name] if name else list(self.runs)
        for n in names:
            self._get(n)
        while any(self._phase[n] in ("queued", "started") for n in names):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timeout: runs {names} still active after {timeout} s")
            time.sleep(0.02)
        self.flush()
        return self.runs[names[-1]] if names else None

    def current_name(self) -> str | None:
        """The starting or running run, else the most recently queued one."""
        with self._lock:
            running = [s.name for s in self.runs.values() if s.status in RUNNING]
            if running:
                return running[-1]
            return next(reversed(self.runs), None)

    def leaderboard(self, sort_by: str | None = None, ascending: bool | None = None,
                    baseline: str | None = None) -> pd.DataFrame:
        """One row per run: estimator, params, features, status, device, steps, wall time, metrics.

        With ``baseline``, adds ``Δ <metric>`` columns (run minus baseline). Sorting defaults to
        descending for scores and ascending for losses and errors, as the heads declare them
        (``estlab.training.metric_info.higher_is_better``).
        """
        with self._lock:
            rows = [_row(s) for s in self.runs.values()]
        fixed = list(FIXED_COLUMNS)
        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=fixed)
        metric_columns = [c for c in frame.columns if c not in fixed]
        if baseline is not None:
            if baseline not in set(frame["run"]):
                raise ValueError(f"baseline: {baseline!r} is not a run; runs: {frame['run'].tolist()}")
            base = frame.set_index("run").loc[baseline]
            for metric in metric_columns:
                frame[f"Δ {metric}"] = frame[metric] - base[metric]
        if sort_by is not None:
            if sort_by not in frame.columns:
                raise ValueError(f"sort_by: {sort_by!r} is not a column; columns: {frame.columns.tolist()}")
            if ascending is None:
                ascending = not higher_is_better(sort_by)
            frame = frame.sort_values(sort_by, ascending=ascending, na_position="last", kind="stable")
        return frame.reset_index(drop=True)

    def close(self) -> None:
        """Stop the running job, cancel queued ones and end both threads."""
        if self._closed:
            return
        self._closed = True
        for name in list(self.runs):
            self.stop(name)
        self._todo.put(_STOP)
        self._worker.join(timeout=30)
        self.events.put({"type": "close"})
        self._ui.join(timeout=5)

    def _get(self, name: str) -> RunState:
        try:
            return self.runs[name]
        except KeyError:
            raise KeyError(f"name: no run called {name!r}; runs: {list(self.runs)}") from None

    # ---- worker thread ---------------------------------------------------------------------
    def _work_loop(self) -> None:
        while True:
            name = self._todo.get()
            if name is _STOP:
                return
            with self._lock:
                if self._phase[name] != "queued":
                    continue
                self._phase[name] = "started"
            try:
                self._run_one(name, self.runs[name].spec)
            finally:
                with self._lock:
                    self._phase[name] = "done"
                    self._stop_wanted.discard(name)

    def _run_one(self, name: str, spec: RunSpec) -> None:
        ended = threading.Event()

        def emit(event: dict[str, Any]) -> None:
            if event.get("type") == "train_end":
                ended.set()
            self.events.put({**event, "lab_run": name})

        self.events.put({"type": "starting", "lab_run": name, "time": time.time()})
        try:
            job = self.job_factory(spec, name)
            with self._lock:
                self._jobs[name] = job
                if name in self._stop_wanted:
                    job.request_stop()
            job.run(emit)
        except Exception as exc:  # reported in the views, never raised in the worker
            if not ended.is_set():
                self.events.put({"type": "train_end", "lab_run": name, "status": "failed", "time": time.time(),
                                 "reason": "error", "error": f"{type(exc).__name__}: {exc}",
                                 "traceback": traceback.format_exc()})
        else:
            if not ended.is_set():
                self.events.put({"type": "train_end", "lab_run": name, "status": "finished", "time": time.time(),
                                 "reason": "job returned", "error": None})

    # ---- UI owner thread -------------------------------------------------------------------
    def _ui_loop(self) -> None:
        next_render = 0.0
        while True:
            wait = next_render - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # coalesce: events pile up instead of waking this thread at every step
            try:
                batch = [self.events.get(timeout=1.0)]
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(self.events.get_nowait())
                except queue.Empty:
                    break
            dirty: set[str] = set()
            flushes, closing = [], False
            for event in batch:
                kind = event.get("type")
                if kind == "close":
                    closing = True
                elif kind == "flush":
                    flushes.append(event["done"])
                else:
                    self._apply(event, dirty)
            ticking = any(s.status in RUNNING for s in self.runs.values())
            if batch or ticking:  # a quiet running run still needs its elapsed time and ETA updated
                self._render(dirty)
                next_render = time.monotonic() + 1.0 / self.max_rate
            for done in flushes:
                done.set()
            if closing:
                return

    def _apply(self, event: dict[str, Any], dirty: set[str]) -> None:
        kind = event.get("type")
        if kind == "notice":
            self.notice = (str(event["text"]), str(event.get("level", "info")))
            return
        name = event.get("lab_run")
        if name is None or name not in self.runs:
            return
        dirty.add(name)
        if kind in ("queued", "refresh"):
            return
        with self._lock:
            apply_event(self.runs[name], event)
        if kind == "train_end" and event.get("status") == "failed":
            self.notice = (f"run {name!r} failed: {event.get('error')}", "error")
        elif kind == "train_end" and event.get("status") == "stopped":
            self.notice = (f"run {name!r} stopped at step {self.runs[name].global_step}", "info")
        elif kind == "train_end":
            self.notice = (f"run {name!r} finished at step {self.runs[name].global_step}", "info")

    def _render(self, dirty: set[str]) -> None:
        start = time.perf_counter()
        for view in list(self.views):
            try:
                view.render(self, dirty)
            except Exception:  # a broken view must not kill the UI thread
                self.errors.append(traceback.format_exc())
        self.render_count += 1
        self.render_seconds += time.perf_counter() - start


def _row(state: RunState) -> dict[str, Any]:
    row = {
        "run": state.name,
        "estimator": state.spec.estimator,
        "params": state.spec.params_text(),
        "features": state.spec.feature_set,
        "status": state.status + (" (released)" if state.released else ""),
        "device": state.device,
        "steps": state.global_step,
        "wall_time_s": None if state.wall_time is None else round(state.wall_time, 2),
    }
    row.update({k: v for k, v in sorted(state.metrics.items()) if not k.startswith(_HIDDEN_METRIC_PREFIXES)})
    return row
