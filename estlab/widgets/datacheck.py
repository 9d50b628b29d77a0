"""``DataCheckPanel``: :func:`estlab.datacheck.check` shown in the lab when the label is picked; errors block Train."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import ipywidgets as widgets
import pandas as pd

from estlab.datacheck import blocking, check
from estlab.widgets._html import esc

_COLORS = {"error": "var(--jp-error-color1,#c62828)", "warning": "var(--jp-warn-color1,#b26a00)",
           "info": "var(--jp-info-color1,#1565c0)"}


class _Problem(Protocol):
    """One row of a :func:`~estlab.datacheck.check` report (its ``COLUMNS``)."""

    severity: str
    check: str
    column: str
    value: float
    message: str
    fix: str


def _problems(report: pd.DataFrame) -> Iterator[_Problem]:
    """The report's rows as named tuples, one field per report column."""
    # pandas has no type information: itertuples' namedtuples are inferred as plain tuples
    return cast(Iterator[_Problem], report.itertuples())


def report_html(report: pd.DataFrame, label: str | None) -> str:
    """The report as an HTML summary line and table (errors first).

    Examples
    --------
    >>> report_html(pd.DataFrame(columns=["severity", "check", "column", "value", "message", "fix"]), "y")
    '<div class="estlab-check-summary">Data check for <b>y</b>: no problems found.</div>'
    """
    if label is None:
        return '<div class="estlab-check-summary">Pick the label column to check the data.</div>'
    counts = Counter(report["severity"].tolist())
    errors, warns = counts["error"], counts["warning"]
    if not len(report):
        return f'<div class="estlab-check-summary">Data check for <b>{esc(label)}</b>: no problems found.</div>'
    head = (f'<div class="estlab-check-summary">Data check for <b>{esc(label)}</b>: '
            + (f'<b style="color:{_COLORS["error"]}">{errors:,} blocking problem{"s" * (errors != 1)}</b> '
               "(Train is refused until they are fixed) · " if errors else "")
            + f"{warns:,} warning{'s' * (warns != 1)} · {len(report) - errors - warns:,} note(s)</div>")
    rows = "".join(
        f'<tr class="estlab-check-{esc(r.severity)}"><td style="color:{_COLORS.get(r.severity, "inherit")};'
        f'font-weight:600">{esc(r.severity)}</td><td>{esc(r.check)}</td><td><code>{esc(r.column)}</code></td>'
        f"<td>{esc(r.message)}</td><td>{esc(r.fix)}</td></tr>"
        for r in _problems(report))
    return (head + '<table class="estlab-check-table" style="border-collapse:separate;border-spacing:10px 2px;'
            'margin-left:-10px;font-size:12px;table-layout:auto;max-width:100%"><thead><tr>'
            '<th align="left">severity</th><th align="left">check</th>'
            '<th align="left">column</th><th align="left">found</th><th align="left">fix</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


class DataCheckPanel:
    """Run the data check in a background thread whenever the label or the feature set changes.

    Parameters
    ----------
    train_df, eval_df
        The lab's frames.
    label
        The label column (None: nothing to check yet).
    columns
        Called for the raw columns the features read (default: every column but the label).

    Examples
    --------
    >>> train = pd.DataFrame({"x": [float(i % 7) for i in range(40)], "y": [0, 1, None, 1] * 10})
    >>> panel = DataCheckPanel(train, train, "y")
    >>> panel.wait()["check"].tolist()
    ['label_nan', 'label_nan']
    >>> panel.blocking_message().startswith("the data check found 2 blocking problems")
    True
    """

    def __init__(self, train_df: pd.DataFrame, eval_df: pd.DataFrame, label: str | None = None,
                 columns: Callable[[], list[str]] | None = None) -> None:
        self.train_df, self.eval_df = train_df, eval_df
        self.columns = columns
        self.label: str | None = None
        self.report = pd.DataFrame(columns=["severity", "check", "column", "value", "message", "fix"])
        self.html = widgets.HTML('<div class="estlab-check-summary">Checking the data…</div>')
        self.html.add_class("estlab-datacheck")
        self.box = widgets.VBox([self.html], layout=widgets.Layout(margin="0 0 8px 0"))
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._key: tuple[Any, ...] | None = None
        self.refresh(label)

    def refresh(self, label: str | None) -> None:
        """Check again for ``label`` and the current columns (in the background; :meth:`wait` joins)."""
        cols = self.columns() if self.columns is not None else None
        key = (label, tuple(cols) if cols is not None else None)
        if key == self._key:
            return
        self._key = key
        self.label = label
        if label is None:
            self.report = self.report.iloc[0:0]
            self.html.value = report_html(self.report, None)
            return
        self.html.value = f'<div class="estlab-check-summary">Checking the data for <b>{esc(label)}</b>…</div>'
        thread = threading.Thread(target=self._run, args=(key,), name="estlab-datacheck", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self, key: tuple[Any, ...]) -> None:
        label, cols = key
        try:
            report = check(self.train_df, self.eval_df, label=label, columns=None if cols is None else list(cols))
        except Exception as exc:  # a broken check is shown, never raised into the front end
            report = pd.DataFrame([{"severity": "warning", "check": "check_failed", "column": "",
                                    "value": float("nan"), "message": f"{type(exc).__name__}: {exc}",
                                    "fix": "report this; training is not blocked"}])
        with self._lock:
            if key != self._key:
                return  # a newer check is running
            self.report = report
            self.html.value = report_html(report, label)

    def wait(self, timeout: float = 120.0) -> pd.DataFrame:
        """The report, once the running check (if any) is done."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.report

    def blocking(self) -> pd.DataFrame:
        """The problems that refuse a run."""
        return blocking(self.wait())

    def blocking_message(self) -> str:
        """One message listing the blocking problems ("" when there are none)."""
        rows = self.blocking()
        if not len(rows):
            return ""
        items = "; ".join(f"{r.column or 'data'}: {r.message} (fix: {r.fix})" for r in _problems(rows))
        return f"the data check found {len(rows)} blocking problem{'s' * (len(rows) != 1)}: {items}"

    def close(self) -> None:
        """Close the widgets."""
        self.html.close()
        self.box.close()
