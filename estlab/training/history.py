"""``History``: the record of a run (losses, evaluations, checkpoints, runs); the single source of truth."""

from __future__ import annotations

from typing import Any

import pandas as pd

from estlab.training.events import ORDER, Event, Listener

_TRAIN_KEYS = ("loss", "learning_rate", "examples_per_sec")


class History(Listener):
    """Record every training event as plain values; saved in checkpoints, read by viz and widgets.

    ``steps`` holds one row per step whose loss was synchronised, ``evaluations`` one row per
    evaluation (a re-evaluation at the same step and name replaces the older row), ``checkpoints``
    the paths written and ``runs`` one row per ``train`` call (status, reason).

    Examples
    --------
    >>> h = History()
    >>> h.dispatch({"type": "step_end", "global_step": 1, "time": 0.0, "loss": 0.5, "learning_rate": 0.1,
    ...             "examples_per_sec": 10.0})
    >>> h.to_frame().values.tolist()[0]
    ['train', 'loss', 1, 0.5]
    """

    order = ORDER["metrics"]

    #: Past this many step rows, every other row is dropped (newest kept) so checkpoints stay small.
    max_step_rows: int = 20_000

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def on_train_begin(self, event: Event) -> None:
        self.runs.append({"start_step": event["global_step"], "target_step": event.get("target_step"),
                          "device": event.get("device"), "start_time": event["time"], "status": "running"})

    def on_step_end(self, event: Event) -> None:
        if event.get("loss") is None:
            return
        row = {"global_step": event["global_step"], "time": event["time"]}
        row.update({k: float(event[k]) for k in _TRAIN_KEYS if event.get(k) is not None})
        self.steps.append(row)
        if len(self.steps) > self.max_step_rows:
            self.steps = self.steps[::-2][::-1]

    def on_evaluate(self, event: Event) -> None:
        row = {"global_step": event["global_step"], "name": event.get("name"), "time": event["time"],
               "metrics": {k: float(v) for k, v in event["metrics"].items()}}
        self.evaluations = [
            r for r in self.evaluations if (r["global_step"], r["name"]) != (row["global_step"], row["name"])
        ]
        self.evaluations.append(row)

    def on_checkpoint(self, event: Event) -> None:
        self.checkpoints.append({"global_step": event["global_step"], "path": event["path"]})

    def on_train_end(self, event: Event) -> None:
        if not self.runs:
            self.runs.append({"start_step": None})
        self.runs[-1].update(status=event["status"], reason=event.get("reason"), end_step=event["global_step"],
                             end_time=event["time"], final_loss=event.get("final_loss"))

    def metric_history(self, metric: str, name: str | None = None) -> list[tuple[int, float]]:
        """``(global_step, value)`` of one evaluation metric, in step order.

        Examples
        --------
        >>> h = History()
        >>> h.dispatch({"type": "evaluate", "global_step": 5, "time": 0.0, "name": None, "metrics": {"loss": 1.0}})
        >>> h.metric_history("loss")
        [(5, 1.0)]
        """
        rows = [r for r in self.evaluations if r["name"] == name and metric in r["metrics"]]
        return sorted((r["global_step"], r["metrics"][metric]) for r in rows)

    def to_frame(self) -> pd.DataFrame:
        """Long frame ``split, metric, step, value`` (split ``train``, ``eval`` or ``eval_<name>``)."""
        rows = [("train", k, r["global_step"], r[k]) for r in self.steps for k in _TRAIN_KEYS if k in r]
        for r in self.evaluations:
            split = "eval" if r["name"] is None else f"eval_{r['name']}"
            rows.extend((split, k, r["global_step"], v) for k, v in r["metrics"].items())
        frame = pd.DataFrame(rows, columns=["split", "metric", "step", "value"])
        return frame.astype({"split": object, "metric": object, "step": "int64", "value": "float64"})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in checkpoints)."""
        return {"steps": self.steps, "evaluations": self.evaluations, "checkpoints": self.checkpoints,
                "runs": self.runs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild from ``to_dict()``.

        Examples
        --------
        >>> History.from_dict(History().to_dict()).steps
        []
        """
        history = cls()
        for key in ("steps", "evaluations", "checkpoints", "runs"):
            setattr(history, key, list(data.get(key, [])))
        return history

    def __repr__(self) -> str:
        return f"History(steps={len(self.steps)}, evaluations={len(self.evaluations)}, runs={len(self.runs)})"
