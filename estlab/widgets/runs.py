"""``RunManager``: queues runs, hands them to an executor as slots free up, keeps their records, owns the UI thread.

Threads and processes
---------------------
* An **executor** trains: by default the lab's :class:`~estlab.runner.pool.WorkerPool` (warm worker processes,
  several runs at once); :class:`~estlab.runner.executor.ThreadExecutor` runs in-process jobs (tests). It only
  reports plain event dicts, which go on ``RunManager.events`` (a ``queue.Queue``).
* The **UI owner thread** drains that queue, coalesces events, applies them to the run records, writes them to
  the experiment (``run.json`` and ``events.jsonl`` of each run) and, at most ``max_rate`` times a second, asks
  every attached view to render (views assign their traits inside ``hold_sync()``). Button handlers never touch
  views either: they post to the queue.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from estlab.runner.executor import Executor, Job, RunRequest, ThreadExecutor
from estlab.runner.experiment import ACTIVE, Experiment, RunRecord
from estlab.runner.follow import Follower
from estlab.runner.liveness import process_alive, this_process
from estlab.training.events import EVENT_TYPES
from estlab.training.metric_info import higher_is_better
from estlab.widgets._format import LeaderboardFrame, as_number, r2_of_file
from estlab.widgets._state import RUNNING, RunSpec, RunState, apply_event

Emit = Callable[[dict[str, Any]], None]
_HIDDEN_METRIC_PREFIXES = ("label/", "prediction/")
#: The leaderboard's columns before the metrics.
FIXED_COLUMNS = ("run", "estimator", "params", "features", "status", "device", "steps", "wall_time_s")
#: Lab events that change what ``run.json`` says.
_RECORD_EVENTS = ("queued", "starting", "train_begin", "evaluate", "train_end", "predictions", "cancelled",
                  "released")
#: Owner tokens of the managers alive in this process (a run owned by a dead one was interrupted).
_LIVE_OWNERS: set[str] = set()

__all__ = ["FIXED_COLUMNS", "DuplicateRunError", "Job", "RunManager", "StopAll", "View"]


class View(Protocol):
    """Something the UI thread re-renders: ``render(manager, dirty_run_names)``."""

    def render(self, manager: RunManager, dirty: set[str]) -> None: ...


class DuplicateRunError(RuntimeError):
    """A run with the same configuration is already queued or running (or trained, on the same data).

    ``run`` names that run and ``state`` says where it is (``queued``, ``running`` or ``finished``).
    """

    def __init__(self, message: str, run: str = "", state: str = "") -> None:
        super().__init__(message)
        self.run, self.state = run, state


class RunManager:
    """Queue, run, stop and release runs; keep their records (in the experiment, if any); drive the views.

    Parameters
    ----------
    job_factory
        ``spec, run_name -> Job``: run in-process jobs, one at a time (a :class:`ThreadExecutor`).
    max_rate
        Most view updates per second.
    executor
        What trains (overrides ``job_factory``): e.g. a :class:`~estlab.runner.pool.WorkerPool`; as many runs
        train at once as its ``capacity``.
    experiment
        Where runs live: each run's record and event log are written there, earlier runs are shown, and a
        finished run with the same fingerprint (configuration and data) is reused instead of trained again.

    Examples
    --------
    >>> manager = RunManager(job_factory=lambda spec, name: None)
    >>> manager.leaderboard().columns[:3].tolist()
    ['run', 'estimator', 'params']
    >>> manager.close()
    """

    def __init__(self, job_factory: Callable[[RunSpec, str], Job] | None = None, max_rate: float = 5.0,
                 executor: Executor | None = None, experiment: Experiment | None = None) -> None:
        if executor is None:
            if job_factory is None:
                raise ValueError("RunManager: pass job_factory or executor")
            executor = ThreadExecutor(job_factory)
        self.executor = executor
        self.experiment = experiment
        self.max_rate = max_rate
        self.events: queue.Queue = queue.Queue()
        self.runs: dict[str, RunState] = {}
        self.views: list[View] = []
        self.notice: tuple[str, str] = ("", "info")
        self.render_count = 0
        self.render_seconds = 0.0
        self.errors: list[str] = []
        self._phase: dict[str, str] = {}  # queued → started → done, or cancelled: the executor-side truth
        self._waiting: list[str] = []  # queued, in order
        self._log: dict[str, list[dict[str, Any]]] = {}  # events to append to each run's log (UI thread)
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._closed = False
        token = uuid.uuid4().hex
        self.owner: dict[str, Any] = {**this_process(), "token": token}
        self._follower: Follower | None = None  # runs another lab or a surviving worker trains (reattached)
        self._stop_group: StopAll | None = None  # the runs of the last "stop all" still being reported (UI thread)
        _LIVE_OWNERS.add(token)
        if experiment is not None:
            self._load(experiment)
        self._ui = threading.Thread(target=self._ui_loop, name="estlab-ui", daemon=True)
        self._ui.start()

    def _load(self, experiment: Experiment) -> None:
        """Show the experiment's earlier runs: records as saved, curves replayed from their event logs."""
        interrupted = []
        for record in experiment.records():
            state = RunState(name=record.name, spec=record.spec)
            for event in experiment.events(record.name):
                apply_event(state, event)
            _restore(state, record)
            if record.status in ACTIVE and experiment.is_live(record, _owner_alive(record.owner)):
                self._follower = self._follower or Follower(experiment)
                self._follower.add(record.name)  # reattach: follow it from its files
            elif record.status in ACTIVE:
                state.status, state.reason = "interrupted", "its lab closed or its kernel exited before it ended"
                state.end_time = state.end_time or time.time()
                interrupted.append(record.name)
                experiment.save_record(_record(state, record.owner))
            self.runs[record.name] = state
            self._phase[record.name] = "done"
        if self.runs:
            text = f"experiment {experiment.path}: {len(self.runs)} earlier run(s)"
            if interrupted:
                text += f"; interrupted before they ended: {', '.join(interrupted)}"
            self.notice = (text, "info")

    # ---- kernel-thread API -----------------------------------------------------------------
    def launch(self, spec: RunSpec, name: str | None = None) -> RunState:
        """Queue ``spec``; returns its record at once (training happens in the executor).

        Raises ``DuplicateRunError`` when the same configuration is already queued or running, or (with an
        experiment) finished on the same data: that run's results are shown instead of training again.
        """
        if self._closed:
            raise RuntimeError("RunManager is closed; create a new lab to train again")
        fingerprint = self.experiment.fingerprint(spec) if self.experiment is not None else ""
        with self._lock:
            for state in self.runs.values():
                phase = self._phase[state.name]
                if phase in ("queued", "started") and state.spec.key() == spec.key():
                    word = "queued" if phase == "queued" else "running"
                    raise DuplicateRunError(
                        f"run {state.name!r} with the same configuration is still {word}; "
                        f"wait for it, stop it (stop({state.name!r})) or change a parameter", state.name, word
                    )
                if fingerprint and state.fingerprint == fingerprint and state.status == "finished":
                    raise DuplicateRunError(
                        f"run {state.name!r} already trained this configuration on the same data (fingerprint "
                        f"{fingerprint}); its results are in the leaderboard: change a parameter or the seed "
                        "to train again", state.name, "finished"
                    )
            if name is None:
                name = (self.experiment.new_name(spec.estimator) if self.experiment is not None
                        else f"{spec.estimator}-{next(self._counter)}")
            if name in self.runs:
                raise ValueError(f"name: a run called {name!r} exists already; pick another name")
            state = RunState(name=name, spec=spec, fingerprint=fingerprint)
            if self.experiment is not None:
                state.data_fingerprint = self.experiment.data_fingerprint or ""
                state.model_dir = self.experiment.run_dir(name)
                self.experiment.save_record(_record(state, self.owner))  # on disk before it can start
            self.runs[name] = state
            self._phase[name] = "queued"
            self._waiting.append(name)
        self.events.put({"type": "queued", "lab_run": name})  # the UI thread hands it to the executor
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
                self._waiting.remove(name)
                self.events.put({"type": "cancelled", "lab_run": name, "time": time.time()})
                return
        if phase == "started":
            self.executor.stop(name)
        elif self._follower is not None:
            self._follower.stop(name)  # a reattached run: its worker reads the request

    def stop_all(self) -> tuple[list[str], list[str]]:
        """Stop every running run and cancel every queued one; returns ``(stopping, cancelled)`` run names.

        The notice then follows them: what is still stopping, and at the end one line for all of them
        (``stop all: stopped 2 runs (a at step 1,200, b at step 800); cancelled 1 queued run (c)``), not
        only the last run's stop message.

        Examples
        --------
        >>> manager = RunManager(job_factory=lambda spec, name: None)
        >>> manager.stop_all()
        ([], [])
        >>> manager.flush(); manager.notice
        ('nothing is training or queued', 'info')
        >>> manager.close()
        """
        with self._lock:
            cancelled = list(self._waiting)
            stopping = [n for n, s in self.runs.items() if n not in cancelled
                        and (self._phase[n] == "started" or s.status in RUNNING)]
        # posted before the stops, so the UI thread knows the group before any of their ends arrives
        self.events.put({"type": "stop_all", "stopping": stopping, "cancelled": cancelled})
        for name in cancelled + stopping:
            self.stop(name)
        return stopping, cancelled

    def resume(self, name: str) -> RunState:
        """Continue run ``name`` (interrupted, stopped or failed) from the last checkpoint in its folder.

        Same name, folder and configuration; refused (ValueError) for a finished run, a run still training, or
        when the lab's data is not the run's (another data fingerprint).
        """
        state = self._get(name)
        if self.experiment is None:
            raise ValueError("resume: needs an experiment directory (RunManager(experiment=...))")
        with self._lock:
            if self._phase[name] in ("queued", "started") or (self._follower and self._follower.follows(name)):
                raise ValueError(f"name: run {name!r} is still {state.status}; stop it before resuming it")
            self.experiment.check_resume(name)
            state.status, state.reason, state.error, state.end_time = "queued", "", None, None
            self.experiment.save_record(_record(state, self.owner))
            self._phase[name] = "queued"
            self._waiting.append(name)
        self.events.put({"type": "queued", "lab_run": name})
        return state

    def release(self, name: str) -> None:
        """Free the model of a run that ended (its record and metrics stay)."""
        self._get(name)
        with self._lock:
            phase = self._phase[name]
            if phase not in ("done", "cancelled"):
                word = "queued" if phase == "queued" else "running"
                raise RuntimeError(f"run {name!r} is {word}; stop it first (stop({name!r})), then release it")
        self.executor.release(name)
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
        self.flush(max(10.0, deadline - time.monotonic()))
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
        if _same_values(frame, "loss", "average_loss"):  # one number under two names: keep one column
            frame = frame.drop(columns=["loss"])
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
        return LeaderboardFrame(frame.reset_index(drop=True))

    def close(self, timeout: float = 1.0) -> None:
        """Cancel queued runs, stop running ones and end the executor and the UI thread (about ``timeout`` s)."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        with self._lock:
            waiting, self._waiting = list(self._waiting), []
        for name in waiting:
            self._phase[name] = "cancelled"
            self.events.put({"type": "cancelled", "lab_run": name, "time": time.time()})
        self.executor.close(timeout=max(deadline - time.monotonic() - 0.1, 0.2))
        self.events.put({"type": "close"})
        self._ui.join(max(deadline - time.monotonic(), 0.5))
        _LIVE_OWNERS.discard(self.owner["token"])

    def _get(self, name: str) -> RunState:
        try:
            return self.runs[name]
        except KeyError:
            raise KeyError(f"name: no run called {name!r}; runs: {list(self.runs)}") from None

    # ---- dispatch (any thread) -------------------------------------------------------------
    def _dispatch(self) -> None:
        """Hand queued runs to the executor while it has free slots."""
        while True:
            with self._lock:
                busy = sum(1 for p in self._phase.values() if p == "started")
                if self._closed or not self._waiting or busy >= self.executor.capacity:
                    return
                name = self._waiting.pop(0)
                self._phase[name] = "started"
                state = self.runs[name]
            request = self._request(name, state)
            try:
                self.executor.start(name, request, self._emitter(name), self._done)
            except Exception as exc:  # the executor refused (closed, broken): the run fails, visibly
                self.events.put({"type": "train_end", "lab_run": name, "status": "failed", "time": time.time(),
                                 "reason": "error", "error": f"{type(exc).__name__}: {exc}"})
                self._done(name)

    def _request(self, name: str, state: RunState) -> RunRequest:
        if self.experiment is None:
            return RunRequest(state.spec)
        train_path, eval_path = self.experiment.data_paths()
        return RunRequest(state.spec, self.experiment.run_dir(name), train_path, eval_path)

    def _emitter(self, name: str) -> Emit:
        def emit(event: dict[str, Any]) -> None:
            self.events.put({**event, "lab_run": name})

        return emit

    def _done(self, name: str) -> None:
        with self._lock:
            self._phase[name] = "done"
        self._dispatch()

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
            if self._follower is not None:  # reattached runs: their new events, read from their files
                followed = self._follower.poll(lambda name, event: apply_event(self.runs[name], event))
                dirty |= followed
                for name in sorted(followed):  # a followed run's end counts for its "stop all" too
                    group = self._stop_group
                    if group is not None and name in group.pending and self.runs[name].status not in RUNNING:
                        group.ended(self.runs[name])
                        self._stop_all_notice()
            for event in batch:
                kind = event.get("type")
                if kind == "close":
                    closing = True
                elif kind == "flush":
                    flushes.append(event["done"])
                else:
                    self._apply(event, dirty)
            self._persist()
            if not closing:
                self._dispatch()
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
        if kind == "stop_all":
            self._stop_group = StopAll(event["stopping"], event["cancelled"])
            for name in event["stopping"]:  # a run that ended before the click: its end is already applied
                if self.runs[name].status not in RUNNING and self._phase[name] != "started":
                    self._stop_group.ended(self.runs[name])
            self._stop_all_notice()
            return
        name = event.get("lab_run")
        if name is None or name not in self.runs:
            return
        dirty.add(name)
        if kind in ("queued", "refresh"):
            return
        state = self.runs[name]
        with self._lock:
            apply_event(state, event)
        if self.experiment is not None:
            log = self._log.setdefault(name, [])
            if kind in EVENT_TYPES:
                plain = {k: v for k, v in event.items() if k not in ("lab_run", "traceback")}
                log.append({**plain, "global_step": plain.get("global_step", state.global_step),
                            "time": plain.get("time") or time.time()})
            if kind in _RECORD_EVENTS:
                log.append({"type": "_record"})
        if kind == "train_end" and self._stop_group is not None and name in self._stop_group.pending:
            self._stop_group.ended(state)
            self._stop_all_notice()
        elif kind == "train_end" and event.get("status") == "failed":
            self.notice = (f"run {name!r} failed: {event.get('error')}", "error")
        elif kind == "train_end" and event.get("status") == "stopped":
            self.notice = (f"run {name!r} stopped at step {self.runs[name].global_step:,}", "info")
        elif kind == "train_end":
            self.notice = (f"run {name!r} finished at step {self.runs[name].global_step:,}", "info")

    def _stop_all_notice(self) -> None:
        group = self._stop_group
        if group is None:
            return
        self.notice = (group.text(), "error" if group.failed else "info")
        if not group.pending:
            self._stop_group = None

    def _persist(self) -> None:
        """Append this batch's events to each run's log and rewrite the records that changed (UI thread)."""
        if self.experiment is None or not self._log:
            return
        pending, self._log = self._log, {}
        for name, events in pending.items():
            try:
                self.experiment.append_events(name, [e for e in events if e["type"] != "_record"])
                if any(e["type"] == "_record" for e in events):
                    self.experiment.save_record(_record(self.runs[name], self.owner))
            except OSError:  # a full disk must not kill the UI thread; the views still show the run
                self.errors.append(traceback.format_exc())

    def _render(self, dirty: set[str]) -> None:
        start = time.perf_counter()
        for view in list(self.views):
            try:
                view.render(self, dirty)
            except Exception:  # a broken view must not kill the UI thread
                self.errors.append(traceback.format_exc())
        self.render_count += 1
        self.render_seconds += time.perf_counter() - start


def _runs(names: list[str], what: str = "") -> str:
    what = f"{what} " if what else ""
    return f"{len(names)} {what}run{'s' * (len(names) != 1)} ({', '.join(names)})"


class StopAll:
    """What one "stop all" did, as its runs end: the text of the lab's message line.

    Examples
    --------
    >>> group = StopAll(["a", "b"], ["c"])
    >>> group.text()
    'stop all: stopping 2 runs (a, b) after their current step; cancelled 1 queued run (c)'
    >>> group.ended(RunState(name="a", spec=RunSpec("linear_classifier"), status="stopped", global_step=1200))
    >>> group.ended(RunState(name="b", spec=RunSpec("linear_classifier"), status="finished", global_step=600))
    >>> group.text()
    'stop all: stopped 1 run (a at step 1,200); finished before it stopped: b at step 600; cancelled 1 queued run (c)'
    """

    def __init__(self, stopping: list[str], cancelled: list[str]) -> None:
        self.order = list(stopping)
        self.pending = list(stopping)
        self.cancelled = list(cancelled)
        self.outcomes: dict[str, tuple[str, str]] = {}  # run -> (how it ended, its words)
        self.failed = False

    def ended(self, state: RunState) -> None:
        """Record how run ``state`` ended (its train_end has been applied)."""
        if state.name not in self.pending:
            return
        self.pending.remove(state.name)
        status = state.status if state.status in ("finished", "failed") else "stopped"
        text = f"{state.name} at step {state.global_step:,}"
        if status == "failed":
            self.failed = True
            text += f": {state.error}" if state.error else ""
        self.outcomes[state.name] = (status, text)

    def _ended(self, kind: str) -> list[str]:
        """The words of the runs that ended ``kind`` (stopped, finished, failed), in launch order."""
        return [self.outcomes[n][1] for n in self.order if n in self.outcomes and self.outcomes[n][0] == kind]

    def text(self) -> str:
        """One line for the whole group (what ended how, what is still stopping, what was cancelled).

        Runs are listed in the order they were launched, whichever ended first.
        """
        stopped, finished, failed = (self._ended(kind) for kind in ("stopped", "finished", "failed"))
        parts = []
        if stopped:
            parts.append(f"stopped {_runs(stopped)}")
        if finished:
            parts.append(f"finished before {'it' if len(finished) == 1 else 'they'} stopped: {', '.join(finished)}")
        if failed:
            parts.append(f"failed: {'; '.join(failed)}")
        if self.pending:
            parts.append(f"stopping {_runs(self.pending)} after {'its' if len(self.pending) == 1 else 'their'} "
                         "current step")
        if self.cancelled:
            parts.append(f"cancelled {_runs(self.cancelled, 'queued')}")
        return "stop all: " + "; ".join(parts) if parts else "nothing is training or queued"


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
    if state.spec.task == "regression" and "r2" not in row:  # R² of the saved eval-set predictions
        r2 = r2_of_file(state.predictions_path)
        if r2 is not None:
            row["r2"] = r2
    return row


def _same_values(frame: pd.DataFrame, a: str, b: str) -> bool:
    """Whether columns ``a`` and ``b`` hold the same number (relative 1e-6) in every row that has one."""
    if a not in frame.columns or b not in frame.columns:
        return False
    pairs = [(as_number(x), as_number(y)) for x, y in zip(frame[a], frame[b])]
    known = [(x, y) for x, y in pairs if x is not None or y is not None]
    return bool(known) and all(x is not None and y is not None and abs(x - y) <= 1e-6 * max(abs(x), abs(y), 1e-12)
                               for x, y in known)


def _record(state: RunState, owner: dict[str, Any]) -> RunRecord:
    """The run record (``run.json``) of a run, from what the lab knows."""
    metrics = {k: float(v) for k, v in state.metrics.items()}
    return RunRecord(name=state.name, spec=state.spec, fingerprint=state.fingerprint,
                     data_fingerprint=state.data_fingerprint,
                     status=state.status, reason=state.reason, error=state.error, queued_time=state.queued_time,
                     start_time=state.start_time, end_time=state.end_time, global_step=state.global_step,
                     metrics=metrics, device=state.device, predictions_path=state.predictions_path,
                     released=state.released, worker=state.worker, owner=dict(owner))


def _restore(state: RunState, record: RunRecord) -> None:
    """Put a saved record's fields back on a state rebuilt from its event log (the record has the last word)."""
    state.fingerprint, state.data_fingerprint = record.fingerprint, record.data_fingerprint
    state.status, state.reason, state.error = record.status, record.reason, record.error
    state.queued_time, state.start_time, state.end_time = record.queued_time, record.start_time, record.end_time
    state.global_step = max(state.global_step, record.global_step)
    state.device = record.device or state.device
    state.predictions_path = record.predictions_path or state.predictions_path
    state.released, state.worker = record.released, record.worker


def _owner_alive(owner: dict[str, Any]) -> bool:
    """True when the manager that owns a run may still be running it (its process lives, and in this process
    its token is live)."""
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return owner.get("token") in _LIVE_OWNERS
    return process_alive(owner)  # pid and start time: a reused pid does not count
