"""``estlab.estimator``: the ``tf.estimator`` namespace (TF's names over ``estlab.estimators`` and ``estlab.training``).

``tf.estimator.X`` is ``estlab.estimator.X``; TF's submodules are here too: ``experimental`` (early-stopping
hooks), ``export`` (serving input receivers) and ``inputs`` (``numpy_input_fn``, ``pandas_input_fn``). Every
name loads on first use (PEP 562), so ``import estlab.estimator`` imports neither torch nor the estimators.
Any other public name of ``estlab.estimators`` is served too.

To add a TF name, add one line to :data:`TF_NAMES` (``"Name": "module:attribute"``).

Examples
--------
>>> import estlab
>>> estlab.estimator.RunConfig(save_checkpoints_steps=10).save_checkpoints_steps
10
>>> estlab.estimator.inputs.numpy_input_fn is estlab.inputs.numpy_input_fn
True
>>> estlab.estimator.experimental.stop_if_no_decrease_hook.__module__
'estlab.training.early_stopping'
"""

from __future__ import annotations

import importlib
from typing import Any

#: TF's ``tf.estimator`` names → ``"module:attribute"`` that provides each (imported on first use).
TF_NAMES: dict[str, str] = {
    # estimators
    "Estimator": "estlab.estimators.estimator:Estimator",
    "BaselineClassifier": "estlab.estimators.baseline:BaselineClassifier",
    "BaselineRegressor": "estlab.estimators.baseline:BaselineRegressor",
    "BoostedTreesClassifier": "estlab.estimators.boosted_trees:BoostedTreesClassifier",
    "BoostedTreesRegressor": "estlab.estimators.boosted_trees:BoostedTreesRegressor",
    "DNNClassifier": "estlab.estimators.dnn:DNNClassifier",
    "DNNRegressor": "estlab.estimators.dnn:DNNRegressor",
    "DNNLinearCombinedClassifier": "estlab.estimators.dnn_linear_combined:DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor": "estlab.estimators.dnn_linear_combined:DNNLinearCombinedRegressor",
    "LinearClassifier": "estlab.estimators.linear:LinearClassifier",
    "LinearRegressor": "estlab.estimators.linear:LinearRegressor",
    # heads and the custom-estimator contract
    "BinaryClassHead": "estlab.estimators.heads:BinaryClassHead",
    "Head": "estlab.estimators.heads:Head",
    "MultiClassHead": "estlab.estimators.heads:MultiClassHead",
    "RegressionHead": "estlab.estimators.heads:RegressionHead",
    "ModeKeys": "estlab.estimators.custom:ModeKeys",
    "MultiLabelHead": "estlab.estimators.heads:MultiLabelHead",
    "MultiHead": "estlab.estimators.multi_head:MultiHead",
    "PoissonRegressionHead": "estlab.estimators.heads:PoissonRegressionHead",
    "LogisticRegressionHead": "estlab.estimators.heads:LogisticRegressionHead",
    "EstimatorSpec": "estlab.estimators.tf_model_fn:EstimatorSpec",
    "DNNEstimator": "estlab.estimators.head_estimators:DNNEstimator",
    "LinearEstimator": "estlab.estimators.head_estimators:LinearEstimator",
    "DNNLinearCombinedEstimator": "estlab.estimators.head_estimators:DNNLinearCombinedEstimator",
    "add_metrics": "estlab.estimators.add_metrics:add_metrics",
    "WarmStartSettings": "estlab.estimators.warm_start:WarmStartSettings",
    "VocabInfo": "estlab.estimators.warm_start:VocabInfo",
    # training
    "RunConfig": "estlab.training.config:RunConfig",
    "TrainSpec": "estlab.training.train_and_evaluate:TrainSpec",
    "EvalSpec": "estlab.training.train_and_evaluate:EvalSpec",
    "train_and_evaluate": "estlab.training.train_and_evaluate:train_and_evaluate",
    "NanLossDuringTrainingError": "estlab.training.loop:NanLossError",
    # training hooks (TF's SessionRunHook API on the event bus)
    "SessionRunHook": "estlab.training.session_run_hook:SessionRunHook",
    "SessionRunArgs": "estlab.training.session_run_hook:SessionRunArgs",
    "SessionRunContext": "estlab.training.session_run_hook:SessionRunContext",
    "SessionRunValues": "estlab.training.session_run_hook:SessionRunValues",
    "SecondOrStepTimer": "estlab.training.hook_timers:SecondOrStepTimer",
    "StopAtStepHook": "estlab.training.basic_hooks:StopAtStepHook",
    "LoggingTensorHook": "estlab.training.basic_hooks:LoggingTensorHook",
    "NanTensorHook": "estlab.training.basic_hooks:NanTensorHook",
    "StepCounterHook": "estlab.training.basic_hooks:StepCounterHook",
    "SummarySaverHook": "estlab.training.basic_hooks:SummarySaverHook",
    "GlobalStepWaiterHook": "estlab.training.basic_hooks:GlobalStepWaiterHook",
    "FinalOpsHook": "estlab.training.basic_hooks:FinalOpsHook",
    "FeedFnHook": "estlab.training.basic_hooks:FeedFnHook",
    "CheckpointSaverListener": "estlab.training.checkpoint_hooks:CheckpointSaverListener",
    "CheckpointSaverHook": "estlab.training.checkpoint_hooks:CheckpointSaverHook",
    "ProfilerHook": "estlab.training.profiler_hook:ProfilerHook",
    # exporters (they write exports; kept with the export code)
    "BestExporter": "estlab.export.exporters:BestExporter",
    "Exporter": "estlab.export.exporters:Exporter",
    "FinalExporter": "estlab.export.exporters:FinalExporter",
    "LatestExporter": "estlab.export.exporters:LatestExporter",
    # parse-example specs
    "classifier_parse_example_spec": "estlab.estimator.export:classifier_parse_example_spec",
    "regressor_parse_example_spec": "estlab.estimator.export:regressor_parse_example_spec",
}

#: estlab's own names offered here beside TF's.
ESTLAB_NAMES: dict[str, str] = {
    "CustomHead": "estlab.estimators.custom:CustomHead",
    "ModelSpec": "estlab.estimators.custom:ModelSpec",
    "model_to_estimator": "estlab.estimators.from_module:model_to_estimator",
    "EarlyStopping": "estlab.training.early_stopping:EarlyStopping",
    "History": "estlab.training.history:History",
    "Listener": "estlab.training.events:Listener",
    "NanLossError": "estlab.training.loop:NanLossError",
    # TF has these under tf.estimator.experimental; earlier estlab versions served them here
    "stop_if_no_decrease_hook": "estlab.training.early_stopping:stop_if_no_decrease_hook",
    "stop_if_no_increase_hook": "estlab.training.early_stopping:stop_if_no_increase_hook",
}

#: TF's submodules of ``tf.estimator``.
SUBMODULES = ("experimental", "export", "inputs")

__all__ = sorted([*TF_NAMES, *ESTLAB_NAMES, *SUBMODULES])


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def __getattr__(name: str) -> Any:
    """Serve :data:`TF_NAMES`, :data:`ESTLAB_NAMES`, the submodules, then any name of ``estlab.estimators``."""
    target = TF_NAMES.get(name) or ESTLAB_NAMES.get(name)
    if target is not None:
        value = _load(target)
    elif name in SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        try:
            value = None if name.startswith("_") else getattr(importlib.import_module("estlab.estimators"), name)
        except AttributeError:
            value = None
        if value is None:
            raise AttributeError(f"module 'estlab.estimator' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    estimators = importlib.import_module("estlab.estimators")
    return sorted({*globals(), *__all__, *getattr(estimators, "__all__", [])})
