"""The lab's training job now lives in the runner (``estlab.runner.job``), which worker processes import.

Kept so ``from estlab.widgets._estimator_job import EstimatorJob`` goes on working.
"""

from estlab.runner.job import EstimatorJob, QueueListener, lab_managed_kwargs, label_kwargs

__all__ = ["EstimatorJob", "QueueListener", "lab_managed_kwargs", "label_kwargs"]
