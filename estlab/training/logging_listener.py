"""``LoggingListener``: TF-style log lines through ``logging`` (never ``print``)."""

from __future__ import annotations

import logging

from estlab.training.events import ORDER, Event, Listener

logger = logging.getLogger("estlab.training")


class LoggingListener(Listener):
    """Log ``loss = ..., step = ...`` every ``every_n_steps`` and a line per evaluation and run end.

    Examples
    --------
    >>> LoggingListener(every_n_steps=100).wants_loss(200)
    True
    """

    order = ORDER["loggers"]

    def __init__(self, every_n_steps: int = 100, log: logging.Logger | None = None) -> None:
        self.every_n_steps = every_n_steps
        self.log = log or logger
        self._last: tuple[int, float] | None = None

    def wants_loss(self, global_step: int) -> bool:
        return global_step % self.every_n_steps == 0

    def on_train_begin(self, event: Event) -> None:
        self._last = (event["global_step"], event["time"])
        self.log.info("Training %s from step %d to %s on %s", event["run"], event["global_step"],
                      event.get("target_step"), event.get("device"))

    def on_step_end(self, event: Event) -> None:
        step = event["global_step"]
        if step % self.every_n_steps or event.get("loss") is None:
            return
        rate = ""
        if self._last is not None and event["time"] > self._last[1]:
            rate = f" ({(step - self._last[0]) / (event['time'] - self._last[1]):.4g} steps/sec)"
        self._last = (step, event["time"])
        self.log.info("loss = %.6g, step = %d%s", event["loss"], step, rate)

    def on_evaluate(self, event: Event) -> None:
        metrics = ", ".join(f"{k} = {v:.6g}" for k, v in sorted(event["metrics"].items()))
        self.log.info("Evaluation %s at step %d: %s", event.get("name") or "", event["global_step"], metrics)

    def on_checkpoint(self, event: Event) -> None:
        self.log.info("Saved checkpoint %s", event["path"])

    def on_train_end(self, event: Event) -> None:
        level = logging.ERROR if event["status"] == "failed" else logging.INFO
        self.log.log(level, "Training %s at step %d: %s (final loss %s)", event["status"], event["global_step"],
                     event.get("reason"), event.get("final_loss"))
