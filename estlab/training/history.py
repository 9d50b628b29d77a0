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

    Past ``max_step_rows`` step rows the steps are thinned: the step axis is cut into buckets of
    ``stride`` steps (counted from the first row) and the first row of each bucket is kept, plus the
    newest row; ``stride`` doubles until the rows fit. The first and the newest row always survive and
    the kept rows stay evenly spaced, however long the run. Viewers (the notebook lab) use the same
    reducer with a smaller cap.

    Examples
    --------
    >>> h = History()
    >>> h.dispatch({"type": "step_end", "global_step": 1, "time": 0.0, "loss": 0.5, "learning_rate": 0.1,
    ...             "examples_per_sec": 10.0})
    >>> h.to_frame().values.tolist()[0]
    ['train', 'loss', 1, 0.5]
    """

    order = ORDER["metrics"]

    #: Past this many step rows, the rows are thinned to evenly spaced ones (first and newest kept).
    max_step_rows: int = 20_000

    def __init__(self, max_step_rows: int | None = None) -> None:
        if max_step_rows is not None:
            if isinstance(max_step_rows, bool) or not isinstance(max_step_rows, int) or max_step_rows < 2:
                raise ValueError(f"max_step_rows: must be an int >= 2, got {max_step_rows!r}")
            self.max_step_rows = max_step_rows
        self.steps: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        #: Bumped on every recorded change (not saved): viewers redraw only when it moved.
        self.revision = 0
        self._stride = 1  # steps per bucket of the thinned rows
        self._tail_is_extra = False  # the newest row is kept only because it is the newest

    def on_train_begin(self, event: Event) -> None:
        self.runs.append({"start_step": event["global_step"], "target_step": event.get("target_step"),
                          "device": event.get("device"), "start_time": event["time"], "status": "running"})
        self.revision += 1

    def on_step_end(self, event: Event) -> None:
        if event.get("loss") is None:
            return
        row = {"global_step": event["global_step"], "time": event["time"]}
        row.update({k: float(event[k]) for k in _TRAIN_KEYS if event.get(k) is not None})
        self._add_step_row(row)
        self.revision += 1

    def _bucket(self, row: dict[str, Any]) -> int:
        return (int(row["global_step"]) - int(self.steps[0]["global_step"])) // self._stride

    def _add_step_row(self, row: dict[str, Any]) -> None:
        if self._tail_is_extra:  # the previous newest row was kept only for being the newest
            self.steps.pop()
        self._tail_is_extra = bool(self.steps) and self._bucket(row) == self._bucket(self.steps[-1])
        self.steps.append(row)
        while len(self.steps) > self.max_step_rows:
            self._stride *= 2
            newest = self.steps[-1]
            kept: list[dict[str, Any]] = []
            for r in self.steps:
                if not kept or self._bucket(r) != self._bucket(kept[-1]):
                    kept.append(r)
            self._tail_is_extra = kept[-1] is not newest
            if self._tail_is_extra:
                kept.append(newest)
            self.steps = kept

    def on_evaluate(self, event: Event) -> None:
        row = {"global_step": event["global_step"], "name": event.get("name"), "time": event["time"],
               "metrics": {k: float(v) for k, v in event["metrics"].items()}}
        self.evaluations = [
            r for r in self.evaluations if (r["global_step"], r["name"]) != (row["global_step"], row["name"])
        ]
        self.evaluations.append(row)
        self.revision += 1

    def on_checkpoint(self, event: Event) -> None:
        self.checkpoints.append({"global_step": event["global_step"], "path": event["path"]})
        self.revision += 1

    def on_train_end(self, event: Event) -> None:
        if not self.runs:
            self.runs.append({"start_step": None})
        self.runs[-1].update(status=event["status"], reason=event.get("reason"), end_step=event["global_step"],
                             end_time=event["time"], final_loss=event.get("final_loss"))
        self.revision += 1

    @property
    def latest_loss(self) -> float | None:
        """The newest recorded training loss, or None before the first synchronised step.

        Examples
        --------
        >>> h = History()
        >>> h.dispatch({"type": "step_end", "global_step": 3, "time": 0.0, "loss": 0.25})
        >>> h.latest_loss
        0.25
        """
        return self.steps[-1].get("loss") if self.steps else None

    def latest_metrics(self, name: str | None = None) -> dict[str, float]:
        """The metrics of the newest evaluation called ``name`` (highest step), or ``{}``.

        Examples
        --------
        >>> h = History()
        >>> for step, auc in ((4, 0.7), (8, 0.8)):
        ...     h.dispatch({"type": "evaluate", "global_step": step, "time": 0.0, "name": None,
        ...                 "metrics": {"auc": auc}})
        >>> h.latest_metrics()
        {'auc': 0.8}
        """
        rows = [r for r in self.evaluations if r["name"] == name]
        if not rows:
            return {}
        newest = max(range(len(rows)), key=lambda i: (rows[i]["global_step"], i))
        return dict(rows[newest]["metrics"])

    def curve(self, split: str, metric: str) -> tuple[list[int], list[float]]:
        """Steps and values of one curve: split ``train`` (step rows) or ``eval`` / ``eval_<name>``.

        Examples
        --------
        >>> h = History()
        >>> h.dispatch({"type": "step_end", "global_step": 1, "time": 0.0, "loss": 0.5})
        >>> h.dispatch({"type": "evaluate", "global_step": 1, "time": 0.0, "name": None, "metrics": {"auc": 0.6}})
        >>> h.curve("train", "loss"), h.curve("eval", "auc")
        (([1], [0.5]), ([1], [0.6]))
        """
        if split == "train":
            rows = [r for r in self.steps if metric in r]
            return [r["global_step"] for r in rows], [r[metric] for r in rows]
        if split != "eval" and not split.startswith("eval_"):
            raise ValueError(f"split: expected 'train', 'eval' or 'eval_<name>', got {split!r}")
        points = self.metric_history(metric, None if split == "eval" else split[len("eval_"):])
        return [step for step, _ in points], [value for _, value in points]

    def curve_keys(self) -> list[tuple[str, str]]:
        """Every ``(split, metric)`` that has points, train curves first.

        Examples
        --------
        >>> h = History()
        >>> h.dispatch({"type": "step_end", "global_step": 1, "time": 0.0, "loss": 0.5})
        >>> h.curve_keys()
        [('train', 'loss')]
        """
        keys = [("train", k) for k in _TRAIN_KEYS if any(k in r for r in self.steps)]
        for r in self.evaluations:
            split = "eval" if r["name"] is None else f"eval_{r['name']}"
            keys.extend((split, k) for k in r["metrics"])
        return list(dict.fromkeys(keys))

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
