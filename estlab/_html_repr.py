"""Rich notebook display (``_repr_html_``) of estimators and feature columns: an escaped HTML table.

Torch-free: it reads plain attributes (``get_params``, a column's dataclass fields) and imports nothing of
estlab, so ``estlab.features`` can use it without loading torch. Every value is escaped with
:func:`html.escape`; a value's text is its ``repr`` (a callable: its ``module.qualname``), cut at 200
characters.

Examples
--------
>>> print(html_table("Demo", [("units", [64, 32]), ("name", "<b>")]))  # doctest: +NORMALIZE_WHITESPACE
<div class="estlab-repr"><b>Demo</b><table><tbody><tr><th style="text-align:left">units</th><td
style="text-align:left"><code>[64, 32]</code></td></tr><tr><th style="text-align:left">name</th><td
style="text-align:left"><code>&#x27;&lt;b&gt;&#x27;</code></td></tr></tbody></table></div>
"""

from __future__ import annotations

import dataclasses
import html
import inspect
from collections.abc import Iterable
from typing import Any

__all__ = ["column_html", "estimator_html", "html_table", "value_text"]

#: longest value text shown in a cell (the rest becomes "...")
MAX_TEXT = 200


def value_text(value: Any) -> str:
    """Short readable text of a parameter value: a callable's ``module.qualname``, else its ``repr``.

    Examples
    --------
    >>> import math
    >>> value_text(math.sqrt), value_text((1, 2))
    ('math.sqrt', '(1, 2)')
    """
    if (inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value)) and hasattr(
            value, "__qualname__"):
        module = getattr(value, "__module__", None)
        text = f"{module}.{value.__qualname__}" if module else value.__qualname__
    else:
        text = repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def html_table(title: str, rows: Iterable[tuple[str, Any]], note: str | None = None) -> str:
    """``<div>`` with a bold title, a two-column table (name, value text) and an optional note, all escaped.

    Examples
    --------
    >>> "&lt;x&gt;" in html_table("<x>", [])
    True
    """
    cells = "".join(
        f'<tr><th style="text-align:left">{html.escape(str(name))}</th>'
        f'<td style="text-align:left"><code>{html.escape(value_text(value))}</code></td></tr>'
        for name, value in rows
    )
    extra = f"<div>{html.escape(note)}</div>" if note else ""
    return f'<div class="estlab-repr"><b>{html.escape(title)}</b><table><tbody>{cells}</tbody></table>{extra}</div>'


def column_html(column: Any) -> str:
    """A feature column's spec: its kind and name, every dataclass field, and the Python that rebuilds it.

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> "normalizer" in column_html(numeric_column("age", normalizer="zscore"))
    True
    """
    rows = [(f.name, getattr(column, f.name)) for f in dataclasses.fields(column)] if dataclasses.is_dataclass(
        column) else []
    try:
        note: str | None = f"source: {column.to_source()}"
    except Exception:  # noqa: BLE001 - a lambda has no source; the table is still shown
        note = None
    title = f"{type(column).__name__} {getattr(column, 'name', '')!s} ({getattr(column, 'kind', 'column')})"
    return html_table(title, rows, note)


def estimator_html(estimator: Any) -> str:
    """An estimator's constructor parameters (``get_params(deep=False)``, else ``model_fn``/``params``), its
    model_dir as given and its global step when a checkpoint exists.

    Reading it makes no temporary directory and builds no model.

    Examples
    --------
    >>> class Fake:
    ...     def get_params(self, deep=False):
    ...         return {"hidden_units": [8], "model_dir": None}
    >>> "hidden_units" in estimator_html(Fake())
    True
    """
    get_params = getattr(estimator, "get_params", None)
    if callable(get_params):
        rows = list(get_params(deep=False).items())
    else:
        rows = [("model_fn", getattr(estimator, "model_fn", None)), ("params", getattr(estimator, "params", {})),
                ("model_dir", getattr(estimator, "_model_dir", None))]
    note = None
    step = getattr(estimator, "_checkpoint_step", None)
    if callable(step) and (value := step()) is not None:
        note = f"trained to global step {value}"
    return html_table(type(estimator).__name__, rows, note)
