"""``TrainingPanel``: Train / Stop, live progress and one persistent live chart for the current run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from estlab.viz.live import LiveChart, preferred_first
from estlab.widgets._html import badge, esc, fmt_duration, message, png_img, with_fallback
from estlab.widgets._state import RUNNING, RunSpec, RunState
from estlab.widgets.runs import DuplicateRunError, RunManager

#: The live chart may take at most this share of wall time; it waits longer between redraws when slow.
DRAW_BUDGET = 0.025


class TrainingPanel:
    """Launch the planned runs in the background and follow the current one live.

    Parameters
    ----------
    manager
        The :class:`RunManager` that trains and owns the UI thread.
    plan
        Called when Train is clicked; returns the specs to queue (e.g. from the estimator picker).
    device
        Device name shown before the first run reports its own.

    Examples
    --------
    >>> from estlab.widgets.runs import RunManager
    >>> manager = RunManager(job_factory=lambda spec, name: None)
    >>> panel = TrainingPanel(manager, plan=lambda: [])
    >>> panel.train_button.description
    'Train'
    >>> panel.close(); manager.close()
    """

    def __init__(self, manager: RunManager, plan: Callable[[], list[RunSpec]], device: str = "") -> None:
        self.manager = manager
        self.plan = plan
        self.device = device
        self.chart = LiveChart()
        self.chart_run: str | None = None
        self._chart_next = 0.0
        self._chart_png = b""
        self._chart_version: tuple[str, int, str] | None = None
        self.clicked_at: float | None = None  # time.time() of the last Train click
        self.first_chart_at: float | None = None  # time.time() of the first chart drawn after it
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           tooltip="Queue the planned runs and train them in the background")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop",
                                          tooltip="Stop the running run after its current step (checkpointed)",
                                          disabled=True)
        self.train_button.add_class("estlab-train")
        self.stop_button.add_class("estlab-stop")
        self.header = widgets.HTML(self._header_html(None))
        self.header.add_class("estlab-run-header")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, bar_style="info",
                                            layout=widgets.Layout(width="100%"))
        self.progress.add_class("estlab-progress")
        self.stats = widgets.HTML("")
        self.stats.add_class("estlab-stats")
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="820px"))
        self.image.add_class("estlab-curve")
        self.message = widgets.HTML("")
        self.message.add_class("estlab-message")
        self.queue_text = widgets.HTML("")
        self.queue_text.add_class("estlab-queue")
        buttons = widgets.HBox([self.train_button, self.stop_button, self.queue_text],
                               layout=widgets.Layout(align_items="center"))
        self.box = widgets.VBox([buttons, self.header, self.progress, self.stats, self.image, self.message])
        self.box.add_class("estlab-training")
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(self._on_stop)
        manager.attach(self)

    # ---- handlers (kernel thread): they only talk to the manager -------------------------
    def _on_train(self, _button: Any = None) -> None:
        self.launch_plan()

    def launch_plan(self) -> tuple[list[str], list[str]]:
        """Queue every planned spec; returns ``(queued run names, refusal messages)`` and shows them."""
        self.clicked_at, self.first_chart_at = time.time(), None
        try:
            specs = self.plan()
        except Exception as exc:  # a bad plan is shown, never raised into the front end
            self.manager.notify(f"cannot train: {exc}", "error")
            return [], [f"cannot train: {exc}"]
        if not specs:
            text = "nothing to train: add an estimator to the comparison first"
            self.manager.notify(text, "warning")
            return [], [text]
        queued, refused = [], []
        for spec in specs:
            try:
                queued.append(self.manager.launch(spec).name)
            except DuplicateRunError as exc:
                refused.append(str(exc))
        text = (f"queued {', '.join(queued)}" if queued else "") + ("\n" if queued and refused else "")
        self.manager.notify(text + "\n".join(refused), "warning" if refused else "info")
        return queued, refused

    def _on_stop(self, _button: Any = None) -> None:
        name = self.manager.current_name()
        if name is not None and self.manager.runs[name].status in RUNNING:
            self.manager.stop(name)
            self.manager.notify(f"stopping {name!r} after its current step…")

    def click_train(self) -> None:
        """Same as clicking Train."""
        self.train_button.click()

    def click_stop(self) -> None:
        """Same as clicking Stop."""
        self.stop_button.click()

    # ---- rendering (UI owner thread) ---------------------------------------------------------
    def render(self, manager: RunManager, dirty: set[str]) -> None:
        """Update every widget from the run records (called by the manager's UI thread)."""
        name = manager.current_name()
        state = manager.runs.get(name) if name else None
        chart_png = self._maybe_chart(state)
        queued = [s.name for s in manager.runs.values() if s.status == "queued"]
        with self.box.hold_sync():
            self.header.value = self._header_html(state)
            self.stats.value = self._stats_html(state)
            self.queue_text.value = (f'<span style="color:#555">queued: {esc(", ".join(queued))}</span>'
                                     if queued else "")
            self.stop_button.disabled = state is None or state.status not in RUNNING
            if state is not None:
                total = max((state.target_step or state.global_step or 1) - state.start_step, 1)
                self.progress.max = total
                self.progress.value = min(max(state.global_step - state.start_step, 0), total)
                self.progress.bar_style = {"finished": "success", "failed": "danger",
                                           "stopped": "warning"}.get(state.status, "info")
            if chart_png is not None:
                self.image.value = chart_png
            self.message.value = message(*manager.notice)

    def _maybe_chart(self, state: RunState | None) -> bytes | None:
        if state is None:
            return None
        if state.name != self.chart_run:  # same figure, the new run's curves
            self.chart.attach(state.curves)
            self.chart_run = state.name
            self._chart_next = 0.0
        version = (state.name, state.record.revision, state.status)
        if version == self._chart_version or not state.curves:
            return None
        final = state.status != "queued" and state.status not in RUNNING
        if not final and time.monotonic() < self._chart_next:
            return None
        self.chart.attach(state.curves)
        cost_before = self.chart.render_seconds
        png = self.chart.render()
        cost = self.chart.render_seconds - cost_before
        self._chart_next = time.monotonic() + max(0.2, cost / DRAW_BUDGET)
        self._chart_version = version
        self._chart_png = png
        if self.first_chart_at is None and self.clicked_at is not None:
            self.first_chart_at = time.time()
        return png

    def _header_html(self, state: RunState | None) -> str:
        if state is None:
            device = f" · device <b>{esc(self.device)}</b>" if self.device else ""
            return f'<div style="color:#555">No run yet: pick estimators and click <b>Train</b>{device}.</div>'
        parts = [f"<b>{esc(state.name)}</b>", badge(state.status)]
        parts.append(f"device <b>{esc(state.device or self.device or '…')}</b>")
        if state.spec.feature_set:
            parts.append(f"features: {esc(state.spec.feature_set)}")
        return " · ".join(parts)

    def _stats_html(self, state: RunState | None) -> str:
        if state is None:
            return ""
        target = state.target_step if state.target_step is not None else state.spec.max_steps
        parts = [f"step <b>{state.global_step:,}</b> / {target:,}"]
        if state.examples_per_sec:
            parts.append(f"{state.examples_per_sec:,.0f} examples/s")
        if state.status == "starting":
            parts.append("building the model and encoding the data…")
        if state.status == "running":
            parts.append(f"ETA {fmt_duration(state.eta)}")
        parts.append(f"elapsed {fmt_duration(state.wall_time)}")
        if state.loss is not None:
            parts.append(f"loss {state.loss:.4f}")
        metrics = state.metrics
        parts += [f"eval {k} {metrics[k]:.4f}" for k in preferred_first(metrics)]
        text = " · ".join(parts)
        if state.error:
            text += message(state.error, "error")
        return f'<div style="font-size:13px">{text}</div>'

    # ---- notebook display ------------------------------------------------------------------
    def static_html(self) -> str:
        """The panel as plain HTML (header, stats, last chart, message)."""
        return (f'<div class="estlab-static">{self.header.value}<br/>{self.stats.value}'
                f"{png_img(self._chart_png, 'training curves')}{self.message.value}</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return with_fallback(self.box, self.static_html(), **kwargs)

    def close(self) -> None:
        """Detach from the manager and close the widgets."""
        self.manager.detach(self)
        self.box.close()
        for child in (self.train_button, self.stop_button, self.header, self.progress, self.stats, self.image,
                      self.message, self.queue_text):
            child.close()
