"""estlab.training: RunConfig, the training session and loop, listeners (checkpoints, TensorBoard, History...).

Names load on first access (PEP 562), so the torch-free parts (``events``, ``history``) import without torch
for the notebook UI: ``import estlab.training.events`` does not load the loop.

Examples
--------
>>> from estlab.training import RunConfig, Listener
>>> RunConfig(save_checkpoints_steps=100).keep_checkpoint_max
5
"""

from __future__ import annotations

import importlib
from typing import Any

# Torch-free, and named like its module: imported here so the function, not the module, is the attribute.
from estlab.training.train_and_evaluate import EvalSpec, Evaluator, TrainSpec, train_and_evaluate  # noqa: F401

#: public name → the submodule that defines it
_EXPORTS = {
    "EVENT_TYPES": "events", "ORDER": "events", "Control": "events", "Event": "events", "Listener": "events",
    "sort_listeners": "events",
    "CheckpointSaver": "checkpoints",
    "RunConfig": "config", "resolve_device": "config",
    "EarlyStopping": "early_stopping", "stop_if_no_decrease_hook": "early_stopping",
    "stop_if_no_increase_hook": "early_stopping", "stop_if_higher_hook": "early_stopping",
    "stop_if_lower_hook": "early_stopping", "make_early_stopping_hook": "early_stopping",
    "read_eval_metrics": "early_stopping", "StopOnPredicateHook": "early_stopping",
    "History": "history",
    "ModelDirLock": "lock",
    "LoggingListener": "logging_listener",
    "LoopResult": "loop", "LoopTask": "loop", "NanLossError": "loop", "run_loop": "loop",
    "TrainingSession": "session",
    "TensorBoardWriter": "summaries", "EvalSummaryWriter": "summaries",
}

__all__ = sorted([*_EXPORTS, "EvalSpec", "Evaluator", "TrainSpec", "train_and_evaluate"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'estlab.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"estlab.training.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
