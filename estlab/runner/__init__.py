"""estlab.runner: experiments on disk and the processes that train their runs (widgets → runner → estimators).

The kernel side (``Experiment``, ``WorkerPool``, ``ThreadExecutor``, specs, sweeps) imports without torch and
knows nothing of widgets; the worker processes (:mod:`estlab.runner.worker`) import torch and the estimators.

Examples
--------
>>> from estlab.runner import Experiment, loguniform
>>> loguniform(1e-4, 1e-2).kind
'loguniform'
"""

from estlab.runner.executor import Executor, Job, RunRequest, ThreadExecutor, make_executor
from estlab.runner.experiment import Experiment, RunRecord, data_fingerprint
from estlab.runner.pool import WorkerPool, default_workers
from estlab.runner.spec import RunSpec, run_fingerprint
from estlab.runner.sweep import grid, loguniform, randint, sample, trials_of, uniform

__all__ = [
    "Executor",
    "Experiment",
    "Job",
    "RunRecord",
    "RunRequest",
    "RunSpec",
    "ThreadExecutor",
    "WorkerPool",
    "data_fingerprint",
    "default_workers",
    "grid",
    "loguniform",
    "make_executor",
    "randint",
    "run_fingerprint",
    "sample",
    "trials_of",
    "uniform",
]
