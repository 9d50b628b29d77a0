"""Run records: what a run is (``RunSpec``) and what the UI knows about it (``RunState``).

``RunState`` is changed only by :func:`apply_event`, on the UI owner thread. Its losses, evaluations and
curves live in a :class:`~estlab.training.history.History` (the one reducer of training events, torch-free);
the record adds what only the lab knows (queue status, wall time, step rate, the predictions file).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from estlab.runner.predictions import load_predictions
from estlab.runner.spec import RunSpec
from estlab.training.events import EVENT_TYPES
from estlab.training.history import History

#: Statuses of a run whose worker is busy with it (Stop applies, elapsed time ticks).
RUNNING = ("starting", "running")
#: Step rows the lab keeps per run (History thins evenly past it; the first and newest rows stay).
CURVE_CAPACITY = 1000


class RateMeter:
    """Smoothed steps/s and examples/s of one run, and an ETA that counts down instead of jumping.

    Rates are exponential moving averages over about ``window`` seconds of event time (each measurement
    weighs ``1 - exp(-dt / window)``), measured between step events at least ``min_interval`` apart. The ETA
    is anchored at each update and counts down with the clock in between; a new estimate lowers it, and
    raises it only when the run is more than ``tolerance`` (a share of the ETA, at least ``slack`` seconds)
    slower than the countdown: at a constant speed with jitter the ETA never goes up.

    Examples
    --------
    >>> meter = RateMeter()
    >>> for step in range(0, 101, 10):
    ...     meter.update(step / 10, step, target=200, examples_per_sec=320.0)
    >>> round(meter.steps_per_sec, 6), meter.eta_at(10.0), meter.eta_at(15.0)
    (10.0, 10.0, 5.0)
    """

    def __init__(self, window: float = 5.0, min_interval: float = 0.05, tolerance: float = 0.2,
                 slack: float = 5.0) -> None:
        self.window, self.min_interval, self.tolerance, self.slack = window, min_interval, tolerance, slack
        self.steps_per_sec: float | None = None
        self.examples_per_sec: float | None = None
        self._anchor: tuple[float, int] | None = None
        self._eta: tuple[float, float] | None = None  # (seconds left, at event time)

    def reset(self, time_: float, step: int) -> None:
        """Start measuring afresh from ``step`` at ``time_`` (a run (re)starts); the rates are kept."""
        self._anchor, self._eta = (time_, step), None

    def update(self, time_: float, step: int, target: int | None = None,
               examples_per_sec: float | None = None) -> None:
        """Take one step event (event time, global step, the run's target step, the loop's examples/s)."""
        if self._anchor is None:
            self._anchor = (time_, step)
            return
        dt, ds = time_ - self._anchor[0], step - self._anchor[1]
        if dt < self.min_interval or ds <= 0:
            return  # too close to measure: accumulate until the next event
        weight = 1.0 - math.exp(-dt / self.window)
        rate = ds / dt
        self.steps_per_sec = rate if self.steps_per_sec is None else self.steps_per_sec + weight * (
            rate - self.steps_per_sec)
        if examples_per_sec is not None:
            self.examples_per_sec = (examples_per_sec if self.examples_per_sec is None
                                     else self.examples_per_sec + weight * (examples_per_sec - self.examples_per_sec))
        self._anchor = (time_, step)
        if target is not None and self.steps_per_sec:
            estimate = max(target - step, 0) / self.steps_per_sec
            countdown = self.eta_at(time_)
            if countdown is None or estimate < countdown or \
                    estimate - countdown > max(self.tolerance * countdown, self.slack):
                self._eta = (estimate, time_)

    def eta_at(self, now: float) -> float | None:
        """Seconds left at time ``now`` (the last anchored ETA counted down), or None before a rate is known."""
        if self._eta is None:
            return None
        value, at = self._eta
        return max(value - max(now - at, 0.0), 0.0)


class Curve:
    """One curve of a run, read from its History when drawn (what ``LiveChart`` and the overlay read).

    Examples
    --------
    >>> h = History()
    >>> h.dispatch({"type": "step_end", "global_step": 2, "time": 0.0, "loss": 0.5})
    >>> Curve(h, "train", "loss").points()
    ([2], [0.5])
    """

    def __init__(self, history: History, split: str, metric: str) -> None:
        self.history, self.split, self.metric = history, split, metric

    def points(self) -> tuple[list[int], list[float]]:
        """Steps and values, in step order."""
        return self.history.curve(self.split, self.metric)

    @property
    def count(self) -> int:
        """Number of points."""
        return len(self.points()[0])


class Curves(Mapping):
    """The curves the lab draws, ``(split, metric) -> Curve``: the train loss and every eval metric.

    A live view of a History: one object per run, so a chart attached to it follows the run.

    Examples
    --------
    >>> h = History()
    >>> h.dispatch({"type": "step_end", "global_step": 1, "time": 0.0, "loss": 0.5, "learning_rate": 0.1})
    >>> list(Curves(h))
    [('train', 'loss')]
    """

    def __init__(self, history: History) -> None:
        self.history = history

    def _keys(self) -> list[tuple[str, str]]:
        return [k for k in self.history.curve_keys() if k == ("train", "loss") or k[0] == "eval"]

    def __getitem__(self, key: tuple[str, str]) -> Curve:
        if key not in self._keys():
            raise KeyError(key)
        return Curve(self.history, *key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


@dataclass
class RunState:
    """What the lab knows about one run, in plain values.

    Training events go to ``record`` (a :class:`History`); ``loss``, ``metrics`` and ``curves`` read it.

    Examples
    --------
    >>> state = RunState("r1", RunSpec("linear_classifier"))
    >>> apply_event(state, {"type": "step_end", "global_step": 3, "time": 0.0, "loss": 0.5})
    >>> state.global_step, state.loss
    (3, 0.5)
    """

    name: str
    spec: RunSpec
    status: str = "queued"
    device: str = ""
    estimator_class: str = ""
    model_dir: str = ""
    queued_time: float = field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None
    start_step: int = 0
    target_step: int | None = None
    global_step: int = 0
    examples_per_sec: float | None = None
    error: str | None = None
    reason: str = ""
    checkpoint: str = ""
    released: bool = False
    full_batch: bool = False  # its train_begin said it is one full-batch fit
    predictions_path: str = ""
    fingerprint: str = ""
    data_fingerprint: str = ""
    worker: int | None = None
    record: History = field(default_factory=lambda: History(max_step_rows=CURVE_CAPACITY), repr=False)
    steps_per_sec: float | None = None
    rates: RateMeter = field(default_factory=RateMeter, repr=False, compare=False)
    _curves: Curves | None = field(default=None, repr=False, compare=False)
    _predictions: tuple[str, float, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    @property
    def loss(self) -> float | None:
        """The newest training loss."""
        return self.record.latest_loss

    @property
    def metrics(self) -> dict[str, float]:
        """The newest evaluation's metrics (``{}`` before the first)."""
        return self.record.latest_metrics()

    @property
    def curves(self) -> Curves:
        """``(split, metric) -> Curve``: the train loss and the eval metrics (one live view per run)."""
        if self._curves is None:
            self._curves = Curves(self.record)
        return self._curves

    @property
    def predictions(self) -> dict[str, Any] | None:
        """The eval-set predictions, loaded from ``predictions_path`` (None when there is no file)."""
        if not self.predictions_path or not os.path.exists(self.predictions_path):
            return None
        mtime = os.path.getmtime(self.predictions_path)
        if self._predictions is None or self._predictions[:2] != (self.predictions_path, mtime):
            self._predictions = (self.predictions_path, mtime, load_predictions(self.predictions_path))
        return self._predictions[2]

    @property
    def one_fit(self) -> bool:
        """Whether the run is one full-batch fit (baseline, boosted trees): its step count says nothing.

        Its ``train_begin`` says so; runs recorded before that field are known by their estimator.
        """
        if self.full_batch:
            return True
        from estlab.estimators import registry
        from estlab.widgets.picker import one_step

        return self.spec.estimator in registry.TARGETS and one_step(self.spec.estimator)

    @property
    def wall_time(self) -> float | None:
        """Seconds from the worker picking the run up to its end (or to now while running)."""
        if self.start_time is None:
            return None
        return (self.end_time or time.time()) - self.start_time

    @property
    def eta(self) -> float | None:
        """Seconds left (smoothed rate, counting down between events; see :class:`RateMeter`), or None."""
        if self.status != "running" or not self.target_step:
            return None
        return self.rates.eta_at(time.time())

    def history(self) -> dict[str, list[Any]]:
        """The drawn curves as long columns ``split, metric, step, value`` (what ``estlab.viz`` reads)."""
        rows: dict[str, list[Any]] = {"split": [], "metric": [], "step": [], "value": []}
        for (split, metric), curve in self.curves.items():
            steps, values = curve.points()
            rows["split"] += [split] * len(steps)
            rows["metric"] += [metric] * len(steps)
            rows["step"] += steps
            rows["value"] += values
        return rows


def apply_event(state: RunState, event: Mapping[str, Any]) -> None:
    """Update ``state`` from one training event (see ``estlab/training/events.py``) or a lab event.

    Training events are recorded by the run's History; lab events (``starting``, ``predictions``,
    ``cancelled``, ``released``) change only the lab's fields.
    """
    kind = event["type"]
    step = int(event["global_step"]) if event.get("global_step") is not None else state.global_step
    now = float(event.get("time") or time.time())
    if kind in EVENT_TYPES:
        plain = {**event, "global_step": step, "time": now}
        if kind == "train_end":
            plain.setdefault("status", "finished")
        state.record.dispatch(plain)
    if kind == "starting":  # the worker picked the run up: wall time counts from here (build, fit, train)
        state.status = "starting"
        state.start_time = now
        state.worker = event.get("worker", state.worker)
    elif kind == "train_begin":
        state.status = "running"
        state.start_time = state.start_time or now
        state.start_step = state.global_step = step
        state.target_step = event.get("target_step")
        state.device = str(event.get("device") or state.device)
        state.estimator_class = str(event.get("estimator") or state.estimator_class)
        state.full_batch = bool(event.get("full_batch", state.full_batch))
        state.rates.reset(now, step)
    elif kind == "step_end":
        state.global_step = step
        if state.status in ("queued", "starting"):
            state.status = "running"
            state.start_time = state.start_time or now
        raw = event.get("examples_per_sec")
        state.rates.update(now, step, state.target_step, None if raw is None else float(raw))
        state.steps_per_sec = state.rates.steps_per_sec
        state.examples_per_sec = state.rates.examples_per_sec
    elif kind == "evaluate":
        state.global_step = max(state.global_step, step)
    elif kind == "checkpoint":
        state.checkpoint = str(event.get("path", ""))
    elif kind == "train_end":
        state.status = str(event.get("status", "finished"))
        state.global_step = max(state.global_step, step)
        state.end_time = now
        state.reason = str(event.get("reason") or "")
        state.error = event.get("error")
        if state.start_time is None:
            state.start_time = now
    elif kind == "predictions":  # a plain record: where the worker wrote the eval-set predictions
        state.predictions_path = str(event["path"])
        state.model_dir = state.model_dir or os.path.dirname(state.predictions_path)
    elif kind == "cancelled":
        state.status = "cancelled"
        state.end_time = now
        state.reason = "cancelled before it started"
    elif kind == "released":
        state.released = True
