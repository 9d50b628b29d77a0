"""estlab.estimators (alias ``estlab.estimator``): the Estimator, premade estimators, heads, registry.

Examples
--------
>>> from estlab import estimators
>>> from estlab import feature_column as fc
>>> est = estimators.DNNClassifier(hidden_units=[16], feature_columns=[fc.numeric_column("x")])
>>> estimators.list_premade("regression")[0].name
'baseline_regressor'
"""

from __future__ import annotations

from typing import Any

from estlab.estimators.baseline import BaselineClassifier, BaselineRegressor
from estlab.estimators.boosted_trees import BoostedTreesClassifier, BoostedTreesRegressor
from estlab.estimators.custom import ModeKeys
from estlab.estimators.dnn import DNNClassifier, DNNRegressor
from estlab.estimators.dnn_linear_combined import DNNLinearCombinedClassifier, DNNLinearCombinedRegressor
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import (
    BinaryClassHead,
    Head,
    MultiClassHead,
    RegressionHead,
    head_from_dict,
    make_head,
)
from estlab.estimators.linear import LinearClassifier, LinearRegressor
from estlab.estimators.optimizers import OPTIMIZERS, optimizer_names, resolve_optimizer
from estlab.estimators.registry import REGISTRY, ParamInfo, PremadeInfo, create, info, list_premade, validate

# Names served from estlab.training on first access (estlab.training imports this package's modules).
_TRAINING = ("RunConfig", "TrainSpec", "EvalSpec", "train_and_evaluate")


def __getattr__(name: str) -> Any:
    if name in _TRAINING:
        import estlab.training as training

        try:
            return getattr(training, name)
        except AttributeError:
            raise AttributeError(
                f"estlab.estimators.{name} is not available yet: estlab.training does not define it"
            ) from None
    raise AttributeError(f"module 'estlab.estimators' has no attribute {name!r}")


__all__ = [
    "REGISTRY",
    "OPTIMIZERS",
    "BaselineClassifier",
    "BaselineRegressor",
    "BinaryClassHead",
    "BoostedTreesClassifier",
    "BoostedTreesRegressor",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "DNNLinearCombinedRegressor",
    "DNNRegressor",
    "Estimator",
    "EvalSpec",
    "Head",
    "LinearClassifier",
    "LinearRegressor",
    "ModeKeys",
    "MultiClassHead",
    "ParamInfo",
    "PremadeInfo",
    "RegressionHead",
    "RunConfig",
    "TrainSpec",
    "create",
    "head_from_dict",
    "info",
    "list_premade",
    "make_head",
    "optimizer_names",
    "resolve_optimizer",
    "train_and_evaluate",
    "validate",
]
