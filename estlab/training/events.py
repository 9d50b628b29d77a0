"""Training events: plain dicts of plain Python values, and the listener interface.

The training loop emits events; checkpoints, TensorBoard, early stopping, logging,
history and the notebook widgets are all listeners. Events never carry tensors, so
UI code (``estlab.widgets``) can consume them without importing torch.

Event payloads (every event has ``"type"``, ``"run"`` (run name or model_dir),
``"global_step"`` (int) and ``"time"`` (``time.time()`` float)):

``train_begin``
    ``start_step``, ``target_step`` (int or None), ``device`` (str), ``estimator`` (class name),
    ``params`` (dict of plain values); ``full_batch`` (True) when the run is one full-batch fit.
``step_end``  (emitted every step; heavy listeners keep their own cadence)
    ``loss`` (float, or None when the step's loss was not synchronised: the loop copies the loss to
    the host only at steps some listener's ``wants_loss(step)`` asks for, and the value is then the
    mean loss of the steps since the previous synchronised one), ``learning_rate`` (float),
    ``examples_per_sec`` (float, over the same window), ``epoch`` (int), ``examples_seen`` (int, in
    this ``train`` call).
``evaluate``
    ``metrics`` (dict[str, float], TF keys), ``name`` (str or None).
``checkpoint``
    ``path`` (str).
``train_end``
    ``status``: ``"finished" | "stopped" | "failed"``, ``reason`` (str), ``error`` (str or None),
    ``final_loss`` (float or None).

Listeners are ordered by ``order`` through ``ORDER`` (metrics 0 → evaluation 50 → monitors 100 → loggers 200
→ UI 300), in this one place (``sort_listeners``). A running session gives each listener ``control`` (a
``Control``): ``request_stop(reason)``, ``save_checkpoint()``, ``evaluate(...)`` and ``emit(...)``.

The bus is first-in first-out: an event emitted while another is being dispatched (a checkpoint written, or
an evaluation run, from a listener) is dispatched after the current event has reached every listener, so
every listener sees every event exactly once and in the same order.

Examples
--------
>>> class PrintLoss(Listener):
...     def on_step_end(self, event):
...         print(event["global_step"], event["loss"])
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

Event = dict[str, Any]

EVENT_TYPES = ("train_begin", "step_end", "evaluate", "checkpoint", "train_end")

#: The one place that orders listeners: lower runs first. Ties keep the order they were given in.
#: ``evaluation`` (the in-training evaluator) runs before ``monitors`` so early stopping and checkpoint
#: savers already see this step's evaluation.
ORDER = {"metrics": 0, "evaluation": 50, "monitors": 100, "loggers": 200, "ui": 300}


class Listener:
    """Base class for everything that reacts to training events.

    Subclasses override the ``on_*`` methods they need. ``order`` places the listener
    in the one defined sequence (metrics 0 → monitors 100 → loggers 200 → UI 300).
    ``control`` is set by the loop before ``on_train_begin``; a listener stops training
    only through ``self.control.request_stop(reason)``.
    """

    order: int = ORDER["loggers"]
    control: Any = None

    def wants_loss(self, global_step: int) -> bool:
        """Return True when this listener needs the loss of ``global_step`` (forces a device sync)."""
        return False

    def on_train_begin(self, event: Event) -> None:
        """Called once before the first step."""

    def on_step_end(self, event: Event) -> None:
        """Called after every optimisation step."""

    def on_evaluate(self, event: Event) -> None:
        """Called after each evaluation with its metrics."""

    def on_checkpoint(self, event: Event) -> None:
        """Called after a checkpoint is written."""

    def on_train_end(self, event: Event) -> None:
        """Called once when training ends, whatever the reason."""

    def dispatch(self, event: Event) -> None:
        """Route ``event`` to the matching ``on_<type>`` method."""
        getattr(self, f"on_{event['type']}")(event)


@runtime_checkable
class StatefulListener(Protocol):
    """A listener whose state goes into checkpoints under ``state_key`` and back on resume (EarlyStopping)."""

    @property
    def state_key(self) -> str: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def sort_listeners(listeners: Iterable[Listener]) -> list[Listener]:
    """Order listeners by ``ORDER`` (metrics → monitors → loggers → UI), stable for ties.

    Examples
    --------
    >>> class Ui(Listener):
    ...     order = ORDER["ui"]
    >>> class Metrics(Listener):
    ...     order = ORDER["metrics"]
    >>> [type(x).__name__ for x in sort_listeners([Ui(), Metrics()])]
    ['Metrics', 'Ui']
    """
    listeners = list(listeners)
    bad = [x for x in listeners if not isinstance(x, Listener)]
    if bad:
        raise TypeError(
            f"hooks: expected estlab.training.Listener instances, got {type(bad[0]).__name__}; "
            "subclass Listener and override on_step_end / on_evaluate / ..."
        )
    return sorted(listeners, key=lambda x: x.order)


class Control:
    """What a running loop offers its listeners: stop requests, checkpoint requests, event dispatch.

    Thread-safe stop: ``request_stop`` sets a ``threading.Event`` the loop checks every batch.

    Parameters
    ----------
    listeners : list of Listener
        Already ordered (see ``sort_listeners``).
    base : dict
        Keys every event carries (``run``).
    save_checkpoint : callable, optional
        Writes a checkpoint and returns its path (the session provides it).
    stop_event : threading.Event, optional
        The one stop flag, shared with ``Estimator.request_stop``.
    evaluate : callable, optional
        ``evaluate(input_fn, steps=..., name=..., label=..., hooks=...) -> metrics``: evaluates the
        model being trained and emits the ``evaluate`` event (the session provides it).

    Examples
    --------
    >>> control = Control([], {"run": "demo"})
    >>> control.request_stop("enough")
    >>> control.stop_requested, control.stop_reason
    (True, 'enough')
    """

    def __init__(
        self,
        listeners: list[Listener],
        base: Event,
        save_checkpoint: Callable[[], str | None] | None = None,
        stop_event: threading.Event | None = None,
        evaluate: Callable[..., dict[str, Any]] | None = None,
    ) -> None:
        self.listeners = listeners
        self.base = dict(base)
        self.global_step = 0
        self.stop_reason = ""
        self.last_checkpoint_step: int | None = None
        #: called before every checkpoint write; raises to refuse it (the training loop's NaN guard sets it)
        self.before_save: Callable[[], None] | None = None
        self._save_checkpoint = save_checkpoint
        self._stop_event = stop_event if stop_event is not None else threading.Event()
        self._evaluate = evaluate
        self._pending: deque[tuple[Event, tuple[Listener, ...]]] = deque()
        self._dispatching = False
        for listener in listeners:
            listener.control = self

    @property
    def stop_requested(self) -> bool:
        """True once a stop was requested (by a listener or another thread)."""
        return self._stop_event.is_set()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to stop after the current batch (it then writes a final checkpoint)."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop_event.set()

    def emit(self, event_type: str, extra: Iterable[Listener] = (), **payload: Any) -> Event:
        """Build an event (adds ``type``, ``run``, ``global_step``, ``time``) and dispatch it in order.

        ``extra`` listeners (e.g. an evaluation's own hooks) receive this one event too, in order with the
        others. Emitted while another event is being dispatched, it is queued behind it (first in, first out).
        """
        event = {"type": event_type, **self.base, "global_step": self.global_step, "time": time.time(), **payload}
        extra = [x for x in extra if all(x is not own for own in self.listeners)]
        targets = sort_listeners([*self.listeners, *extra]) if extra else self.listeners
        self._pending.append((event, tuple(targets)))
        if self._dispatching:
            return event
        self._dispatching = True
        try:
            while self._pending:
                queued, receivers = self._pending.popleft()
                for listener in receivers:
                    listener.dispatch(queued)
        finally:
            self._dispatching = False
            self._pending.clear()
        return event

    def evaluate(self, input_fn: Any, **kwargs: Any) -> dict[str, Any]:
        """Evaluate the model being trained on ``input_fn`` and emit the ``evaluate`` event; returns the metrics.

        Keyword arguments: ``steps``, ``name``, ``label``, ``hooks`` (listeners that get this event only).
        """
        if self._evaluate is None:
            raise RuntimeError("control.evaluate: this run has no evaluation (only a training session evaluates)")
        return self._evaluate(input_fn, **kwargs)

    def save_checkpoint(self) -> str | None:
        """Write a checkpoint now and emit a ``checkpoint`` event; returns its path (None off the chief)."""
        if self._save_checkpoint is None:
            return None
        if self.before_save is not None:
            self.before_save()
        path = self._save_checkpoint()
        self.last_checkpoint_step = self.global_step
        if path is not None:
            self.emit("checkpoint", path=str(path))
        return path
