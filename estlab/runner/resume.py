"""Resume a run without a lab: continue it from its last checkpoint and record it as a lab would (torch-free).

:func:`resume_run` is what :meth:`Experiment.resume <estlab.runner.experiment.Experiment.resume>` calls: it checks
that the run may resume (:meth:`~estlab.runner.experiment.Experiment.check_resume`: same configuration, same
data), queues it again under its own name and folder, trains it in a worker process (a one-worker
:class:`~estlab.runner.pool.WorkerPool` unless an executor is given) and applies its events to the run record
(:class:`RecordWriter`), appending them to its event log. The estimator continues from the newest checkpoint
in the run's folder, so the steps already trained are not trained again.

Examples
--------
>>> from estlab.runner.spec import RunSpec
>>> from estlab.runner.experiment import RunRecord
>>> record = RunRecord("r", RunSpec.create("linear_classifier"))
>>> writer = RecordWriter(None, record)
>>> writer({"type": "evaluate", "global_step": 4, "time": 1.0, "name": None, "metrics": {"accuracy": 0.5}})
>>> record.global_step, record.metrics
(4, {'accuracy': 0.5})
"""

from __future__ import annotations

import threading
import time
from typing import Any

from estlab.runner.executor import Executor, RunRequest
from estlab.runner.experiment import Experiment, RunRecord
from estlab.runner.liveness import this_process


class RecordWriter:
    """Apply a run's events to its :class:`RunRecord` and, with an experiment, to ``run.json`` and its event log.

    Parameters
    ----------
    experiment
        Where to write (None: only the record changes).
    record
        The run's record, changed in place.
    """

    def __init__(self, experiment: Experiment | None, record: RunRecord) -> None:
        self.experiment, self.record = experiment, record
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        record, kind = self.record, event.get("type")
        now = float(event.get("time") or time.time())
        step = event.get("global_step")
        if step is not None:
            record.global_step = max(record.global_step if kind != "train_begin" else 0, int(step))
        save = True
        if kind == "starting":
            record.status, record.start_time = "starting", now
            record.worker = event.get("worker", record.worker)
        elif kind == "train_begin":
            record.status = "running"
            record.device = str(event.get("device") or record.device)
        elif kind == "evaluate" and event.get("name") is None:
            record.metrics = {
                k: float(v)
                for k, v in (event.get("metrics") or {}).items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
        elif kind == "train_end":
            record.status = str(event.get("status") or "finished")
            record.reason, record.error = str(event.get("reason") or ""), event.get("error")
            record.end_time = now
        elif kind == "predictions":
            record.predictions_path = str(event.get("path") or "")
        else:
            save = False
        if self.experiment is not None:
            if kind in ("train_begin", "step_end", "evaluate", "checkpoint", "train_end"):
                plain = {k: v for k, v in event.items() if k != "traceback"}
                self.experiment.append_events(
                    record.name, [{**plain, "global_step": record.global_step, "time": now}]
                )
            if save:
                self.experiment.save_record(record)


def resume_run(
    experiment: Experiment, name: str, executor: Executor | None = None, timeout: float | None = None
) -> RunRecord:
    """Continue run ``name`` of ``experiment`` from its last checkpoint; block until it ends; return its record.

    Raises ValueError when the run may not resume (finished, still training, or the experiment's current data
    is not the run's) and TimeoutError when ``timeout`` seconds pass first (the run is then stopped).

    Examples
    --------
    >>> resume_run(Experiment.open("runs/adult"), "dnn_classifier-2").global_step  # doctest: +SKIP
    1000
    """
    record = experiment.check_resume(name)
    own_pool = executor is None
    if executor is None:
        from estlab.runner.pool import WorkerPool

        executor = WorkerPool(size=1)
    record.status, record.reason, record.error, record.end_time = "queued", "", None, None
    record.owner = {**this_process(), "token": "resume"}
    experiment.save_record(record)
    writer = RecordWriter(experiment, record)
    finished = threading.Event()
    train_path, eval_path = experiment.data_paths(record.data_fingerprint)
    request = RunRequest(record.spec, experiment.run_dir(name), train_path, eval_path)
    try:
        executor.start(name, request, writer, lambda _name: finished.set())
        if not finished.wait(timeout):
            executor.stop(name)
            finished.wait(30.0)
            raise TimeoutError(
                f"timeout: run {name!r} did not end within {timeout} s; it was stopped at step "
                f"{record.global_step:,} (resume it again to continue)"
            )
    finally:
        if own_pool:
            executor.close(timeout=5.0)
    if record.status in ("queued", "starting", "running"):  # the executor ended it without a train_end
        experiment.interrupt(record, "the run ended without reporting its end")
    return record
