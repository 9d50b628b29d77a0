"""``RunsView``: the leaderboard (sortable, with a baseline), curve overlays and per-run diagnostics."""

from __future__ import annotations

import math
import time
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab.training.metric_info import higher_is_better
from estlab.viz import figure_to_png, plot_comparison, plot_confusion, plot_residuals, plot_roc_pr
from estlab.viz.live import preferred_first
from estlab.widgets._html import badge, esc, fmt_duration, png_img, with_fallback
from estlab.widgets.runs import FIXED_COLUMNS, RunManager

_MAX_METRICS = 4
_LAUNCH_ORDER = "launch order"
#: Share of wall time the table may take while runs only tick (status and metric changes redraw at once).
TABLE_BUDGET = 0.01
DRAW_BUDGET = 0.01


class RunsView:
    """Every run in a sortable table; overlay selected runs' curves; compare against a baseline; diagnostics.

    Parameters
    ----------
    manager
        The lab's :class:`RunManager` (its UI thread renders this view).

    Examples
    --------
    >>> manager = RunManager(job_factory=lambda spec, name: None)
    >>> view = RunsView(manager)
    >>> view.leaderboard().empty
    True
    >>> view.close(); manager.close()
    """

    def __init__(self, manager: RunManager) -> None:
        self.manager = manager
        self._overlay_key: Any = None
        self._diag_key: Any = None
        self._overlay_next = 0.0
        self._overlay_png = b""
        self._table_key: Any = None
        self._table_next = 0.0
        self.sort_by = widgets.Dropdown(options=[(_LAUNCH_ORDER, "")], value="", description="sort by",
                                        style={"description_width": "55px"}, layout=widgets.Layout(width="230px"))
        self.sort_by.add_class("estlab-sort")
        self.reverse = widgets.ToggleButton(value=False, description="reverse", icon="exchange",
                                            layout=widgets.Layout(width="100px"))
        self.baseline = widgets.Dropdown(options=[("none", None)], value=None, description="baseline",
                                         style={"description_width": "60px"}, layout=widgets.Layout(width="260px"))
        self.baseline.add_class("estlab-baseline")
        self.table = widgets.HTML("<i>No runs yet.</i>")
        self.table.add_class("estlab-leaderboard")
        self.select = widgets.SelectMultiple(options=[], rows=6, description="overlay",
                                             style={"description_width": "55px"}, layout=widgets.Layout(width="330px"))
        self.select.add_class("estlab-select-runs")
        self.metric = widgets.Dropdown(options=["loss"], value="loss", description="metric",
                                       style={"description_width": "55px"}, layout=widgets.Layout(width="330px"))
        self.metric.add_class("estlab-overlay-metric")
        self.overlay = widgets.Image(format="png", layout=widgets.Layout(width="560px", display="none"))
        self.overlay.add_class("estlab-overlay")
        self.diag_run = widgets.Dropdown(options=[("–", None)], value=None, description="diagnose",
                                         style={"description_width": "60px"}, layout=widgets.Layout(width="300px"))
        self.diag_run.add_class("estlab-diag-run")
        self.release_button = widgets.Button(description="Release model", icon="trash",
                                             tooltip="Free the model of this finished run (its metrics stay)")
        self.release_button.add_class("estlab-release")
        self.diagnostics = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        self.diagnostics.add_class("estlab-diagnostics")
        self.diag_note = widgets.HTML("")
        self.box = widgets.VBox([
            widgets.HBox([self.sort_by, self.reverse, self.baseline]),
            self.table,
            widgets.HTML("<b>Compare curves</b>"),
            widgets.HBox([widgets.VBox([self.select, self.metric], layout=widgets.Layout(min_width="340px")),
                          self.overlay]),
            widgets.HTML("<b>Diagnostics</b> (evaluation set)"),
            widgets.HBox([self.diag_run, self.release_button]),
            self.diag_note,
            self.diagnostics,
        ])
        self.box.add_class("estlab-runs")
        for control in (self.sort_by, self.reverse, self.baseline, self.select, self.metric, self.diag_run):
            control.observe(self._on_control, names="value")
        self.release_button.on_click(self._on_release)
        manager.attach(self)

    def leaderboard(self) -> pd.DataFrame:
        """The table as a DataFrame, with the view's sorting and baseline."""
        runs = set(self.manager.runs)
        baseline = self.baseline.value if self.baseline.value in runs else None
        frame = self.manager.leaderboard(baseline=baseline)
        key = self.sort_by.value if self.sort_by.value in frame.columns else None
        if key is not None:
            ascending = not higher_is_better(key) if key not in ("run", "estimator", "status") else True
            frame = self.manager.leaderboard(sort_by=key, ascending=ascending != self.reverse.value,
                                             baseline=baseline)
        return frame

    # ---- handlers (kernel thread) --------------------------------------------------------------
    def _on_control(self, _change: Any) -> None:
        self.manager.refresh()

    def _on_release(self, _button: Any = None) -> None:
        name = self.diag_run.value
        if name is None:
            return
        try:
            self.manager.release(name)
            self.manager.notify(f"released the model of {name!r}; its record stays")
        except RuntimeError as exc:
            self.manager.notify(str(exc), "warning")

    # ---- rendering (UI owner thread) ---------------------------------------------------------
    def render(self, manager: RunManager, dirty: set[str]) -> None:
        """Redraw table, selectors, overlay and diagnostics (the table throttles itself while runs only tick)."""
        controls = (self.sort_by.value, self.reverse.value, self.baseline.value, self.select.value, self.metric.value,
                    self.diag_run.value)
        key = (controls, tuple((s.name, s.status, s.released, len(s.record.evaluations), s.predictions_path)
                               for s in manager.runs.values()))
        if key == self._table_key and time.monotonic() < self._table_next:
            return
        start = time.perf_counter()
        frame = self.leaderboard()
        names = list(manager.runs)
        metrics = self._metric_columns(frame)
        curve_metrics = sorted({m for s in manager.runs.values() for (_, m) in s.curves}) or ["loss"]
        overlay_png = self._overlay(manager, dirty)
        diag_png, diag_note = self._diagnose(manager)
        with self.box.hold_sync():
            _set_options(self.sort_by, [(_LAUNCH_ORDER, "")] + [(c, c) for c in [*metrics, "run", "status", "steps",
                                                                                 "wall_time_s"]])
            _set_options(self.baseline, [("none", None)] + [(n, n) for n in names])
            _set_options(self.select, [(n, n) for n in names])
            _set_options(self.metric, [(m, m) for m in curve_metrics])
            done = [n for n, s in manager.runs.items() if s.status in ("finished", "stopped", "failed")]
            _set_options(self.diag_run, [("–", None)] + [(n, n) for n in done])
            if self.diag_run.value is None and done:
                self.diag_run.value = done[0]  # something to look at; the observer asks for a redraw
            if not self.select.value and done:
                self.select.value = tuple(done[:4])
            self.table.value = self._table_html(frame, metrics)
            if overlay_png is not None:
                self.overlay.value = overlay_png
                self.overlay.layout.display = None
            if diag_png is not None:
                self.diagnostics.value = diag_png
                self.diagnostics.layout.display = None if diag_png else "none"
                self.diag_note.value = diag_note
        self._table_key = key
        self._table_next = time.monotonic() + max(1.0, (time.perf_counter() - start) / TABLE_BUDGET)

    def _metric_columns(self, frame: pd.DataFrame) -> list[str]:
        """The heads' preferred metrics present in ``frame`` (else its first metric columns), at most four."""
        metrics = [c for c in frame.columns if c not in FIXED_COLUMNS and not c.startswith("Δ ")]
        return (preferred_first(metrics) or metrics)[:_MAX_METRICS]

    def _table_html(self, frame: pd.DataFrame, metrics: list[str]) -> str:
        if frame.empty:
            return "<i>No runs yet: queue estimators and click Train.</i>"
        baseline = self.baseline.value
        head = ["run", "status", *metrics, "steps", "wall time", "device", "params", "features"]
        cells = "".join(f'<th style="text-align:left;padding:2px 8px;white-space:nowrap">{esc(h)}</th>' for h in head)
        rows = []
        for _, row in frame.iterrows():
            is_base = row["run"] == baseline
            tds = [f'<b title="{esc(row["estimator"])}">{esc(row["run"])}</b>' + (" ★" if is_base else ""),
                   badge(str(row["status"]))]
            for metric in metrics:
                value = _num(row.get(metric))
                text = "–" if value is None else f"{value:.4f}"
                delta = _num(row.get(f"Δ {metric}"))
                if delta is not None and not is_base and value is not None:
                    better = (delta > 0) == higher_is_better(metric)
                    color = "#198754" if better else "#dc3545"
                    text += f' <span style="color:{color};font-size:11px">({delta:+.4f})</span>'
                tds.append(text)
            tds += [f"{int(row['steps']):,}", fmt_duration(_num(row["wall_time_s"])), esc(row["device"]),
                    f'<span style="font-size:11px">{esc(row["params"]) or "defaults"}</span>',
                    f'<span style="font-size:11px">{esc(row["features"])}</span>']
            style = "background:#fff8e1" if is_base else ""
            rows.append(f'<tr style="{style};border-bottom:1px solid #eee">' + "".join(
                f'<td style="padding:2px 8px;white-space:nowrap">{t}</td>' for t in tds) + "</tr>")
        return (f'<div style="overflow-x:auto;max-width:100%"><table class="estlab-table" style="border-collapse:'
                f'collapse;font-size:13px;line-height:1.4"><thead style="border-bottom:1px solid #999"><tr>{cells}'
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _overlay(self, manager: RunManager, dirty: set[str]) -> bytes | None:
        selected = [n for n in self.select.value if n in manager.runs]
        if not selected:
            return None
        key = (tuple(selected), self.metric.value, self.baseline.value)
        changed = key != self._overlay_key
        if not changed and (not dirty & set(selected) or time.monotonic() < self._overlay_next):
            return None
        start = time.perf_counter()
        runs = {n: manager.runs[n].history() for n in selected}
        baseline = self.baseline.value if self.baseline.value in runs else None
        metric = str(self.metric.value)  # a curve name: its options are never empty
        png = figure_to_png(plot_comparison(runs, metric=metric, split="eval", baseline=baseline))
        self._overlay_next = time.monotonic() + max(0.5, (time.perf_counter() - start) / DRAW_BUDGET)
        self._overlay_key = key
        self._overlay_png = png
        return png

    def _diagnose(self, manager: RunManager) -> tuple[bytes | None, str]:
        name = self.diag_run.value
        state = manager.runs.get(name) if name else None
        key = (name, state.predictions_path if state is not None else None)
        if state is None or key == self._diag_key:
            return None, ""
        self._diag_key = key
        predictions = state.predictions  # read from the run's model_dir only now, when it is shown
        if predictions is None:
            return b"", f"<i>{esc(name)} has no predictions (it {esc(state.status)} before they were made).</i>"
        return diagnostics_png(predictions), ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        frame = self.leaderboard()
        static = self._table_html(frame, self._metric_columns(frame)) + png_img(self._overlay_png, "overlay")
        return with_fallback(self.box, static, **kwargs)

    def close(self) -> None:
        """Detach from the manager and close the widgets."""
        self.manager.detach(self)
        self.box.close()


def diagnostics_png(predictions: dict[str, Any]) -> bytes:
    """ROC/PR and confusion matrix (classification) or residuals (regression), stacked in one PNG.

    Examples
    --------
    >>> png = diagnostics_png({"task": "regression", "y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]})
    >>> png[:4]
    b'\\x89PNG'
    """
    if predictions["task"] == "regression":
        return figure_to_png(plot_residuals(predictions["y_true"], predictions["y_pred"]))
    import io

    from PIL import Image  # matplotlib depends on pillow

    classes = list(predictions["classes"])
    probabilities = predictions["probabilities"]
    y_true = predictions["y_true"]
    if len(classes) == 2:
        roc = plot_roc_pr(y_true, probabilities[:, 1], pos_label=classes[1])
    else:
        roc = plot_roc_pr(y_true, probabilities, classes=classes)
    confusion = plot_confusion(y_true, predictions["y_pred"], labels=classes)
    images = [Image.open(io.BytesIO(figure_to_png(fig))) for fig in (roc, confusion)]
    width = sum(i.width for i in images)
    canvas = Image.new("RGB", (width, max(i.height for i in images)), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _set_options(widget: widgets.Dropdown | widgets.SelectMultiple, options: list[tuple[str, Any]]) -> None:
    """Replace a selector's options only when they changed, keeping the selection."""
    if list(widget.options) == options:
        return
    value = widget.value
    widget.options = options
    values = [v for _, v in options]
    if isinstance(value, tuple):
        widget.value = tuple(v for v in value if v in values)
    elif value in values:
        widget.value = value
