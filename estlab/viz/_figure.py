"""Figures without pyplot: a ``Figure`` with an Agg canvas, and PNG bytes from it."""

from __future__ import annotations

import io
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TRAIN_COLOR = "#1f77b4"
EVAL_COLOR = "#ff7f0e"


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
