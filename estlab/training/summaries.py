"""TensorBoard event files through ``torch.utils.tensorboard.SummaryWriter``.

Training scalars (``loss``, ``learning_rate``, ``global_step/sec``) go to ``model_dir/``; evaluation
metrics to ``model_dir/eval`` (or ``eval_<name>``), as tf.estimator laid them out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from estlab.training.events import ORDER, Event, Listener

if TYPE_CHECKING:  # imported on first use: it pulls in tensorboard (and boto3 where installed), ~0.2 s
    from torch.utils.tensorboard import SummaryWriter

#: Training events reach disk at least this often (and at the end of every ``train`` call).
FLUSH_SECS = 5


def eval_dir(model_dir: str | os.PathLike, name: str | None = None) -> Path:
    """Directory of an evaluation's events: ``eval`` or ``eval_<name>``.

    Examples
    --------
    >>> eval_dir("/tmp/run", "test").name
    'eval_test'
    """
    return Path(model_dir) / ("eval" if not name else f"eval_{name}")


def summary_writer(log_dir: str | os.PathLike, **kwargs: Any) -> SummaryWriter:
    """A ``torch.utils.tensorboard.SummaryWriter`` for ``log_dir`` (tensorboard is imported here, not at import).

    Examples
    --------
    >>> import tempfile
    >>> summary_writer(tempfile.mkdtemp()).close()
    """
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(log_dir), **kwargs)


def write_scalars(writer: SummaryWriter, values: Mapping[str, float], global_step: int, flush: bool = True) -> None:
    """Write each value as a scalar at ``global_step`` (and flush, unless ``flush=False``).

    Examples
    --------
    >>> import tempfile
    >>> w = summary_writer(tempfile.mkdtemp())
    >>> write_scalars(w, {"loss": 0.5}, 1); w.close()
    """
    for key, value in values.items():
        writer.add_scalar(key, float(value), global_step)
    if flush:
        writer.flush()


class TensorBoardWriter(Listener):
    """Write training scalars every ``save_summary_steps`` and ``global_step/sec`` every ``log_steps``.

    Evaluation metrics that arrive as ``evaluate`` events during training are written by the
    estimator's own evaluation writer (``model_dir/eval``), not here.

    Examples
    --------
    >>> import tempfile
    >>> tb = TensorBoardWriter(tempfile.mkdtemp(), save_summary_steps=10)
    >>> tb.wants_loss(20), tb.wants_loss(21)
    (True, False)
    """

    order = ORDER["loggers"]

    def __init__(self, log_dir: str | os.PathLike, save_summary_steps: int = 100, log_steps: int = 100) -> None:
        self.log_dir = str(log_dir)
        self.save_summary_steps = save_summary_steps
        self.log_steps = log_steps
        self._writer: SummaryWriter | None = None
        self._rate_from: tuple[int, float] | None = None

    def wants_loss(self, global_step: int) -> bool:
        return global_step % self.save_summary_steps == 0

    def on_train_begin(self, event: Event) -> None:
        self._writer = summary_writer(self.log_dir, flush_secs=FLUSH_SECS)
        self._rate_from = (event["global_step"], event["time"])

    def on_step_end(self, event: Event) -> None:
        step = event["global_step"]
        values = {}
        if event.get("loss") is not None and step % self.save_summary_steps == 0:
            values = {"loss": event["loss"], "learning_rate": event["learning_rate"]}
        if step % self.log_steps == 0 and self._rate_from is not None:
            first_step, first_time = self._rate_from
            if event["time"] > first_time:
                values["global_step/sec"] = (step - first_step) / (event["time"] - first_time)
            self._rate_from = (step, event["time"])
        if values and self._writer is not None:
            write_scalars(self._writer, values, step, flush=False)  # the writer flushes every FLUSH_SECS

    def on_train_end(self, event: Event) -> None:
        if self._writer is not None:
            if event.get("final_loss") is not None and event["global_step"] % self.save_summary_steps:
                self._writer.add_scalar("loss", float(event["final_loss"]), event["global_step"])
            self._writer.close()
            self._writer = None


class EvalSummaryWriter(Listener):
    """Write each ``evaluate`` event's metrics to ``model_dir/eval`` (``eval_<name>``) at its global step.

    One writer per evaluation name, opened on the first event and closed by :meth:`close` (the session
    closes it when its call ends, so no writer thread outlives a call).

    Examples
    --------
    >>> import tempfile
    >>> writer = EvalSummaryWriter(tempfile.mkdtemp())
    >>> writer.dispatch({"type": "evaluate", "global_step": 3, "time": 0.0, "name": None, "metrics": {"loss": 0.5}})
    >>> sorted(writer.log_dirs()); writer.close()
    ['eval']
    """

    order = ORDER["loggers"]

    def __init__(self, model_dir: str | os.PathLike) -> None:
        self.model_dir = str(model_dir)
        self._writers: dict[str | None, SummaryWriter] = {}

    def on_evaluate(self, event: Event) -> None:
        name = event.get("name")
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = summary_writer(eval_dir(self.model_dir, name))
        write_scalars(writer, event["metrics"], event["global_step"])

    def log_dirs(self) -> list[str]:
        """Names of the evaluation directories written so far."""
        return [eval_dir(self.model_dir, name).name for name in self._writers]

    def close(self) -> None:
        """Close every writer (their files are complete on disk)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
