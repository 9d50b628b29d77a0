"""``CurveChart``: training curves drawn in the browser from streamed points (an anywidget, canvas, no CDN).

The kernel never draws while runs train. It sends data:

* ``append`` custom messages (``{"kind": "append", "seq", "meta", "points", "event_time"}``) carrying only the
  points newer than the last message, at most ``1 / min_interval`` a second and at most ``max_points`` points
  per series per message (bucket means when more arrived: long runs are downsampled before they are sent);
* a ``snapshot`` trait (every series downsampled to ``snapshot_points``) refreshed at most every
  ``snapshot_interval`` seconds and when a run ends, so a view opened later (a reloaded page, a second view)
  starts from it and applies the appends newer than its ``seq``.

The browser keeps at most 4,000 points per series (merging pairs past it), draws one panel per metric with
every run overlaid (dashed train, solid eval, markers on sparse series), and offers a smoothing slider, a
step / wall-time axis, a log scale and hover values. Without anywidget, the chart is an HTML note and the
panels fall back to their static matplotlib figure.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets
import traitlets

from estlab.training.metric_info import preferred_metrics
from estlab.widgets._chart_front import CSS, ESM

try:  # anywidget is in the ``lab`` extra; without it the chart degrades to a note
    import anywidget

    HAVE_ANYWIDGET = True
    _Base: Any = anywidget.AnyWidget
except ImportError:  # pragma: no cover - exercised only without anywidget
    HAVE_ANYWIDGET = False
    _Base = widgets.HTML

#: Run colours, in the order runs appear (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
_HIDDEN_PREFIXES = ("label/", "prediction/")
_FINAL = ("finished", "stopped", "failed", "cancelled", "interrupted")


def _one_fit(state: Any) -> bool:
    """Whether the run is one full-batch fit (drawn as a level, not a curve)."""
    return bool(getattr(state, "one_fit", False))


def chart_metrics(metrics: Iterable[str]) -> list[str]:
    """The eval metrics a chart shows: ``loss`` then the task's preferred ones (``average_loss`` only without ``loss``).

    Examples
    --------
    >>> chart_metrics(["loss", "average_loss", "auc", "accuracy", "precision", "label/mean"])
    ['loss', 'accuracy', 'auc']
    >>> chart_metrics(["average_loss", "rmse"])
    ['rmse', 'average_loss']
    """
    names = [m for m in dict.fromkeys(metrics) if not m.startswith(_HIDDEN_PREFIXES)]
    ranks: dict[str, int] = {}
    for task in ("classification", "regression"):
        for i, m in enumerate(preferred_metrics(task)):
            ranks[m] = min(ranks.get(m, 99), i)
    chosen = sorted((m for m in names if m in ranks and m != "loss"), key=lambda m: ranks[m])
    if "loss" in names:
        chosen = ["loss"] + [m for m in chosen if m != "average_loss"]
    return chosen


def run_start(state: Any) -> float:
    """When the run started (its record's ``start_time``, else its first recorded event)."""
    if state.start_time is not None:
        return float(state.start_time)
    history = state.record
    times = [r["time"] for r in history.steps[:1]] + [r["time"] for r in history.evaluations[:1]]
    return float(min(times)) if times else 0.0


def run_points(state: Any, after: float = -math.inf) -> dict[tuple[str, str], list[tuple[int, float, float]]]:
    """``(split, metric) -> [(step, seconds since the run started, value), ...]`` of one run record.

    Reads the run's History (``state.record``): step rows with a loss, and the default evaluation's metrics
    (those :func:`chart_metrics` keeps). With ``after``, the train rows are read only back from the newest to
    the first one at or before step ``after`` (the cost of a live update stays that of its new points, however
    long the run).

    Examples
    --------
    >>> from estlab.widgets._state import RunSpec, RunState, apply_event
    >>> state = RunState("r", RunSpec("linear_classifier"), status="running", start_time=0.0)
    >>> for step in (1, 2, 3):
    ...     apply_event(state, {"type": "step_end", "global_step": step, "time": float(step), "loss": 1 / step})
    >>> run_points(state, after=1)[("train", "loss")]
    [(2, 2.0, 0.5), (3, 3.0, 0.3333333333333333)]
    """
    history = state.record
    start = run_start(state)
    out: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    rows = history.steps
    if after > -math.inf:
        first = len(rows)
        while first > 0 and int(rows[first - 1]["global_step"]) > after:
            first -= 1
        rows = rows[first:]
    train = [(int(r["global_step"]), float(r["time"]) - start, float(r["loss"]))
             for r in rows if r.get("loss") is not None]
    if train:
        out[("train", "loss")] = train
    evals = sorted((r for r in history.evaluations if r.get("name") is None), key=lambda r: r["global_step"])
    if evals:
        keep = chart_metrics(k for r in evals for k in r["metrics"])
        for metric in keep:
            pts = [(int(r["global_step"]), float(r["time"]) - start, float(r["metrics"][metric]))
                   for r in evals if metric in r["metrics"]]
            if pts:
                out[("eval", metric)] = pts
    return out


def downsample(points: list[tuple[int, float, float]], limit: int) -> list[tuple[int, float, float]]:
    """At most ``limit`` points: consecutive points averaged in equal buckets, each bucket at its last step.

    Examples
    --------
    >>> downsample([(i, float(i), float(i)) for i in range(1, 7)], 3)
    [(2, 2.0, 1.5), (4, 4.0, 3.5), (6, 6.0, 5.5)]
    >>> downsample([(1, 0.0, 1.0)], 3)
    [(1, 0.0, 1.0)]
    """
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / limit)
    out = []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        finite = [p[2] for p in chunk if math.isfinite(p[2])]
        value = sum(finite) / len(finite) if finite else float("nan")
        out.append((chunk[-1][0], chunk[-1][1], value))
    return out


def _json_value(value: float) -> float | None:
    return value if math.isfinite(value) else None


class CurveChart(_Base):
    """Live training curves of several runs, drawn by the browser.

    Call :meth:`update` with run records (``RunState``-like: ``name``, ``status``, ``record``,
    ``start_time``) as often as you like, from one thread: it sends at most one message per
    ``min_interval`` seconds, with only the new points.

    Examples
    --------
    >>> chart = CurveChart(min_interval=0)
    >>> chart.snapshot["series"]
    {}
    >>> chart.close()
    """

    if HAVE_ANYWIDGET:
        _esm = ESM
        _css = CSS
    uid = traitlets.Unicode("").tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)
    x_axis = traitlets.Unicode("step").tag(sync=True)
    log_y = traitlets.Bool(False).tag(sync=True)
    smoothing = traitlets.Float(0.6).tag(sync=True)
    height = traitlets.Int(220).tag(sync=True)
    #: Whether the page uses a dark theme (set by the browser view; the lab draws its pictures to match).
    dark = traitlets.Bool(False).tag(sync=True)

    def __init__(self, min_interval: float = 0.2, max_points: int = 50, snapshot_points: int = 500,
                 snapshot_interval: float = 2.0, **kwargs: Any) -> None:
        super().__init__(uid=uuid.uuid4().hex, snapshot={"seq": 0, "series": {}}, **kwargs)
        if not HAVE_ANYWIDGET:
            self.value = "<i>Live charts need <code>anywidget</code> (pip install 'estlab[lab]').</i>"
        self.add_class("estlab-chart")
        self.min_interval, self.max_points = min_interval, max_points
        self.snapshot_points, self.snapshot_interval = snapshot_points, snapshot_interval
        self.seq = 0
        self.messages_sent = 0
        self.points_sent = 0
        self.update_seconds = 0.0  # kernel time spent in update(), for the CPU-share benchmark
        self._sent: dict[str, float] = {}  # series id -> last step sent
        self._meta: dict[str, dict[str, Any]] = {}
        self._colors: dict[str, str] = {}
        self._next_send = 0.0
        self._next_snapshot = 0.0
        self._final: set[str] = set()
        self._revisions: dict[str, Any] = {}
        self._lock = threading.Lock()

    def color(self, run: str) -> str:
        """The run's colour (stable: the order runs were first seen)."""
        if run not in self._colors:
            self._colors[run] = PALETTE[len(self._colors) % len(PALETTE)]
        return self._colors[run]

    def update(self, runs: Iterable[Any], force: bool = False) -> dict[str, Any] | None:
        """Send the points newer than the last message (None when nothing is due or new); returns the message."""
        now = time.monotonic()
        runs = list(runs)
        ended = {r.name for r in runs if r.status in _FINAL} - self._final
        if not force and not ended and now < self._next_send:
            return None
        started = time.perf_counter()
        with self._lock:
            self._next_send = now + self.min_interval
            meta: dict[str, dict[str, Any]] = {}
            points: dict[str, list[list[Any]]] = {}
            newest = 0.0
            for state in runs:
                revision = (state.record.revision, state.start_time)
                if self._revisions.get(state.name) == revision:
                    continue  # nothing new in this run since the last message
                self._revisions[state.name] = revision
                start = run_start(state)
                after = self._sent.get(f"{state.name}|train|loss", -math.inf)
                for (split, metric), pts in run_points(state, after).items():
                    sid = f"{state.name}|{split}|{metric}"
                    last = self._sent.get(sid, -math.inf)
                    fresh = [p for p in pts if p[0] > last]
                    if not fresh:
                        continue
                    if sid not in self._meta:
                        self._meta[sid] = {"run": state.name, "split": split, "metric": metric,
                                           "color": self.color(state.name), "one_fit": _one_fit(state)}
                        meta[sid] = self._meta[sid]
                    newest = max(newest, start + fresh[-1][1])
                    fresh = downsample(fresh, self.max_points)
                    self._sent[sid] = fresh[-1][0]
                    points[sid] = [[s, round(w, 3), _json_value(v)] for s, w, v in fresh]
            message = None
            if points:
                self.seq += 1
                message = {"kind": "append", "seq": self.seq, "meta": meta, "points": points,
                           "event_time": newest or None}
                self.send(message)
                self.messages_sent += 1
                self.points_sent += sum(len(p) for p in points.values())
            self._final |= ended
            if (points and now >= self._next_snapshot) or ended or force:
                self._next_snapshot = now + self.snapshot_interval
                self.snapshot = self._snapshot(runs)
        self.update_seconds += time.perf_counter() - started
        return message

    def _snapshot(self, runs: list[Any]) -> dict[str, Any]:
        series: dict[str, Any] = {}
        for state in runs:
            for (split, metric), pts in run_points(state).items():
                sid = f"{state.name}|{split}|{metric}"
                if sid not in self._meta:
                    continue
                pts = downsample([p for p in pts if p[0] <= self._sent[sid]], self.snapshot_points)
                series[sid] = {**self._meta[sid], "step": [p[0] for p in pts],
                               "wall": [round(p[1], 3) for p in pts], "value": [_json_value(p[2]) for p in pts]}
        return {"seq": self.seq, "series": series}

    def send(self, content: Any, buffers: Any = None) -> None:
        """Send a custom message (a no-op without anywidget)."""
        if HAVE_ANYWIDGET:
            super().send(content, buffers)

    def last_steps(self) -> dict[str, int]:
        """The newest step sent per run (what the browser's ``data-last-steps`` shows once drawn)."""
        out: dict[str, int] = {}
        for sid, step in self._sent.items():
            run = self._meta[sid]["run"]
            out[run] = max(out.get(run, -1), int(step))
        return out

    def reset(self) -> None:
        """Forget every series (the browser clears on the next snapshot)."""
        with self._lock:
            self._sent.clear()
            self._meta.clear()
            self._final.clear()
            self._revisions.clear()
            self.seq += 1
            self.snapshot = {"seq": self.seq, "series": {}}
