"""Training events: plain dicts of plain Python values, and the listener interface.

The training loop emits events; checkpoints, TensorBoard, early stopping, logging,
history and the notebook widgets are all listeners. Events never carry tensors, so
UI code (``estlab.widgets``) can consume them without importing torch.

Event payloads (every event has ``"type"``, ``"run"`` (run name or model_dir),
``"global_step"`` (int) and ``"time"`` (``time.time()`` float)):

``train_begin``
    ``start_step``, ``target_step`` (int or None), ``device`` (str), ``estimator`` (class name),
    ``params`` (dict of plain values).
``step_end``  (emitted every step; heavy listeners keep their own cadence)
    ``loss`` (float or None when the step's loss was not synchronised), ``learning_rate`` (float),
    ``examples_per_sec`` (float), ``epoch`` (int), ``examples_seen`` (int).
``evaluate``
    ``metrics`` (dict[str, float], TF keys), ``name`` (str or None).
``checkpoint``
    ``path`` (str).
``train_end``
    ``status``: ``"finished" | "stopped" | "failed"``, ``reason`` (str), ``error`` (str or None),
    ``final_loss`` (float or None).

Examples
--------
>>> class PrintLoss(Listener):
...     def on_step_end(self, event):
...         print(event["global_step"], event["loss"])
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

EVENT_TYPES = ("train_begin", "step_end", "evaluate", "checkpoint", "train_end")


class Listener:
    """Base class for everything that reacts to training events.

    Subclasses override the ``on_*`` methods they need. ``order`` places the listener
    in the one defined sequence (metrics 0 → monitors 100 → loggers 200 → UI 300).
    ``control`` is set by the loop before ``on_train_begin``; a listener stops training
    only through ``self.control.request_stop(reason)``.
    """

    order: int = 200
    control: Any = None

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
