"""Training curves from a history, and several runs compared on one metric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from estlab._util import frame_columns
from estlab.viz._figure import EVAL_COLOR, TRAIN_COLOR, new_figure

LONG_COLUMNS = ["split", "metric", "step", "value"]
_STEP_KEYS = ("global_step", "step")


def curves_frame(history: Any) -> pd.DataFrame:
    """Normalise a training history to a long frame with columns ``split, metric, step, value``.

    Accepted: a long frame with those columns; a wide frame or a mapping of lists with a
    ``global_step``/``step`` column (and optionally a ``split`` column, default ``"train"``);
    ``{"train": ..., "eval": ...}`` of those; or an object with ``to_frame()``.

    Examples
    --------
    >>> curves_frame({"step": [1, 2], "loss": [0.9, 0.5]}).values.tolist()
    [['train', 'loss', 1, 0.9], ['train', 'loss', 2, 0.5]]
    """
    if hasattr(history, "to_frame") and not isinstance(history, pd.Series):
        history = history.to_frame()
    if isinstance(history, Mapping) and set(history) and set(history) <= {"train", "eval"}:
        parts = [_with_split(curves_frame(part), split) for split, part in history.items()]
        return pd.concat(parts, ignore_index=True) if parts else _empty()
    frame = pd.DataFrame(history) if isinstance(history, Mapping) else history
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"history: expected a DataFrame, a mapping of lists or an object with to_frame(), "
            f"got {type(history).__name__}; pass e.g. {{'step': [...], 'loss': [...]}}"
        )
    if set(LONG_COLUMNS) <= set(frame.columns):
        return _clean(frame_columns(frame, LONG_COLUMNS))
    step_key = next((k for k in _STEP_KEYS if k in frame.columns), None)
    if step_key is None:
        raise ValueError(
            f"history: no step column; expected one of {list(_STEP_KEYS)}, got columns {list(frame.columns)}"
        )
    id_vars = [step_key] + (["split"] if "split" in frame.columns else [])
    value_columns = [
        c for c in frame.columns if c not in id_vars and pd.api.types.is_numeric_dtype(frame[c])
    ]
    long = frame.melt(id_vars=id_vars, value_vars=value_columns, var_name="metric", value_name="value")
    long = long.rename(columns={step_key: "step"})
    if "split" not in long.columns:
        long["split"] = "train"
    return _clean(frame_columns(long, LONG_COLUMNS))


def _with_split(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    return frame.assign(split=split)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"split": [], "metric": [], "step": [], "value": []})


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.dropna(subset=["value"]).astype({"split": object, "metric": object})
    frame = frame.astype({"step": "int64", "value": "float64"})
    return frame.sort_values(["split", "metric", "step"], kind="stable").reset_index(drop=True)


def plot_curves(history: Any, metrics: list[str] | None = None, title: str | None = None) -> Figure:
    """One panel per metric, train and eval curves against the global step.

    Parameters
    ----------
    history
        Anything :func:`curves_frame` accepts.
    metrics
        Metrics to show, in order; default: ``loss`` first, then every other metric.
    title
        Optional figure title.

    Examples
    --------
    >>> fig = plot_curves({"step": [1, 2, 3], "loss": [0.9, 0.6, 0.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss']
    """
    long = curves_frame(history)
    available = list(dict.fromkeys(long["metric"]))
    if metrics is None:
        metrics = sorted(available, key=lambda m: (m != "loss", m))
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(f"metrics: {missing} not in the history; available: {available}")
    n = max(len(metrics), 1)
    fig = new_figure(min(4.0 * n, 12.0), 3.2)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for split, color in (("train", TRAIN_COLOR), ("eval", EVAL_COLOR)):
            part = long[(long["metric"] == metric) & (long["split"] == split)]
            if len(part):
                marker = "o" if split == "eval" else None
                ax.plot(part["step"], part["value"], color=color, label=split, marker=marker, markersize=3)
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if not metrics:
        axes[0].text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axes[0].transAxes)
    if title:
        fig.suptitle(title)
    return fig


def plot_comparison(
    runs: Mapping[str, Any], metric: str = "loss", split: str = "eval", baseline: str | None = None
) -> Figure:
    """Overlay one metric of several runs; the baseline run is drawn dashed and black.

    Parameters
    ----------
    runs
        Run name → history (anything :func:`curves_frame` accepts).
    metric, split
        Which curve to overlay. Falls back to the train split when a run has no eval points.
    baseline
        Name of the run to emphasise.

    Examples
    --------
    >>> fig = plot_comparison({"a": {"step": [1, 2], "loss": [1.0, 0.5]}}, split="train")
    >>> fig.axes[0].get_lines()[0].get_label()
    'a'
    """
    if baseline is not None and baseline not in runs:
        raise ValueError(f"baseline: {baseline!r} is not one of the runs {list(runs)}")
    fig = new_figure(7.0, 3.6)
    ax = fig.subplots()
    for name, history in runs.items():
        long = curves_frame(history)
        part = long[(long["metric"] == metric) & (long["split"] == split)]
        if part.empty:
            part = long[(long["metric"] == metric) & (long["split"] == "train")]
        if part.empty:
            continue
        marker = "o" if len(part) < 30 else None
        if name == baseline:
            ax.plot(part["step"], part["value"], label=name, marker=marker, color="black", linestyle="--", linewidth=2)
        else:
            ax.plot(part["step"], part["value"], label=name, marker=marker)
    ax.set_title(f"{split} {metric}")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, f"no run has {metric!r} yet", ha="center", va="center", transform=ax.transAxes)
    return fig


def last_values(history: Any) -> dict[str, float]:
    """The last value of every ``split/metric`` curve.

    Examples
    --------
    >>> last_values({"step": [1, 2], "loss": [0.9, 0.5]})
    {'train/loss': 0.5}
    """
    long = curves_frame(history)
    out: dict[str, float] = {}
    for key, part in long.groupby(["split", "metric"], sort=True):
        split, metric = cast(tuple[str, str], key)  # grouping by two columns gives (split, metric) keys
        out[f"{split}/{metric}"] = float(np.asarray(part["value"])[-1])
    return out
