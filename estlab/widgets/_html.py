"""Small HTML helpers shared by the widgets (escaping, badges, messages, static fallbacks)."""

from __future__ import annotations

import base64
import html
from typing import Any

STATUS_COLORS = {
    "queued": "#6c757d", "starting": "#6f42c1", "running": "#0d6efd", "finished": "#198754", "stopped": "#b8860b",
    "failed": "#dc3545", "cancelled": "#6c757d",
}
#: Message boxes: a translucent tint and the theme's text colour, so they read in light and dark themes alike.
LEVEL_STYLES = {
    "info": "color:var(--jp-ui-font-color1,#1f4e79);background:rgba(74,144,217,0.14);border-left:4px solid #4a90d9",
    "warning": "color:var(--jp-ui-font-color1,#7a5b00);background:rgba(240,173,78,0.18);"
               "border-left:4px solid #f0ad4e",
    "error": "color:var(--jp-ui-font-color1,#842029);background:rgba(220,53,69,0.16);border-left:4px solid #dc3545",
}


def esc(value: Any) -> str:
    """HTML-escape ``str(value)``.

    Examples
    --------
    >>> esc("<b>")
    '&lt;b&gt;'
    """
    return html.escape(str(value))


def badge(status: str) -> str:
    """A coloured status pill.

    Examples
    --------
    >>> "running" in badge("running")
    True
    """
    color = STATUS_COLORS.get(status.split(" ")[0], "#6c757d")
    return (f'<span class="estlab-status estlab-status-{esc(status.split(" ")[0])}" style="background:{color};'
            f'color:white;border-radius:8px;padding:1px 8px;font-size:0.85em">{esc(status)}</span>')


def message(text: str, level: str = "info") -> str:
    """A coloured message box, or an empty string for no text.

    Examples
    --------
    >>> message("")
    ''
    """
    if not text:
        return ""
    style = LEVEL_STYLES.get(level, LEVEL_STYLES["info"])
    return (f'<div class="estlab-msg estlab-msg-{esc(level)}" style="{style};padding:4px 8px;margin:2px 0;'
            f'white-space:pre-wrap;font-family:var(--jp-code-font-family,monospace);font-size:12px">'
            f"{esc(text)}</div>")


def png_img(png: bytes, alt: str = "chart") -> str:
    """An ``<img>`` with the PNG inlined as base64 (for static fallbacks).

    Examples
    --------
    >>> png_img(b"")
    ''
    """
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}" style="max-width:100%"/>'


def fmt_duration(seconds: float | None) -> str:
    """``h:mm:ss`` or ``m:ss``; ``–`` for None.

    Examples
    --------
    >>> fmt_duration(75.4), fmt_duration(3725), fmt_duration(None)
    ('1:15', '1:02:05', '–')
    """
    if seconds is None:
        return "–"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_remaining(seconds: float | None) -> str:
    """Time left in words (``18 min 39 s``, ``1 h 02 min``, ``45 s``), never read as a clock time; ``–`` for None.

    Examples
    --------
    >>> fmt_remaining(1119), fmt_remaining(3725), fmt_remaining(45.4), fmt_remaining(None)
    ('18 min 39 s', '1 h 02 min', '45 s', '–')
    """
    if seconds is None:
        return "–"
    total = max(int(round(seconds)), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def with_fallback(box: Any, static_html: str, **kwargs: Any) -> dict[str, Any]:
    """The widget's mimebundle plus a static ``text/html`` for front ends without widgets."""
    bundle = box._repr_mimebundle_(**kwargs)
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    data["text/html"] = static_html
    return data
