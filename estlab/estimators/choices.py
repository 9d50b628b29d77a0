"""The string vocabularies of the premade estimators' arguments, torch-free.

Optimizer and activation names, loss reductions and sparse combiners are declared here once;
``estlab.estimators.optimizers`` and ``estlab.estimators._premade`` resolve them to torch classes, and the
registry offers them as form choices (:data:`PARAM_CHOICES`) without importing torch.

Examples
--------
>>> PARAM_CHOICES["loss_reduction"]
['sum_over_batch_size', 'sum']
>>> "Ftrl" in OPTIMIZER_NAMES
True
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

#: optimizer name (TF's spelling) → (class name, extra keyword arguments, default learning rate). Class names
#: are ``torch.optim``'s, except ``"Ftrl"``: FTRL-Proximal as TF's (``estlab.estimators.ftrl.Ftrl``), at 0.2 as
#: TF's linear models use it.
OPTIMIZER_TABLE: Mapping[str, tuple[str, Mapping[str, Any], float]] = MappingProxyType({
    "Adam": ("Adam", {}, 0.001),
    "AdamW": ("AdamW", {}, 0.001),
    "Adagrad": ("Adagrad", {"initial_accumulator_value": 0.1}, 0.05),
    "Ftrl": ("Ftrl", {}, 0.2),
    "SGD": ("SGD", {}, 0.01),
    "Momentum": ("SGD", {"momentum": 0.9}, 0.01),
    "RMSProp": ("RMSprop", {}, 0.001),
    "Adadelta": ("Adadelta", {}, 1.0),
    "Adamax": ("Adamax", {}, 0.002),
    "Nadam": ("NAdam", {}, 0.002),
})
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZER_TABLE)

#: What ``optimizer=None`` means, per premade estimator (and part of one): TF's default optimizer name, TF's
#: learning rate, and whether TF caps that rate at ``1 / sqrt(number of feature columns)`` (its linear models).
TF_DEFAULT_OPTIMIZERS: Mapping[str, tuple[str, float, bool]] = MappingProxyType({
    "LinearClassifier": ("Ftrl", 0.2, True),
    "LinearRegressor": ("Ftrl", 0.2, True),
    "DNNClassifier": ("Adagrad", 0.05, False),
    "DNNRegressor": ("Adagrad", 0.05, False),
    "DNNLinearCombinedClassifier.linear": ("Ftrl", 0.005, True),
    "DNNLinearCombinedRegressor.linear": ("Ftrl", 0.005, True),
    "DNNLinearCombinedClassifier.dnn": ("Adagrad", 0.001, False),
    "DNNLinearCombinedRegressor.dnn": ("Adagrad", 0.001, False),
    "BaselineClassifier": ("Ftrl", 0.3, False),
    "BaselineRegressor": ("Ftrl", 0.3, False),
    "DNNEstimator": ("Adagrad", 0.05, False),
    "LinearEstimator": ("Ftrl", 0.2, True),
    "DNNLinearCombinedEstimator.linear": ("Ftrl", 0.005, True),
    "DNNLinearCombinedEstimator.dnn": ("Adagrad", 0.001, False),
})

#: activation name (TF's ``tf.nn.*`` spelling) → ``torch.nn`` module class name.
ACTIVATION_TABLE: Mapping[str, str] = MappingProxyType({
    "relu": "ReLU",
    "elu": "ELU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "swish": "SiLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "leaky_relu": "LeakyReLU",
    "softplus": "Softplus",
})

#: ``loss_reduction`` values (TF's ``SUM_OVER_BATCH_SIZE`` / ``SUM``).
LOSS_REDUCTIONS: tuple[str, ...] = ("sum_over_batch_size", "sum")

#: how a multi-valued categorical column's weights combine in a linear model.
SPARSE_COMBINERS: tuple[str, ...] = ("sum", "mean", "sqrtn")

#: constructor argument name → the values a form offers for it (shared by every premade that has it).
PARAM_CHOICES: Mapping[str, list] = MappingProxyType({
    "optimizer": list(OPTIMIZER_NAMES),
    "linear_optimizer": list(OPTIMIZER_NAMES),
    "dnn_optimizer": list(OPTIMIZER_NAMES),
    "activation_fn": sorted(ACTIVATION_TABLE),
    "dnn_activation_fn": sorted(ACTIVATION_TABLE),
    "loss_reduction": list(LOSS_REDUCTIONS),
    "sparse_combiner": list(SPARSE_COMBINERS),
    "linear_sparse_combiner": list(SPARSE_COMBINERS),
    "batch_norm": [False, True],
    "center_bias": [False, True],
    "pruning_mode": ["none", "pre", "post"],
    "train_in_memory": [False, True],
})

__all__ = [
    "ACTIVATION_TABLE",
    "LOSS_REDUCTIONS",
    "OPTIMIZER_NAMES",
    "OPTIMIZER_TABLE",
    "PARAM_CHOICES",
    "SPARSE_COMBINERS",
    "TF_DEFAULT_OPTIMIZERS",
]
