"""estlab.widgets: the notebook lab (column builder, estimator picker, training panel, runs, TensorBoard).

Importable, and a ``Lab`` with all its panels buildable, without torch: the widgets read plain events, a
``History`` per run, the registry's parameter info and ``metric_info``; torch and the estimators are imported
only when a run starts, in a worker process (``estlab.runner``: an experiment directory, a pool of warm
workers, sweeps). One UI thread per lab owns the widgets (see ``runs.py``).

Examples
--------
>>> from estlab.widgets import Lab
>>> from estlab.datasets import load_adult
>>> train, test = load_adult()
>>> lab = Lab(train, test, label="income_bracket")  # doctest: +SKIP
>>> lab  # doctest: +SKIP
"""

from estlab.widgets._state import RunSpec, RunState
from estlab.widgets.columns import ColumnBuilder
from estlab.widgets.lab import Lab
from estlab.widgets.leaderboard import RunsView
from estlab.widgets.picker import EstimatorPicker
from estlab.widgets.runs import DuplicateRunError, RunManager
from estlab.widgets.tensorboard import TensorBoardPanel
from estlab.widgets.training import TrainingPanel

__all__ = [
    "ColumnBuilder",
    "DuplicateRunError",
    "EstimatorPicker",
    "Lab",
    "RunManager",
    "RunSpec",
    "RunState",
    "RunsView",
    "TensorBoardPanel",
    "TrainingPanel",
]
