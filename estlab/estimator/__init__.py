"""``estlab.estimator``: the ``tf.estimator`` namespace (alias of ``estlab.estimators`` plus the training API).

Everything in ``estlab.estimators`` is reachable here (``DNNClassifier``, heads, registry, ...), with
``RunConfig``, ``TrainSpec``, ``EvalSpec``, ``train_and_evaluate``, the early-stopping hooks,
``ModelSpec``/``model_to_estimator`` and ``estlab.estimator.inputs`` (= ``estlab.inputs``).

Examples
--------
>>> import estlab.estimator as est_api
>>> est_api.RunConfig(save_checkpoints_steps=10).save_checkpoints_steps
10
>>> est_api.inputs.numpy_input_fn is __import__("estlab.inputs").inputs.numpy_input_fn
True
"""

from __future__ import annotations

from typing import Any

import estlab.estimators as _estimators
from estlab.estimator import inputs
from estlab.estimators.custom import CustomHead, ModeKeys, ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.from_module import model_to_estimator
from estlab.training import (
    EarlyStopping,
    EvalSpec,
    History,
    Listener,
    NanLossError,
    RunConfig,
    TrainSpec,
    stop_if_no_decrease_hook,
    stop_if_no_increase_hook,
    train_and_evaluate,
)

__all__ = [
    "BestExporter",
    "FinalExporter",
    "LatestExporter",
    "CustomHead",
    "EarlyStopping",
    "Estimator",
    "EvalSpec",
    "History",
    "Listener",
    "ModeKeys",
    "ModelSpec",
    "NanLossError",
    "RunConfig",
    "TrainSpec",
    "inputs",
    "model_to_estimator",
    "stop_if_no_decrease_hook",
    "stop_if_no_increase_hook",
    "train_and_evaluate",
]


#: TF's exporters live with the export code; loaded on first use so this namespace stays light.
_EXPORTERS = ("BestExporter", "FinalExporter", "LatestExporter")


def __getattr__(name: str) -> Any:
    """Serve the exporters from ``estlab.export.exporters`` and every other name from ``estlab.estimators``."""
    if name in _EXPORTERS:
        from estlab.export import exporters

        return getattr(exporters, name)
    try:
        return getattr(_estimators, name)
    except AttributeError:
        raise AttributeError(f"module 'estlab.estimator' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(getattr(_estimators, "__all__", [])))
