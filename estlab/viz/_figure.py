"""Figures without pyplot: a ``Figure`` with an Agg canvas, and PNG bytes from it."""

from __future__ import annotations

import io
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TRAIN_COLOR = "#1f77b4"
EVAL_COLOR = "#ff7f0e"
#: Text and frame colours of a figure drawn for a dark page (JupyterLab's dark theme: ui-font-color1/2).
DARK_TEXT = "#d9d9d9"
DARK_FRAME = "#8c8c8c"
DARK_LEGEND = "#2a2a2a"


def new_figure(
    width: float = 6.4, height: float = 4.0, dpi: int = 100, layout: Literal["constrained", "compressed", "tight"] | None = "constrained"
) -> Figure:
    """Return a ``Figure`` with its own Agg canvas (thread-safe; pyplot is never touched).

    ``layout=None`` skips the layout engine (half the drawing time; for live charts).

    Examples
    --------
    >>> fig = new_figure(3, 2)
    >>> fig.canvas.get_width_height()
    (300, 200)
    """
    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig: Figure, dpi: float | None = None) -> bytes:
    """Render ``fig`` to PNG bytes with the Agg canvas.

    Examples
    --------
    >>> figure_to_png(new_figure(1, 1))[:4]
    b'\\x89PNG'
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    canvas.print_png(buffer) if dpi is None else fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def theme_figure(fig: Figure, dark: bool) -> Figure:
    """Make ``fig`` readable on the page's theme: for a dark page, a transparent background with light text,
    ticks, frames and legends (the data's own colours stay); for a light page, ``fig`` as drawn.

    Recolours this figure's artists only (no rcParams), so it is safe from any thread.

    Examples
    --------
    >>> fig = new_figure(2, 2); ax = fig.subplots(); _ = ax.set_title("t")
    >>> _ = theme_figure(fig, dark=True)
    >>> fig.patch.get_alpha(), ax.title.get_color()
    (0.0, '#d9d9d9')
    """
    if not dark:
        return fig
    fig.patch.set_alpha(0.0)
    for ax in fig.axes:
        ax.set_facecolor("none")
        ax.tick_params(which="both", colors=DARK_TEXT)
        for spine in ax.spines.values():
            spine.set_edgecolor(DARK_FRAME)
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            text.set_color(DARK_TEXT)
        for loc in ("left", "right"):
            if ax.get_title(loc):
                ax.set_title(ax.get_title(loc), loc=loc, color=DARK_TEXT)
        for line in [*ax.get_xgridlines(), *ax.get_ygridlines()]:
            line.set_color(DARK_FRAME)
        legend = ax.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor(DARK_LEGEND)
            legend.get_frame().set_edgecolor(DARK_FRAME)
            for text in legend.get_texts():
                text.set_color(DARK_TEXT)
    suptitle = getattr(fig, "_suptitle", None)  # matplotlib keeps it here; None without one
    if suptitle is not None:
        suptitle.set_color(DARK_TEXT)
    return fig
