"""Evaluation results read back from TensorBoard event files (what ``BestExporter`` compares on a restart).

estlab writes each evaluation's metrics to ``model_dir/eval`` as scalars at the evaluation's global step
(``estlab.training.summaries.EvalSummaryWriter``, one event per scalar). :func:`read_eval_results` groups
the scalars of one evaluation again: consecutive events of one file at the same step, until a tag repeats.
``simple_value`` scalars are read, as TF's ``BestExporter`` does (and one-number float tensors); a file cut short (a run killed while
writing) is read up to its last complete record.

Examples
--------
>>> import tempfile
>>> from estlab.training.summaries import summary_writer, write_scalars
>>> directory = tempfile.mkdtemp()
>>> writer = summary_writer(directory); write_scalars(writer, {"loss": 0.5, "auc": 0.75}, 10); writer.close()
>>> read_eval_results(directory + "/*.tfevents.*")
[{'loss': 0.5, 'auc': 0.75, 'global_step': 10}]
"""

from __future__ import annotations

import glob
import logging
from typing import Any

STEP_KEY = "global_step"


def read_eval_results(pattern: str) -> list[dict[str, Any]]:
    """Every evaluation recorded in the event files matching ``pattern``, oldest file first.

    Parameters
    ----------
    pattern : str
        A glob pattern of event files (e.g. ``"<model_dir>/eval/*.tfevents.*"``).

    Returns
    -------
    list of dict
        One dict per evaluation: ``{tag: float, ..., "global_step": step}``.

    Examples
    --------
    >>> read_eval_results("/nonexistent/eval/*.tfevents.*")
    []
    """
    results: list[dict[str, Any]] = []
    for path in sorted(glob.glob(pattern)):
        results.extend(_file_results(path))
    return results


def _file_results(path: str) -> list[dict[str, Any]]:
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    results: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    step: int | None = None
    loader_log = logging.getLogger("tensorboard")
    level = loader_log.level
    loader_log.setLevel(logging.ERROR)  # a truncated last record is logged as a warning: it is expected
    try:
        for record in RawEventFileLoader(path).Load():
            event = event_pb2.Event.FromString(record)
            if not event.HasField("summary"):
                continue
            values = {v.tag: _scalar(v) for v in event.summary.value}
            values = {tag: value for tag, value in values.items() if value is not None}
            if not values:
                continue
            if current and (event.step != step or any(tag in current for tag in values)):
                results.append({**current, STEP_KEY: step})
                current = {}
            step = int(event.step)
            current.update(values)
    finally:
        loader_log.setLevel(level)
    if current:
        results.append({**current, STEP_KEY: step})
    return results


def _scalar(value: Any) -> float | None:
    """A summary value's number: ``simple_value`` (what estlab and TF write), or a one-number float tensor."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor") and len(value.tensor.float_val) + len(value.tensor.double_val) == 1:
        return float((list(value.tensor.float_val) + list(value.tensor.double_val))[0])
    return None
