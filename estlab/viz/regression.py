"""Regressor figures: predicted against true, and residuals."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from estlab.viz._figure import new_figure


def plot_residuals(y_true: Any, y_pred: Any, max_points: int = 5000, seed: int = 0) -> Figure:
    """Predicted vs. true (with the identity line) and residuals vs. predicted, with the RMSE in the title.

    Parameters
    ----------
    y_true, y_pred
        True and predicted values, same length.
    max_points
        Scatter at most this many points (a fixed random sample); the RMSE uses all of them.
    seed
        Seed of that sample.

    Examples
    --------
    >>> fig = plot_residuals([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    >>> fig.axes[1].get_title()
    'Residuals (RMSE 1.155)'
    """
    true = np.asarray(y_true, dtype=float).ravel()
    pred = np.asarray(y_pred, dtype=float).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_pred: expected {true.shape[0]} values like y_true, got {pred.shape[0]}")
    residuals = true - pred
    rmse = float(np.sqrt(np.mean(residuals**2)))
    shown = np.arange(len(true))
    if len(true) > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(len(true), max_points, replace=False))
    fig = new_figure(9.0, 3.8)
    scatter_ax, residual_ax = fig.subplots(1, 2)
    scatter_ax.scatter(true[shown], pred[shown], s=6, alpha=0.4)
    low, high = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    scatter_ax.plot([low, high], [low, high], color="grey", linestyle=":")
    scatter_ax.set(title="Predicted vs. true", xlabel="true", ylabel="predicted")
    residual_ax.scatter(pred[shown], residuals[shown], s=6, alpha=0.4)
    residual_ax.axhline(0.0, color="grey", linestyle=":")
    residual_ax.set(title=f"Residuals (RMSE {rmse:.3f})", xlabel="predicted", ylabel="true − predicted")
    for ax in (scatter_ax, residual_ax):
        ax.grid(alpha=0.3)
    return fig
