"""``RunsView``: the leaderboard (best first, a baseline), every run's curves overlaid in the browser, and
diagnostics of the best run.

Defaults are the useful view and follow the runs until the user picks otherwise: the table ranks runs by the
task's main metric (ties broken by the next preferred metrics, equal runs share a rank), the baseline is the
first baseline estimator (else the first run), the overlay shows every run's curves (a :class:`CurveChart`:
train and eval, step or wall-time axis) and the diagnostics show the best finished run.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab.training.metric_info import higher_is_better
from estlab.viz import (
    figure_to_png,
    plot_comparison,
    plot_confusion,
    plot_residuals,
    plot_roc_pr,
    plot_roc_pr_runs,
    theme_figure,
)
from estlab.viz.live import preferred_first
from estlab.widgets._format import as_number, fmt_delta, fmt_value
from estlab.widgets._html import badge, esc, fmt_duration, png_img, with_fallback
from estlab.widgets.chart import CurveChart, chart_metrics
from estlab.widgets.runs import FIXED_COLUMNS, RunManager

_MAX_METRICS = 4
#: Most runs drawn on the ROC/PR comparison (the best ranked of the selected ones).
MAX_ROC_RUNS = 8
_BEST, _LAUNCH = "", "__launch__"
_DONE = ("finished", "stopped", "failed")
_ENDED = (*_DONE, "cancelled", "interrupted")
#: Share of wall time the table may take while runs only tick (a new run, a status or a choice redraws at once).
TABLE_BUDGET = 0.005
#: Fewest seconds between two such redraws (the overlaid curves, not the table, are the live view).
TABLE_EVERY = 2.0
_GOOD, _BAD = "var(--jp-success-color1,#198754)", "var(--jp-error-color1,#dc3545)"
_MUTED = "color:var(--jp-ui-font-color2,#666)"
_WRAP = "white-space:normal;min-width:200px;max-width:420px;overflow-wrap:anywhere"
_NOWRAP = "white-space:nowrap"


def main_metrics(frame: pd.DataFrame) -> list[str]:
    """The metric columns a leaderboard shows, the main one first: R² (regression), then the heads' preferred ones.

    Examples
    --------
    >>> main_metrics(pd.DataFrame(columns=["run", "loss", "average_loss", "auc", "accuracy", "precision"]))
    ['accuracy', 'auc', 'average_loss']
    >>> main_metrics(pd.DataFrame(columns=["run", "average_loss", "rmse", "mae", "r2"]))
    ['r2', 'rmse', 'mae', 'average_loss']
    """
    metrics = [c for c in frame.columns if c not in FIXED_COLUMNS and c != "rank" and not str(c).startswith("Δ ")]
    ranked = (["r2"] if "r2" in metrics else []) + [m for m in preferred_first(metrics) if m != "r2"]
    return (ranked or metrics)[:_MAX_METRICS]


def _structure(key: Any) -> Any:
    """A table key without the evaluation counts: what must redraw the table at once when it changes."""
    if key is None:
        return None
    controls, runs = key
    return controls, tuple((name, status, released, predictions) for name, status, released, _, predictions in runs)


def _settled(key: Any) -> Any:
    """A table key of the ended runs only: what a hidden view redraws for (a run ended or was released)."""
    if key is None:
        return None
    controls, runs = _structure(key)
    return controls, tuple(run for run in runs if run[1] in _ENDED)


def rank_runs(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """``frame`` best first by ``metrics`` (the first decides, the next ones break ties), with a ``rank`` column.

    Runs equal on every metric share a rank (1, 2, 2, 4); runs without the main metric come last, unranked.

    Examples
    --------
    >>> frame = pd.DataFrame({"run": ["a", "b", "c", "d"], "accuracy": [0.8, 0.9, 0.9, 0.9],
    ...                       "auc": [0.9, 0.91, 0.95, 0.91]})
    >>> ranked = rank_runs(frame, ["accuracy", "auc"])
    >>> ranked["run"].tolist(), ranked["rank"].tolist()
    (['c', 'b', 'd', 'a'], [1, 2, 2, 4])
    """
    if not metrics or metrics[0] not in frame.columns or frame.empty:
        return frame.assign(rank=[None] * len(frame))
    keys = pd.DataFrame(index=frame.index)
    for i, metric in enumerate(metrics):
        values = pd.Series([as_number(v) for v in frame[metric]], index=frame.index, dtype=float)
        keys[f"k{i}"] = -values if higher_is_better(metric) else values
    columns = list(keys.columns)
    order = keys.sort_values(columns, na_position="last", kind="stable").index
    ordered = frame.loc[order].copy()
    tuples = [tuple(keys.loc[i, c] for c in columns) for i in order]
    ranks: list[int | None] = []
    for position, key in enumerate(tuples):
        if pd.isna(key[0]):
            ranks.append(None)
        elif position and key == tuples[position - 1]:
            ranks.append(ranks[-1])
        else:
            ranks.append(position + 1)
    ordered["rank"] = ranks
    return ordered.reset_index(drop=True)


class RunsView:
    """Every run in a ranked table; every run's curves overlaid; diagnostics of the best run; a baseline.

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
        self._diag_key: Any = None
        self._table_key: Any = None
        self._table_next = 0.0
        self._overlay_runs: tuple[str, ...] = ()
        #: Whether the page shows this view (the lab sets it from its tab). Hidden, it redraws only when a run
        #: ends or is released (no overlay points, no ticks); shown again, it catches up at once.
        self.visible = True
        self._setting = False  # True while render() sets a control (not the user's choice)
        self.user_chose: set[str] = set()  # controls the user set: their defaults stop following the runs
        self.sort_by = widgets.Dropdown(options=[("best first", _BEST), ("launch order", _LAUNCH)], value=_BEST,
                                        description="sort by", style={"description_width": "55px"},
                                        layout=widgets.Layout(width="240px"))
        self.sort_by.add_class("estlab-sort")
        self.reverse = widgets.ToggleButton(value=False, description="reverse", icon="exchange",
                                            layout=widgets.Layout(width="100px"))
        self.baseline = widgets.Dropdown(options=[("none", None)], value=None, description="baseline",
                                         style={"description_width": "60px"}, layout=widgets.Layout(width="280px"))
        self.baseline.add_class("estlab-baseline")
        # the widget itself scrolls sideways when the table is wider than the page (never clipped)
        self.table = widgets.HTML("<i>No runs yet.</i>", layout=widgets.Layout(width="100%", max_width="100%",
                                                                               overflow="auto"))
        self.table.add_class("estlab-leaderboard")
        self.select = widgets.SelectMultiple(options=[], rows=3, description="runs",
                                             style={"description_width": "40px"},
                                             layout=widgets.Layout(width="360px"))
        self.select.add_class("estlab-select-runs")
        self.overlay = CurveChart(min_interval=1.0 / max(manager.max_rate, 1e-3),
                                  layout=widgets.Layout(width="100%"))
        self.overlay.add_class("estlab-overlay")
        self.diag_run = widgets.Dropdown(options=[("–", None)], value=None, description="diagnose",
                                         style={"description_width": "60px"}, layout=widgets.Layout(width="320px"))
        self.diag_run.add_class("estlab-diag-run")
        self.release_button = widgets.Button(description="Release model", icon="trash",
                                             tooltip="Free the model of this finished run (its metrics stay)",
                                             layout=widgets.Layout(width="auto"))
        self.release_button.add_class("estlab-release")
        self.diagnostics = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        self.diagnostics.add_class("estlab-diagnostics")
        self.diag_note = widgets.HTML("")
        self.roc_all = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", display="none"))
        self.roc_all.add_class("estlab-roc-all")
        self.roc_note = widgets.HTML("")
        self._roc_key: Any = None
        self._seen_runs: set[str] = set()  # runs the curves selector has offered (new ones join a user's pick)
        self.select_hint = widgets.HTML(self._select_hint(0, 0))
        self.select_hint.add_class("estlab-select-hint")
        self.box = widgets.VBox([
            widgets.HBox([self.sort_by, self.reverse, self.baseline], layout=widgets.Layout(flex_flow="row wrap")),
            self.table,
            widgets.HBox([widgets.HTML("<b>Curves</b>"), self.select, self.select_hint],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap")),
            self.overlay,
            widgets.HTML(f"<b>Diagnostics</b> <span style=\"{_MUTED}\">(evaluation set; the best run unless you "
                         "pick one)</span>"),
            widgets.HBox([self.diag_run, self.release_button], layout=widgets.Layout(align_items="center")),
            self.diag_note,
            self.diagnostics,
            self.roc_note,
            self.roc_all,
        ])
        self.box.add_class("estlab-runs")
        for control in (self.sort_by, self.reverse, self.baseline, self.select, self.diag_run):
            control.observe(self._on_control, names="value")
        self.release_button.on_click(self._on_release)
        self.overlay.observe(self._on_theme, names="dark")
        manager.attach(self)

    @property
    def dark(self) -> bool:
        """Whether the page uses a dark theme (reported by the browser chart); pictures are drawn to match."""
        return bool(getattr(self.overlay, "dark", False))

    def _on_theme(self, _change: Any = None) -> None:
        self.manager.refresh()  # diagnostics and the ROC comparison are drawn again for the new theme

    @staticmethod
    def _select_hint(shown: int, total: int) -> str:
        if total and shown < total:
            text = f"showing {shown} of {total} runs (new runs are added); Ctrl/⌘-click or Shift-click to pick"
        else:
            text = "every run; Ctrl/⌘-click or Shift-click to pick"
        return f'<span style="{_MUTED}">{text}</span>'

    def _baseline(self) -> str | None:
        return self.baseline.value if self.baseline.value in self.manager.runs else None

    def leaderboard(self, board: pd.DataFrame | None = None) -> pd.DataFrame:
        """The table as a DataFrame (with ``rank``), with the view's sorting and baseline.

        ``board``: the manager's leaderboard with this view's baseline, when the caller has it already.
        """
        baseline = self._baseline()
        frame = self.manager.leaderboard(baseline=baseline) if board is None else board
        key = self.sort_by.value
        ranked = rank_runs(frame, main_metrics(frame))
        if key == _BEST:
            frame = ranked
        else:
            ranks = dict(zip(ranked["run"], ranked["rank"]))
            if key in frame.columns:
                ascending = not higher_is_better(key) if key not in ("run", "estimator", "status") else True
                frame = self.manager.leaderboard(sort_by=key, ascending=ascending, baseline=baseline)
            frame = frame.assign(rank=[ranks.get(name) for name in frame["run"]])
        if self.reverse.value:
            frame = frame.iloc[::-1]
        return frame.reset_index(drop=True)

    def best_run(self, board: pd.DataFrame | None = None) -> str | None:
        """The best ended run by the task's main metric (the first ended run when none has metrics).

        ``board``: the manager's leaderboard (with or without a baseline), when the caller has it already.
        """
        frame = self.manager.leaderboard() if board is None else board
        done = frame[frame["status"].astype(str).str.split(" ").str[0].isin(_DONE)]
        if done.empty:
            return None
        ranked = rank_runs(done, main_metrics(done))
        return str(ranked["run"].iloc[0])

    def default_baseline(self) -> str | None:
        """The first run of a baseline estimator, else the first run."""
        runs = list(self.manager.runs.values())
        for state in runs:
            if "baseline" in state.spec.estimator:
                return state.name
        return runs[0].name if runs else None

    # ---- handlers (kernel thread) --------------------------------------------------------------
    def _on_control(self, change: Any) -> None:
        if self._setting:
            return
        for name in ("baseline", "select", "diag_run"):
            if change["owner"] is getattr(self, name):
                self.user_chose.add(name)
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
    def set_visible(self, visible: bool) -> None:
        """Tell the view whether the page shows it (hidden, it skips the redraws nobody sees); shown, it catches up.

        Examples
        --------
        >>> lab.runs_view.set_visible(False)  # doctest: +SKIP
        """
        self.visible = bool(visible)
        if self.visible:
            self._table_next = 0.0
            self.manager.refresh()

    def render(self, manager: RunManager, dirty: set[str]) -> None:
        """Redraw table, selectors, overlay and diagnostics (the table throttles itself while runs only tick)."""
        controls = (self.sort_by.value, self.reverse.value, self.baseline.value, self.select.value,
                    self.diag_run.value, self.dark)
        key = (controls, tuple((s.name, s.status, s.released, len(s.record.evaluations), s.predictions_path)
                               for s in manager.runs.values()))
        same = _structure(key) == _structure(self._table_key)
        if not self.visible and _settled(key) == _settled(self._table_key):
            return  # no run ended or was released: a hidden view waits for set_visible() to catch up
        self._update_overlay(manager)
        # a new run, a status, a release or a user's choice redraws at once; new evaluations of running runs
        # (the live chart shows them already) and ticks wait for the throttle (TABLE_BUDGET of the UI's time)
        if same and time.monotonic() < self._table_next:
            return
        start = time.perf_counter()
        names = list(manager.runs)
        done = [n for n, s in manager.runs.items() if s.status in _DONE]
        self._setting = True
        try:
            with self.box.hold_sync():
                board = self.manager.leaderboard(baseline=self._baseline())
                metrics = main_metrics(board)
                _set_options(self.sort_by, [("best first", _BEST), ("launch order", _LAUNCH)]
                             + [(c, c) for c in [*metrics, "run", "status", "steps", "wall_time_s"]])
                _set_options(self.baseline, [("none", None)] + [(n, n) for n in names])
                if "baseline" not in self.user_chose and self.baseline.value is None:
                    self.baseline.value = self.default_baseline()
                    board = self.manager.leaderboard(baseline=self._baseline())
                _set_options(self.select, [(n, n) for n in names])
                if "select" not in self.user_chose and tuple(self.select.value) != tuple(names):
                    self.select.value = tuple(names)
                new = [n for n in names if n not in self._seen_runs]
                if "select" in self.user_chose and new:  # a run started after the user's pick joins it
                    chosen = set(self.select.value) | set(new)
                    self.select.value = tuple(n for n in names if n in chosen)
                self._seen_runs.update(names)
                self.select_hint.value = self._select_hint(len(self.select.value), len(names))
                _set_options(self.diag_run, [("–", None)] + [(n, n) for n in done])
                best = self.best_run(board)
                if "diag_run" not in self.user_chose and best is not None and self.diag_run.value != best:
                    self.diag_run.value = best
                diag_png, diag_note = self._diagnose(manager)
                frame = self.leaderboard(board)
                self.table.value = self._table_html(frame, main_metrics(frame))
                roc_png, roc_note = self._compare_roc(manager, frame)
                if roc_png is not None:
                    self.roc_all.value = roc_png
                    self.roc_all.layout.display = None if roc_png else "none"
                    self.roc_note.value = roc_note
                if diag_png is not None:
                    self.diagnostics.value = diag_png
                    self.diagnostics.layout.display = None if diag_png else "none"
                    self.diag_note.value = diag_note
        finally:
            self._setting = False
        self._update_overlay(manager)  # the selection may have just changed
        self._table_key = ((self.sort_by.value, self.reverse.value, self.baseline.value, self.select.value,
                            self.diag_run.value, self.dark), key[1])
        self._table_next = time.monotonic() + max(TABLE_EVERY, (time.perf_counter() - start) / TABLE_BUDGET)

    def _update_overlay(self, manager: RunManager) -> None:
        selected = tuple(n for n in self.select.value if n in manager.runs)
        force = selected != self._overlay_runs
        if force:
            self.overlay.reset()
            self._overlay_runs = selected
        self.overlay.update([manager.runs[n] for n in selected], force=force)

    def _metric_columns(self, frame: pd.DataFrame) -> list[str]:
        """The metrics the table shows (:func:`main_metrics`)."""
        return main_metrics(frame)

    def _table_html(self, frame: pd.DataFrame, metrics: list[str]) -> str:
        if frame.empty:
            return "<i>No runs yet: queue estimators and click Train.</i>"
        baseline = self.baseline.value
        head = ["#", "run · params · features", "status", *metrics, "steps", "wall time", "device"]
        cells = "".join(f'<th style="text-align:left;padding:2px 8px;white-space:nowrap">{esc(h)}</th>' for h in head)
        rows = []
        for _, row in frame.iterrows():
            is_base = row["run"] == baseline
            rank = as_number(row.get("rank"))
            details = " · ".join(t for t in (esc(row["params"]) or "defaults", esc(row["features"])) if t)
            tds = ["–" if rank is None else f"{int(rank)}",
                   f'<b title="{esc(row["estimator"])}">{esc(row["run"])}</b>' + (" ★" if is_base else "")
                   + f'<div style="{_MUTED};font-size:11px;line-height:1.3">{details}</div>',
                   badge(str(row["status"]))]
            for metric in metrics:
                value = as_number(row.get(metric))
                text = fmt_value(value)
                delta = as_number(row.get(f"Δ {metric}"))
                if delta is not None and not is_base and value is not None:
                    shown = fmt_delta(delta, value)
                    color = _GOOD if (delta > 0) == higher_is_better(metric) else _BAD
                    if shown == "±0":
                        color = "var(--jp-ui-font-color2,#666)"
                    # under the value: the column stays as narrow as its numbers
                    text += f'<div style="color:{color};font-size:11px;line-height:1.2">({shown})</div>'
                tds.append(text)
            steps = as_number(row["steps"])
            tds += ["–" if steps is None else f"{int(steps):,}", fmt_duration(as_number(row["wall_time_s"])),
                    esc(row["device"])]
            style = "background:rgba(240,173,78,0.16)" if is_base else ""
            wrap = {1}  # the run cell wraps its params and features instead of clipping them
            cells_html = "".join(f'<td style="padding:2px 8px;vertical-align:top;{_WRAP if i in wrap else _NOWRAP}">'
                                 f"{t}</td>" for i, t in enumerate(tds))
            rows.append(f'<tr style="{style};border-bottom:1px solid var(--jp-border-color2,#e0e0e0)">'
                        f"{cells_html}</tr>")
        return (f'<div style="overflow-x:auto;max-width:100%"><table class="estlab-table" style="border-collapse:'
                f'collapse;font-size:13px;line-height:1.4;color:var(--jp-ui-font-color1,#222)"><thead style="'
                f'border-bottom:1px solid var(--jp-border-color1,#999)"><tr>{cells}'
                f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _diagnose(self, manager: RunManager) -> tuple[bytes | None, str]:
        """The selected run's diagnostics PNG and the note naming it (None: the shown picture is still its)."""
        name = self.diag_run.value
        state = manager.runs.get(name) if name else None
        key = (name, state.predictions_path if state is not None else None, self.dark)
        if state is None or key == self._diag_key:
            return None, ""
        self._diag_key = key
        predictions = state.predictions  # read from the run's model_dir only now, when it is shown
        if predictions is None:
            why = "it failed before they were made" if state.status == "failed" else "none were written"
            return b"", f'<i class="estlab-diag-run-name" data-run="{esc(name)}">{esc(name)} has no predictions ' \
                        f"({why}).</i>"
        return diagnostics_png(predictions, dark=self.dark), (
            f'<span class="estlab-diag-run-name" data-run="{esc(name)}" style="{_MUTED}">{esc(name)}: '
            f"{len(predictions['y_true']):,} evaluation rows</span>")

    def _compare_roc(self, manager: RunManager, frame: pd.DataFrame) -> tuple[bytes | None, str]:
        """ROC/PR of the selected binary classifiers with predictions, best ranked first (None: unchanged)."""
        selected = set(self.select.value)
        names = [str(n) for n in frame["run"] if n in selected and manager.runs[n].predictions_path][:MAX_ROC_RUNS]
        key = (tuple((n, manager.runs[n].predictions_path) for n in names), self.dark)
        if key == self._roc_key:
            return None, ""
        self._roc_key = key
        runs, positive = {}, None
        for name in names:
            predictions = manager.runs[name].predictions
            if predictions is not None and predictions["task"] != "regression" and len(predictions["classes"]) == 2:
                runs[name] = (predictions["y_true"], predictions["probabilities"])
                positive = predictions["classes"][1]
        if len(runs) < 2:
            return b"", ""
        png = figure_to_png(theme_figure(plot_roc_pr_runs(runs, pos_label=positive), self.dark))
        return png, (f"<b>ROC and precision-recall of {len(runs)} runs</b> "
                     f'<span style="{_MUTED}">(the selected binary classifiers, best ranked first)</span>')

    def static_overlay(self) -> bytes:
        """The overlay as a matplotlib PNG (for a static export; the live view is drawn by the browser)."""
        runs = {n: self.manager.runs[n] for n in self.select.value if n in self.manager.runs}
        metrics = chart_metrics(m for s in runs.values() for (_, m) in s.curves)
        if not runs or not metrics:
            return b""
        baseline = self.baseline.value if self.baseline.value in runs else None
        histories = {n: s.history() for n, s in runs.items()}
        return figure_to_png(plot_comparison(histories, metric=metrics[0], split="eval", baseline=baseline))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        frame = self.leaderboard()
        static = self._table_html(frame, main_metrics(frame)) + png_img(self.static_overlay(), "overlay")
        return with_fallback(self.box, static, **kwargs)

    def close(self) -> None:
        """Detach from the manager and close the widgets."""
        self.manager.detach(self)
        self.overlay.close()
        self.box.close()


def diagnostics_png(predictions: dict[str, Any], dark: bool = False) -> bytes:
    """ROC/PR and confusion matrix (classification) or residuals (regression), side by side in one PNG.

    ``dark``: drawn for a dark page (transparent background, light text: :func:`estlab.viz.theme_figure`).

    Examples
    --------
    >>> png = diagnostics_png({"task": "regression", "y_true": [1.0, 2.0], "y_pred": [1.5, 2.0]})
    >>> png[:4]
    b'\\x89PNG'
    """
    if predictions["task"] == "regression":
        return figure_to_png(theme_figure(plot_residuals(predictions["y_true"], predictions["y_pred"]), dark))
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
    images = [Image.open(io.BytesIO(figure_to_png(theme_figure(fig, dark)))).convert("RGBA")
              for fig in (roc, confusion)]
    width = sum(i.width for i in images)
    canvas = Image.new("RGBA", (width, max(i.height for i in images)), (0, 0, 0, 0) if dark else "white")
    x = 0
    for image in images:
        canvas.alpha_composite(image, (x, 0))
        x += image.width
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


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
