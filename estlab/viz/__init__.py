"""estlab.viz: matplotlib figures for training runs (never pyplot; safe from any thread).

Every function returns a :class:`matplotlib.figure.Figure` with an Agg canvas; nothing is shown.

Examples
--------
>>> from estlab import viz
>>> fig = viz.plot_curves({"step": [1, 2], "loss": [0.9, 0.5]})
>>> png = viz.figure_to_png(fig)
"""

from estlab.viz._figure import figure_to_png, new_figure, theme_figure
from estlab.viz.classification import plot_calibration, plot_confusion, plot_roc_pr, plot_roc_pr_runs
from estlab.viz.curves import curves_frame, last_values, plot_comparison, plot_curves
from estlab.viz.live import Downsampler, LiveChart
from estlab.viz.regression import plot_residuals

__all__ = [
    "Downsampler",
    "LiveChart",
    "curves_frame",
    "figure_to_png",
    "last_values",
    "new_figure",
    "plot_calibration",
    "plot_comparison",
    "plot_confusion",
    "plot_curves",
    "plot_residuals",
    "plot_roc_pr",
    "plot_roc_pr_runs",
    "theme_figure",
]
