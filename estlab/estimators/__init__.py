"""estlab.estimators (alias ``estlab.estimator``): the Estimator, premade estimators, heads, registry.

Names are imported on first access (PEP 562), so ``import estlab.estimators.registry`` (and
``choices``) stays torch-free; ``estlab.estimators.DNNClassifier`` imports torch.

Examples
--------
>>> from estlab import estimators
>>> from estlab import feature_column as fc
>>> est = estimators.DNNClassifier(hidden_units=[16], feature_columns=[fc.numeric_column("x")])
>>> estimators.list_premade("regression")[0].name
'baseline_regressor'
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name → the module that defines it (imported when the name is first used).
_EXPORTS: dict[str, str] = {
    "BaselineClassifier": "estlab.estimators.baseline",
    "BaselineRegressor": "estlab.estimators.baseline",
    "BoostedTreesClassifier": "estlab.estimators.boosted_trees",
    "BoostedTreesRegressor": "estlab.estimators.boosted_trees",
    "ModeKeys": "estlab.estimators.custom",
    "DNNClassifier": "estlab.estimators.dnn",
    "DNNRegressor": "estlab.estimators.dnn",
    "DNNLinearCombinedClassifier": "estlab.estimators.dnn_linear_combined",
    "DNNLinearCombinedRegressor": "estlab.estimators.dnn_linear_combined",
    "Estimator": "estlab.estimators.estimator",
    "BinaryClassHead": "estlab.estimators.heads",
    "Head": "estlab.estimators.heads",
    "MultiClassHead": "estlab.estimators.heads",
    "RegressionHead": "estlab.estimators.heads",
    "MultiLabelHead": "estlab.estimators.heads",
    "MultiHead": "estlab.estimators.multi_head",
    "PoissonRegressionHead": "estlab.estimators.heads",
    "LogisticRegressionHead": "estlab.estimators.heads",
    "EstimatorSpec": "estlab.estimators.tf_model_fn",
    "DNNEstimator": "estlab.estimators.head_estimators",
    "LinearEstimator": "estlab.estimators.head_estimators",
    "DNNLinearCombinedEstimator": "estlab.estimators.head_estimators",
    "add_metrics": "estlab.estimators.add_metrics",
    "WarmStartSettings": "estlab.estimators.warm_start",
    "VocabInfo": "estlab.estimators.warm_start",
    "head_from_dict": "estlab.estimators.heads",
    "make_head": "estlab.estimators.heads",
    "LinearClassifier": "estlab.estimators.linear",
    "LinearRegressor": "estlab.estimators.linear",
    "higher_is_better": "estlab.training.metric_info",
    "preferred_metrics": "estlab.training.metric_info",
    "OPTIMIZERS": "estlab.estimators.optimizers",
    "optimizer_names": "estlab.estimators.optimizers",
    "resolve_optimizer": "estlab.estimators.optimizers",
    "REGISTRY": "estlab.estimators.registry",
    "ParamInfo": "estlab.estimators.registry",
    "PremadeInfo": "estlab.estimators.registry",
    "create": "estlab.estimators.registry",
    "info": "estlab.estimators.registry",
    "list_premade": "estlab.estimators.registry",
    "validate": "estlab.estimators.registry",
    # served from estlab.training (which imports this package's modules)
    "RunConfig": "estlab.training",
    "TrainSpec": "estlab.training",
    "EvalSpec": "estlab.training",
    "train_and_evaluate": "estlab.training",
}

_SUBMODULES = (
    "baseline", "boosted_trees", "choices", "custom", "dnn", "dnn_linear_combined", "estimator", "heads", "linear",
    "metrics", "optimizers", "registry", "tree_ensemble", "layers", "tf_model_fn", "head_estimators", "warm_start",
    "add_metrics", "model_state", "model_cache", "inference", "from_module",
)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'estlab.estimators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})


__all__ = sorted(_EXPORTS)
