"""A persistent live chart: curves grow point by point, downsampled, rendered to PNG with Agg.

Built for a UI thread: no pyplot, no event loop. Memory and drawing cost stay bounded however
long the run is, because each curve keeps at most ``capacity`` points (bucket means whose bucket
size doubles when the buffer fills).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Protocol

from matplotlib.lines import Line2D

from estlab.training.metric_info import preferred_metrics
from estlab.viz._figure import EVAL_COLOR, TRAIN_COLOR, figure_to_png, new_figure

MIN_Y_SPAN = 0.02
_UNRANKED = 99
_TASKS = ("classification", "regression")


def metric_rank(metric: str) -> int:
    """Where ``metric`` comes in its task's preferred metrics (``metric_info.preferred_metrics``); 99 if none.

    Examples
    --------
    >>> metric_rank("accuracy"), metric_rank("rmse"), metric_rank("average_loss"), metric_rank("precision")
    (0, 0, 2, 99)
    """
    ranks = [order.index(metric) for order in map(preferred_metrics, _TASKS) if metric in order]
    return min(ranks, default=_UNRANKED)


def preferred_first(metrics: Iterable[str]) -> list[str]:
    """The preferred ones of ``metrics`` (see :func:`metric_rank`), best first.

    Examples
    --------
    >>> preferred_first(["loss", "average_loss", "auc", "accuracy"])
    ['accuracy', 'auc', 'average_loss']
    """
    ranked = [m for m in dict.fromkeys(metrics) if metric_rank(m) < _UNRANKED]
    return sorted(ranked, key=metric_rank)


class Points(Protocol):
    """A curve a chart can draw: anything with ``points() -> (steps, values)``."""

    def points(self) -> tuple[list[int], list[float]]: ...


class Downsampler:
    """Keep at most ``capacity`` points of a growing curve as means over buckets of consecutive points.

    Parameters
    ----------
    capacity
        Maximum number of stored buckets (even, at least 4).

    Examples
    --------
    >>> d = Downsampler(capacity=4)
    >>> for step in range(1, 8):
    ...     d.add(step, float(step))
    >>> d.points()  # buckets of two, the last one partial
    ([2, 4, 6, 7], [1.5, 3.5, 5.5, 7.0])
    """

    def __init__(self, capacity: int = 500) -> None:
        if capacity < 4 or capacity % 2:
            raise ValueError(f"capacity: must be an even number >= 4, got {capacity}")
        self.capacity = capacity
        self.bucket_size = 1
        self.count = 0
        self._steps: list[int] = []
        self._values: list[float] = []
        self._pending: list[tuple[int, float]] = []

    def add(self, step: int, value: float) -> None:
        """Append one point (non-finite values are skipped)."""
        if value is None or not math.isfinite(value):
            return
        self.count += 1
        self._pending.append((int(step), float(value)))
        if len(self._pending) < self.bucket_size:
            return
        self._steps.append(self._pending[-1][0])
        self._values.append(sum(v for _, v in self._pending) / len(self._pending))
        self._pending = []
        if len(self._steps) >= self.capacity:
            self._steps = self._steps[1::2]
            self._values = [(a + b) / 2 for a, b in zip(self._values[0::2], self._values[1::2])]
            self.bucket_size *= 2

    def points(self) -> tuple[list[int], list[float]]:
        """Steps and values, the partial last bucket included."""
        steps, values = list(self._steps), list(self._values)
        if self._pending:
            steps.append(self._pending[-1][0])
            values.append(sum(v for _, v in self._pending) / len(self._pending))
        return steps, values


class LiveChart:
    """Two panels, loss (train and eval) and one eval metric, updated point by point.

    Parameters
    ----------
    width, height, dpi
        Figure size in inches and resolution of the PNG.
    capacity
        Points kept per curve (see :class:`Downsampler`).

    Examples
    --------
    >>> chart = LiveChart()
    >>> chart.add("train", "loss", 1, 0.7)
    >>> chart.add("eval", "accuracy", 1, 0.8)
    >>> chart.render()[:4]
    b'\\x89PNG'
    >>> chart.metric
    'accuracy'
    """

    def __init__(self, width: float = 8.0, height: float = 2.6, dpi: int = 80, capacity: int = 400) -> None:
        self.capacity = capacity
        self.figure = new_figure(width, height, dpi, layout=None)
        self.figure.subplots_adjust(left=0.07, right=0.985, bottom=0.17, top=0.88, wspace=0.18)
        self.loss_ax, self.metric_ax = self.figure.subplots(1, 2, sharex=True)
        self.series: Mapping[tuple[str, str], Points] = {}
        self._lines: dict[tuple[str, str], Line2D] = {}
        self.metric: str | None = None
        self.render_seconds = 0.0
        self.render_count = 0
        self._dirty = True
        for ax, title in ((self.loss_ax, "loss"), (self.metric_ax, "eval metric")):
            ax.set_title(title, fontsize="medium")
            ax.set_xlabel("step", fontsize="small")
            ax.tick_params(labelsize="small")
            ax.grid(alpha=0.3)
        self._placeholder = self.metric_ax.text(
            0.5, 0.5, "waiting for the first evaluation", ha="center", va="center",
            transform=self.metric_ax.transAxes, color="grey", fontsize="small",
        )

    def add(self, split: str, metric: str, step: int, value: float | None) -> None:
        """Append one point to the ``split``/``metric`` curve."""
        if value is None:
            return
        if not isinstance(self.series, dict):
            raise TypeError("add: this chart draws attached curves (attach()); attach({}) first to add points")
        key = (split, metric)
        if key not in self.series:
            self.series[key] = Downsampler(self.capacity)
        sampler = self.series[key]
        if not isinstance(sampler, Downsampler):
            raise TypeError(f"add: the attached curve {key} is read-only; attach({{}}) first to add points")
        sampler.add(step, value)
        self._dirty = True

    def attach(self, series: Mapping[tuple[str, str], Points]) -> None:
        """Draw curves kept elsewhere (``(split, metric) -> `` anything with ``points()``), e.g. a run's History.

        Attaching another run's curves clears the lines but keeps the figure (one persistent chart).
        """
        if series is not self.series:
            for line in self._lines.values():
                line.remove()
            self._lines = {}
            self.metric = None
            self._placeholder.set_visible(True)
            self.metric_ax.set_title("eval metric", fontsize="medium")
            if self.loss_ax.get_legend() is not None:
                self.loss_ax.get_legend().remove()
        self.series = series
        self._dirty = True

    def _choose_metric(self, metric: str) -> None:
        if self.metric is None or metric_rank(metric) < metric_rank(self.metric):
            self.metric = metric

    def _line(self, key: tuple[str, str]) -> Line2D:
        if key not in self._lines:
            split, metric = key
            ax = self.loss_ax if metric == "loss" else self.metric_ax
            color = TRAIN_COLOR if split == "train" else EVAL_COLOR
            marker = "o" if split == "eval" else None
            (self._lines[key],) = ax.plot([], [], color=color, marker=marker, markersize=3, label=split)
            if metric == "loss":
                ax.legend(fontsize="x-small", loc="upper right")
        return self._lines[key]

    def render(self) -> bytes:
        """Update the lines' data (only the curves that changed) and return the chart as PNG bytes."""
        start = time.perf_counter()
        if self._dirty:
            for split, metric in self.series:
                if split == "eval" and metric != "loss":
                    self._choose_metric(metric)
            for key, sampler in self.series.items():
                split, metric = key
                if metric != "loss" and metric != self.metric:
                    continue
                self._line(key).set_data(*sampler.points())
            if self.metric is not None:
                self._placeholder.set_visible(False)
                self.metric_ax.set_title(f"eval {self.metric}", fontsize="medium")
            for ax in (self.loss_ax, self.metric_ax):
                ax.set_autoscaley_on(True)  # set_ylim below turns autoscaling off; every render starts afresh
                ax.relim()
                ax.autoscale_view()
                low, high = ax.get_ylim()
                if high - low < MIN_Y_SPAN:  # a flat metric should look flat, not like a cliff
                    middle = (low + high) / 2
                    ax.set_ylim(middle - MIN_Y_SPAN / 2, middle + MIN_Y_SPAN / 2)
            self._dirty = False
        png = figure_to_png(self.figure)
        self.render_seconds += time.perf_counter() - start
        self.render_count += 1
        return png
