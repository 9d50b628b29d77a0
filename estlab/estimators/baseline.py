"""``BaselineClassifier`` / ``BaselineRegressor``: ignore the features, predict the label prior / mean.

The bar every real model must clear. TF trained the bias by gradient steps; its optimum is known in
closed form, so here one ``train`` call sets it exactly (full-batch, like boosted trees): the logit of
the weighted positive rate (binary), the log of the weighted class frequencies (multi-class), the
weighted label mean (regression). Evaluate then gives ``accuracy == accuracy_baseline``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from estlab.estimators._premade import Block, PremadeEstimator
from estlab.estimators.optimizers import resolve_optimizer, tf_default_optimizer
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig

#: key of the placeholder ``(N, 0)`` tensor a baseline reads (it only needs the batch size).
ROWS_KEY = "__rows__"


class BiasModule(nn.Module):
    """Logits equal to a learned bias for every row: ``(N, logits_dimension)``.

    Examples
    --------
    >>> import torch
    >>> BiasModule(2)({"__rows__": torch.zeros(3, 0)}).shape
    torch.Size([3, 2])
    """

    def __init__(self, logits_dimension: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(logits_dimension))

    def forward(self, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        rows = next(iter(encoded.values())).shape[0]
        return self.bias.unsqueeze(0).expand(rows, -1)


class _BaselineBase(PremadeEstimator):
    trains_full_batch = True

    optimizer: str | Callable
    learning_rate: float

    def _check(self) -> None:
        super()._check()
        resolve_optimizer(self.optimizer, self.learning_rate, default=tf_default_optimizer(type(self).__name__))

    def _feature_columns(self) -> list:
        return []

    def _input_names(self, module: nn.Module) -> list[str] | None:
        return None

    @staticmethod
    def _raw_tensors(run: Any, features: Any) -> dict[str, torch.Tensor]:
        # A baseline reads no feature, only the number of rows.
        if isinstance(features, pd.DataFrame):
            rows = len(features)
        else:
            rows = len(np.asarray(next(iter(features.values())))) if len(features) else 0
        return {ROWS_KEY: torch.zeros(rows, 0)}

    def _build_module(self, transformer: Any) -> nn.Module:
        d = self._build_head().logits_dimension
        self._check_size([Block(f"logits_dimension={d}", "use fewer classes or label dimensions", d,
                                trainable=False)])  # solved in closed form: no gradients, no optimizer state
        return BiasModule(d)

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        return []  # solved in closed form by _fit_full_batch

    def _full_batch_input_batches(self, steps: int | None) -> int | None:
        return steps  # of an iterable input, the batches TF's steps would read (an endless one ends there)

    def _fit_full_batch(
        self, module: nn.Module, encoded: dict[str, torch.Tensor], labels: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> None:
        assert isinstance(module, BiasModule)  # built by _build_module
        head = self._build_head()
        module.bias.data.copy_(closed_form_bias(head.task, labels, weights, head.logits_dimension))


def closed_form_bias(task: str, labels: torch.Tensor, weights: torch.Tensor | None, dimension: int) -> torch.Tensor:
    """The bias minimising the head's loss when logits ignore the features.

    Examples
    --------
    >>> import torch
    >>> closed_form_bias("binary", torch.tensor([[1.0], [0.0], [0.0], [0.0]]), None, 1)  # logit(0.25)
    tensor([-1.0986])
    """
    y = labels.detach().cpu().double().reshape(labels.shape[0], -1)
    w = torch.ones(y.shape[0], dtype=torch.float64) if weights is None else weights.detach().cpu().double().reshape(-1)
    total = float(w.sum())
    if not np.isfinite(total):  # weights near float32's limit times a class_weight overflow
        raise ValueError(f"weight_column: {int((~w.isfinite()).sum())} example weight(s) times their class_weight "
                         "overflow float32 to inf; rescale weight_column (e.g. divide it by its maximum) or lower "
                         "class_weight.")
    if total <= 0:
        raise ValueError("weight_column: all example weights are 0; a baseline needs a positive total weight.")
    if task == "regression":
        return ((y * w[:, None]).sum(dim=0) / total).float()
    eps = 1e-7
    if task == "binary":
        p = float((y[:, 0] * w).sum()) / total
        p = min(max(p, eps), 1 - eps)
        return torch.tensor([np.log(p / (1 - p))], dtype=torch.float32)
    freq = torch.zeros(dimension, dtype=torch.float64).index_add_(0, y[:, 0].long(), w) / total
    return torch.log(freq.clamp_min(eps)).float()


class BaselineClassifier(_BaselineBase):
    """Predicts the training label distribution, ignoring features (TF's ``tf.estimator.BaselineClassifier``).

    One ``train`` call sets the bias to the log of the (weighted) class frequencies exactly, the
    optimum TF reached by gradient steps; ``optimizer``/``learning_rate`` are accepted for TF
    compatibility and unused.

    Parameters
    ----------
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    n_classes : int
        Number of label classes (2 = binary).
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    class_weight : "balanced" or dict, optional
        Per-class weights of the training loss: a dict ``{class label: weight}`` (vocabulary strings, or ids
        ``0..n_classes-1``; unnamed classes weigh 1) or ``"balanced"`` (``n / (n_classes * n_c)`` from the
        training labels); multiplies ``weight_column``. Evaluation metrics are not class-weighted.
    label_vocabulary : list of str, optional
        String labels in class-id order; ``None`` means labels are integers ``0..n_classes-1``.
    optimizer : str or callable
        Accepted for TF compatibility (validated, unused: the bias is solved in closed form).
    learning_rate : float
        Accepted for TF compatibility (validated, unused).
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> BaselineClassifier(n_classes=3).n_classes
    3
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Baseline: predicts the training label distribution, ignoring features."

    def __init__(
        self,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: WeightColumn | None = None,
        label_vocabulary: list[str] | None = None,
        optimizer: str | Callable = "Adam",
        config: RunConfig | None = None,
        loss_reduction: str = "sum_over_batch_size",
        *,
        learning_rate: float = 0.05,
        warm_start_from: str | None = None,
        class_weight: str | dict | None = None,
    ) -> None:
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.class_weight = class_weight
        self.label_vocabulary = label_vocabulary
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class BaselineRegressor(_BaselineBase):
    """Predicts the (weighted) training label mean, ignoring features (TF's ``tf.estimator.BaselineRegressor``).

    One ``train`` call sets the output to the (weighted) label mean exactly, the optimum TF reached by
    gradient steps (slowly for labels far from 0); ``optimizer``/``learning_rate`` are accepted for TF
    compatibility and unused.

    Parameters
    ----------
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    label_dimension : int
        Number of regression targets per example.
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    optimizer : str or callable
        Accepted for TF compatibility (validated, unused: the bias is solved in closed form).
    learning_rate : float
        Accepted for TF compatibility (validated, unused).
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> BaselineRegressor(label_dimension=2).label_dimension
    2
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Baseline: predicts the training label mean, ignoring features."

    def __init__(
        self,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: WeightColumn | None = None,
        optimizer: str | Callable = "Adam",
        config: RunConfig | None = None,
        loss_reduction: str = "sum_over_batch_size",
        *,
        learning_rate: float = 0.05,
        warm_start_from: str | None = None,
    ) -> None:
        self.label_dimension = label_dimension
        self.weight_column = weight_column
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
