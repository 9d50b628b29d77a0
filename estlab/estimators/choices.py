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

#: optimizer name (TF's spelling) → (``torch.optim`` class name, extra keyword arguments, default learning rate).
#: ``"Ftrl"`` is Adagrad with TF's initial accumulator 0.1 (see ``estlab.estimators.optimizers``).
OPTIMIZER_TABLE: Mapping[str, tuple[str, Mapping[str, Any], float]] = MappingProxyType({
    "Adam": ("Adam", {}, 0.001),
    "AdamW": ("AdamW", {}, 0.001),
    "Adagrad": ("Adagrad", {"initial_accumulator_value": 0.1}, 0.05),
    "Ftrl": ("Adagrad", {"initial_accumulator_value": 0.1}, 0.2),
    "SGD": ("SGD", {}, 0.01),
    "Momentum": ("SGD", {"momentum": 0.9}, 0.01),
    "RMSProp": ("RMSprop", {}, 0.001),
    "Adadelta": ("Adadelta", {}, 1.0),
    "Adamax": ("Adamax", {}, 0.002),
    "Nadam": ("NAdam", {}, 0.002),
})
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZER_TABLE)

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
})

__all__ = [
    "ACTIVATION_TABLE",
    "LOSS_REDUCTIONS",
    "OPTIMIZER_NAMES",
    "OPTIMIZER_TABLE",
    "PARAM_CHOICES",
    "SPARSE_COMBINERS",
]
