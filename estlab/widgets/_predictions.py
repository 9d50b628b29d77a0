"""Eval-set predictions as a file in a run's model_dir: moved to ``estlab.runner.predictions`` (the worker
writes them, the runs view reads them); kept so old imports keep working.
"""

from estlab.runner.predictions import PREDICTIONS_FILE, load_predictions, save_predictions

__all__ = ["PREDICTIONS_FILE", "load_predictions", "save_predictions"]
