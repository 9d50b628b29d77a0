"""``TrainingPanel``: Train / Stop, live progress and live curves drawn in the browser (``CurveChart``).

The kernel sends points, never pictures, while runs train; the matplotlib figure of the current run is drawn
only for the static fallback (``static_html``: an exported notebook, a front end without widgets).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from estlab.runner.experiment import RESUMABLE
from estlab.viz.live import preferred_first
from estlab.widgets._format import fmt_value
from estlab.widgets._html import badge, esc, fmt_duration, fmt_remaining, message, png_img, with_fallback
from estlab.widgets._state import RUNNING, RunSpec, RunState
from estlab.widgets.chart import CurveChart
from estlab.widgets.runs import DuplicateRunError, RunManager

#: The run selector's entry for "pick for me" (:meth:`TrainingPanel.pick`: stays on a running run until it ends,
#: then the newest running run, else the run that ended last).
FOLLOW = "auto: a running run until it ends"
_MUTED = "color:var(--jp-ui-font-color2,#555)"
#: Seconds between two updates of a running run's text and progress bar (step, examples/s, ETA, elapsed);
#: anything else (another run shown, a status, a message) and the chart are not held back by it.
TEXT_INTERVAL = 0.5


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
        self.chart = CurveChart(min_interval=1.0 / max(manager.max_rate, 1e-3))
        self._text_key: Any = None
        self._text_next = 0.0
        #: Whether the page shows this panel (the lab sets it from its tab). Hidden, it redraws only when the
        #: shown run, a status or the message changes (no chart points, no counters); shown, it catches up.
        self.visible = True
        self.clicked_at: float | None = None  # time.time() of the last Train click
        self.first_chart_at: float | None = None  # time.time() of the first points sent after it
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           tooltip="Queue the planned runs and train them in the background")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop",
                                          tooltip="Stop the run shown below after its current step "
                                                  "(checkpointed); the other runs go on",
                                          disabled=True)
        self.resume_button = widgets.Button(description="Resume", icon="play-circle", disabled=True,
                                            tooltip="Continue the run shown below from its last checkpoint "
                                                    "(same settings, same data)")
        self.resume_button.add_class("estlab-resume")
        self.run_choice = widgets.Dropdown(options=[(FOLLOW, "")], value="", description="show",
                                           style={"description_width": "40px"}, layout=widgets.Layout(width="330px"))
        self.run_choice.add_class("estlab-run-choice")
        self.shown: str | None = None  # the run the panel shows
        self.stop_all_button = widgets.Button(description="Stop all", icon="stop-circle",
                                              tooltip="Stop every running run and cancel the queued ones",
                                              disabled=True, layout=widgets.Layout(width="auto"))
        self.cancel_button = widgets.Button(description="Cancel queued", icon="times",
                                            tooltip="Remove the runs that have not started yet",
                                            disabled=True, layout=widgets.Layout(width="auto"))
        self.stop_all_button.add_class("estlab-stop-all")
        self.cancel_button.add_class("estlab-cancel-queued")
        self.train_button.add_class("estlab-train")
        self.stop_button.add_class("estlab-stop")
        self.header = widgets.HTML(self._header_html(None))
        self.header.add_class("estlab-run-header")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, bar_style="info",
                                            layout=widgets.Layout(width="100%"))
        self.progress.add_class("estlab-progress")
        self.stats = widgets.HTML("")
        self.stats.add_class("estlab-stats")
        self.message = widgets.HTML("")
        self.message.add_class("estlab-message")
        self.queue_text = widgets.HTML("")
        self.queue_text.add_class("estlab-queue")
        self.train_note: tuple[str, str] = ("", "info")  # what the last Train click did, kept up to date
        self._click_note: tuple[str, str] = ("", "info")  # the note as the click left it (also the notice)
        self._launched: list[str] = []  # runs the last click queued: the note names those still queued
        self._skipped: list[str] = []  # specs the last click did not start again
        self.note = widgets.HTML("")
        self.note.add_class("estlab-train-note")
        buttons = widgets.HBox([self.train_button, self.stop_all_button, self.cancel_button, self.queue_text],
                               layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        run_row = widgets.HBox([self.run_choice, self.stop_button, self.resume_button],
                               layout=widgets.Layout(align_items="center"))
        self.box = widgets.VBox([buttons, self.note, run_row, self.header, self.progress, self.stats, self.chart,
                                 self.message], layout=widgets.Layout(overflow="hidden"))
        self.box.add_class("estlab-training")
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(self._on_stop)
        self.stop_all_button.on_click(self._on_stop_all)
        self.cancel_button.on_click(self._on_cancel_queued)
        self.resume_button.on_click(self._on_resume)
        self.run_choice.observe(self._on_choice, names="value")
        manager.attach(self)

    # ---- handlers (kernel thread): they only talk to the manager -------------------------
    def _on_train(self, _button: Any = None) -> None:
        self.launch_plan()

    def launch_plan(self) -> tuple[list[str], list[str]]:
        """Queue every planned spec; returns ``(queued run names, refusal messages)`` and shows them."""
        self.clicked_at, self.first_chart_at = time.time(), None
        self._launched, self._skipped = [], []
        try:
            specs = self.plan()
        except Exception as exc:  # a bad plan is shown, never raised into the front end
            self.train_note = (f"cannot train: {exc}", "error")
            self.manager.notify(*self.train_note)
            return [], [f"cannot train: {exc}"]
        if not specs:
            text = "nothing to train: add an estimator to the comparison first"
            self.train_note = (text, "warning")
            self.manager.notify(text, "warning")
            return [], [text]
        queued, refused, skipped = [], [], []
        for spec in specs:
            try:
                queued.append(self.manager.launch(spec).name)
            except DuplicateRunError as exc:
                refused.append(str(exc))
                skipped.append(f"{spec.estimator} (same settings as {exc.run}, {exc.state})" if exc.run
                               else str(exc))
        self._launched, self._skipped = queued, skipped
        self.train_note = self._click_note = (ui_summary(queued, skipped),
                                              "warning" if skipped and not queued else "info")
        self.manager.notify(*self.train_note)
        return queued, refused

    def _forget_note(self) -> None:
        self.train_note = self._click_note = ("", "info")
        self._launched, self._skipped = [], []

    def _current_note(self, manager: RunManager) -> tuple[str, str]:
        """The last click's note with only the runs that still wait ("queued a, b" once they start: gone)."""
        if not self._launched:
            return self.train_note
        waiting = [n for n in self._launched if n in manager.runs and manager.runs[n].status == "queued"]
        text = ui_summary(waiting, self._skipped)
        return (text, self.train_note[1]) if text else ("", "info")

    def _on_stop_all(self, _button: Any = None) -> None:
        self._forget_note()  # "queued a, b" no longer holds
        self.manager.stop_all()  # the message line then says what became of every run it stopped or cancelled

    def _on_cancel_queued(self, _button: Any = None) -> None:
        self._forget_note()
        queued = self._cancel_queued()
        self.manager.notify(_counted(queued, "cancelled", "queued") if queued else "nothing is queued")

    def _cancel_queued(self) -> list[str]:
        queued = [s.name for s in self.manager.runs.values() if s.status == "queued"]
        for name in queued:
            self.manager.stop(name)  # a queued run is cancelled, never started
        return queued

    def _on_stop(self, _button: Any = None) -> None:
        name = self.shown
        state = self.manager.runs.get(name) if name else None
        if state is None:
            return
        if state.status in RUNNING:
            self.manager.stop(state.name)
            self.manager.notify(f"stopping {state.name} after its current step (the other runs go on)…")
        elif state.status == "queued":
            self.manager.stop(state.name)
            self.manager.notify(f"cancelled {state.name} before it started")

    def _on_resume(self, _button: Any = None) -> None:
        name = self.shown
        if name is None or name not in self.manager.runs:
            return
        try:
            self.manager.resume(name)
        except (ValueError, KeyError) as exc:  # shown in the panel, never raised into the front end
            self.manager.notify(f"cannot resume {name}: {exc}", "error")
            return
        self.manager.notify(f"resuming {name} from its last checkpoint…")

    def _on_choice(self, _change: Any = None) -> None:
        self.manager.refresh()

    def show(self, name: str | None) -> None:
        """Show run ``name`` (None: follow the newest running run); Stop and Resume then act on it.

        Examples
        --------
        >>> lab.training.show("dnn_classifier-2"); lab.training.click_stop()  # doctest: +SKIP
        """
        if name is not None and name not in self.manager.runs:
            raise KeyError(f"name: no run called {name!r}; runs: {list(self.manager.runs)}")
        if name is not None and name not in {value for _, value in self.run_choice.options}:
            self.run_choice.options = [*self.run_choice.options, (name, name)]
        self.run_choice.value = name or ""
        self.manager.flush()

    def pick(self, manager: RunManager) -> str | None:
        """The run to show: the chosen one, else the shown run while it trains, else the newest running run,
        else the shown run's final state, else the run that ended last, else the first queued one.

        The panel never jumps to a queued run while another is shown, nor away from a run that just ended
        before another one runs.

        Examples
        --------
        >>> lab.training.pick(lab.manager)  # doctest: +SKIP
        'dnn_classifier-2'
        """
        runs = manager.runs
        chosen = self.run_choice.value
        if chosen and chosen in runs:
            return str(chosen)
        shown = runs.get(self.shown) if self.shown else None
        if shown is not None and shown.status in RUNNING:
            return shown.name
        running = [s for s in runs.values() if s.status in RUNNING]
        if running:
            return max(running, key=lambda s: (s.start_time or 0.0, s.queued_time)).name
        if shown is not None and shown.status != "queued":
            return shown.name
        ended = [s for s in runs.values() if s.end_time is not None and s.status != "cancelled"]
        if ended:
            return max(ended, key=lambda s: s.end_time or 0.0).name
        queued = [s for s in runs.values() if s.status == "queued"]
        return queued[0].name if queued else None

    def click_train(self) -> None:
        """Same as clicking Train."""
        self.train_button.click()

    def click_stop(self) -> None:
        """Same as clicking Stop."""
        self.stop_button.click()

    def click_stop_all(self) -> None:
        """Same as clicking Stop all."""
        self.stop_all_button.click()

    def set_visible(self, visible: bool) -> None:
        """Tell the panel whether the page shows it (hidden, it skips the redraws nobody sees); shown, it catches up.

        Examples
        --------
        >>> lab.training.set_visible(False)  # doctest: +SKIP
        """
        self.visible = bool(visible)
        if self.visible:
            self._text_key = None
            self.manager.refresh()

    # ---- rendering (UI owner thread) ---------------------------------------------------------
    def render(self, manager: RunManager, dirty: set[str]) -> None:
        """Update every widget from the run records (called by the manager's UI thread)."""
        name = self.shown = self.pick(manager)
        state = manager.runs.get(name) if name else None
        self.train_note = self._current_note(manager)
        options = [(FOLLOW, "")] + [(f"{s.name} · {s.status}", s.name) for s in manager.runs.values()]
        key = (name, tuple(options), manager.notice, self.train_note)
        if not self.visible and key == self._text_key:
            return  # hidden: only another run, a status or a message redraws; set_visible() catches up
        if self.chart.update(manager.runs.values()) is not None and self.first_chart_at is None \
                and self.clicked_at is not None:
            self.first_chart_at = time.time()
        queued = [s.name for s in manager.runs.values() if s.status == "queued"]
        running = [s.name for s in manager.runs.values() if s.status in RUNNING]
        now = time.monotonic()
        if state is not None and state.status in RUNNING and key == self._text_key and now < self._text_next:
            return  # only the running run's counters moved: they update every TEXT_INTERVAL
        self._text_key, self._text_next = key, now + TEXT_INTERVAL
        with self.box.hold_sync():
            if tuple(options) != tuple(self.run_choice.options):
                chosen = self.run_choice.value
                self.run_choice.options = options
                self.run_choice.value = chosen if chosen in manager.runs else ""
            self.header.value = self._header_html(state)
            self.stats.value = self._stats_html(state)
            self.queue_text.value = (f'<span style="{_MUTED}">{len(running)} running · queued: '
                                     f'{esc(", ".join(queued))}</span>' if queued else "")
            self.stop_button.disabled = state is None or state.status not in (*RUNNING, "queued")
            self.stop_button.description = "Cancel" if state is not None and state.status == "queued" else "Stop"
            self.resume_button.disabled = (state is None or manager.experiment is None
                                           or state.status not in RESUMABLE)
            self.cancel_button.disabled = not queued
            self.stop_all_button.disabled = not queued and not running
            if state is not None:
                total = max((state.target_step or state.global_step or 1) - state.start_step, 1)
                if _full_batch(state):
                    total = 1  # one fit, whatever max_steps said
                done = state.status == "finished"
                self.progress.max = total
                self.progress.value = total if done else min(max(state.global_step - state.start_step, 0), total)
                self.progress.bar_style = {"finished": "success", "failed": "danger", "stopped": "warning",
                                           "interrupted": "warning"}.get(state.status, "info")
            self.note.value = message(*self.train_note) if self.train_note[0] else ""
            shown_elsewhere = manager.notice in (self.train_note, self._click_note)
            self.message.value = "" if shown_elsewhere else message(*manager.notice)

    def _header_html(self, state: RunState | None) -> str:
        if state is None:
            device = f" · device <b>{esc(self.device)}</b>" if self.device else ""
            return f'<div style="{_MUTED}">No run yet: pick estimators and click <b>Train</b>{device}.</div>'
        parts = [f"<b>{esc(state.name)}</b>", badge(state.status)]
        parts.append(f"device <b>{esc(state.device or self.device or '…')}</b>")
        if state.spec.feature_set:
            parts.append(f"features: {esc(state.spec.feature_set)}")
        return " · ".join(parts)

    def _stats_html(self, state: RunState | None) -> str:
        if state is None:
            return ""
        target = state.target_step if state.target_step is not None else state.spec.total_steps
        fit = _full_batch(state)
        if state.status == "finished":
            parts = ["<b>done</b>" + (" (one full-batch fit)" if fit else f" · {state.global_step:,} steps")]
        elif state.status == "queued":
            parts = ["<b>queued</b>: waiting for a free worker"]
        elif fit and state.status in RUNNING:
            parts = ["fitting on the whole training set (one step)…"]
        else:
            word = {"stopped": "stopped at step", "failed": "failed at step",
                    "interrupted": "interrupted at step"}.get(state.status, "step")
            parts = [f"{word} <b>{state.global_step:,}</b> / {target:,}"]
        if state.examples_per_sec and state.status == "running" and not fit:
            parts.append(f"{state.examples_per_sec:,.0f} examples/s")
        if state.status == "starting" and not fit:
            parts.append("building the model and encoding the data…")
        if state.status == "running" and not fit and state.eta is not None:
            parts.append(_item(f"{fmt_remaining(state.eta)} left"))
        if state.wall_time is not None:
            parts.append(f"elapsed {fmt_duration(state.wall_time)}")
        if state.status in ("stopped", "interrupted") and state.reason:
            parts.append(esc(state.reason))
        if state.loss is not None:
            parts.append(_item(f"loss {fmt_value(state.loss)}"))
        metrics = state.metrics
        parts += [_item(f"eval {k} {fmt_value(metrics[k])}") for k in preferred_first(metrics)]
        text = " · ".join(parts)
        if state.error:
            text += message(state.error, "error")
        return f'<div style="font-size:13px">{text}</div>'

    # ---- notebook display ------------------------------------------------------------------
    def static_html(self) -> str:
        """The panel as plain HTML (header, stats, last chart, message)."""
        return (f'<div class="estlab-static">{self.header.value}<br/>{self.stats.value}'
                f"{self._static_chart()}{self.message.value}</div>")

    def _static_chart(self) -> str:
        """The current run's curves as a matplotlib PNG (drawn only here, for the static fallback)."""
        name = self.shown or self.pick(self.manager)
        state = self.manager.runs.get(name) if name else None
        if state is None or not state.curves:
            return ""
        from estlab.viz.live import LiveChart

        chart = LiveChart()
        chart.attach(state.curves)
        return png_img(chart.render(), "training curves")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return with_fallback(self.box, self.static_html(), **kwargs)

    def close(self) -> None:
        """Detach from the manager and close the widgets."""
        self.manager.detach(self)
        self.box.close()
        for child in (self.train_button, self.stop_button, self.stop_all_button, self.cancel_button, self.header,
                      self.progress, self.stats, self.chart, self.message, self.queue_text, self.run_choice,
                      self.note, self.resume_button):
            child.close()


def _item(text: str) -> str:
    """One "name value" item of the stats line, never broken across lines."""
    return f'<span style="white-space:nowrap">{esc(text)}</span>'


def _full_batch(state: RunState) -> bool:
    """Whether the run is one full-batch fit (baseline, boosted trees): its steps say nothing."""
    return state.one_fit


def _counted(names: list[str], verb: str, what: str = "") -> str:
    what = f" {what}" if what else ""
    return f"{verb} {len(names)}{what} run{'s' * (len(names) != 1)} ({', '.join(names)})" if names else ""


def ui_summary(queued: list[str], skipped: list[str]) -> str:
    """What Train did, in the UI's words.

    Examples
    --------
    >>> ui_summary(["dnn_classifier-3"], ["linear_classifier (same settings as linear_classifier-1, finished)"])
    'queued dnn_classifier-3 · not started again: linear_classifier (same settings as linear_classifier-1, finished): change a setting to train it again'
    """
    parts = [f"queued {', '.join(queued)}"] if queued else []
    if skipped:
        parts.append(f"not started again: {'; '.join(skipped)}: change a setting to train it again")
    return " · ".join(parts)
