"""estlab.training: RunConfig, the loop, listeners (checkpoints, TensorBoard, logging, history, early stopping).

Examples
--------
>>> from estlab.training import RunConfig, Listener
>>> RunConfig(save_checkpoints_steps=100).keep_checkpoint_max
5
"""

from estlab.training.checkpoints import CheckpointSaver
from estlab.training.config import RunConfig, resolve_device
from estlab.training.early_stopping import EarlyStopping, stop_if_no_decrease_hook, stop_if_no_increase_hook
from estlab.training.events import EVENT_TYPES, ORDER, Control, Event, Listener, sort_listeners
from estlab.training.exporters import BestExporter, FinalExporter, LatestExporter
from estlab.training.history import History
from estlab.training.lock import ModelDirLock
from estlab.training.logging_listener import LoggingListener
from estlab.training.loop import LoopResult, LoopTask, NanLossError, run_loop
from estlab.training.summaries import TensorBoardWriter
from estlab.training.train_and_evaluate import EvalSpec, Evaluator, TrainSpec, train_and_evaluate

__all__ = [
    "BestExporter",
    "FinalExporter",
    "LatestExporter",
    "EVENT_TYPES",
    "ORDER",
    "CheckpointSaver",
    "Control",
    "EarlyStopping",
    "EvalSpec",
    "Evaluator",
    "Event",
    "History",
    "Listener",
    "LoggingListener",
    "LoopResult",
    "LoopTask",
    "ModelDirLock",
    "NanLossError",
    "RunConfig",
    "TensorBoardWriter",
    "TrainSpec",
    "resolve_device",
    "run_loop",
    "sort_listeners",
    "stop_if_no_decrease_hook",
    "stop_if_no_increase_hook",
    "train_and_evaluate",
]
