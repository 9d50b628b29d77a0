"""``DNNLinearCombinedClassifier`` / ``...Regressor``: wide-and-deep (linear logits + DNN logits).

The two parts read their own columns and train with their own optimizers (TF's
``linear_optimizer`` / ``dnn_optimizer``); the logits are summed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from estlab.estimators._premade import (
    LabelScaler,
    PremadeEstimator,
    check_dropout,
    check_feature_columns,
    check_hidden_units,
    make_activation,
)
from estlab.estimators.choices import SPARSE_COMBINERS
from estlab.estimators.dnn import build_dnn_module
from estlab.estimators.linear import build_linear_module
from estlab.estimators.optimizers import resolve_optimizer, tf_default_optimizer
from estlab.estimators.size_check import Block, dnn_blocks, linear_blocks, optimizer_slots
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig


class WideDeepModule(nn.Module):
    """Sum of a linear part and a DNN part; either may be ``None``.

    Examples
    --------
    >>> import torch
    >>> m = WideDeepModule(nn.Linear(2, 1), nn.Linear(2, 1))
    >>> m(torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    def __init__(self, linear: nn.Module | None, dnn: nn.Module | None) -> None:
        super().__init__()
        self.linear = linear
        self.dnn = dnn

    def forward(self, encoded: Any) -> torch.Tensor:
        parts = [part(encoded) for part in (self.linear, self.dnn) if part is not None]
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]


class _CombinedBase(PremadeEstimator):
    linear_feature_columns: list | None
    linear_optimizer: str | Callable
    linear_learning_rate: float | None
    dnn_feature_columns: list | None
    dnn_optimizer: str | Callable
    dnn_learning_rate: float | None
    dnn_hidden_units: Sequence[int]
    dnn_activation_fn: str | Callable
    dnn_dropout: float | None
    linear_sparse_combiner: str
    batch_norm: bool

    def _check(self) -> None:
        super()._check()
        resolve_optimizer(self.linear_optimizer, self.linear_learning_rate, "linear_optimizer",
                          default=self._tf_optimizer("linear"))
        resolve_optimizer(self.dnn_optimizer, self.dnn_learning_rate, "dnn_optimizer", default=self._tf_optimizer("dnn"))
        linear, dnn = self._linear_columns(), self._dnn_columns()
        if not linear and not dnn:
            raise ValueError(
                "linear_feature_columns and dnn_feature_columns are both empty; give at least one of them "
                "(e.g. linear_feature_columns=crossed/categorical columns, dnn_feature_columns=dense ones)."
            )
        if dnn:
            check_hidden_units(self.dnn_hidden_units, "dnn_hidden_units")
        check_dropout(self.dnn_dropout, "dnn_dropout")
        make_activation(self.dnn_activation_fn, "dnn_activation_fn")
        if self.linear_sparse_combiner not in SPARSE_COMBINERS:
            raise ValueError(
                f"linear_sparse_combiner={self.linear_sparse_combiner!r} is not supported; "
                f"use one of {list(SPARSE_COMBINERS)}."
            )
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False; received {self.batch_norm!r}.")

    def _linear_columns(self) -> list:
        return check_feature_columns(self.linear_feature_columns, "linear_feature_columns", allow_empty=True)

    def _dnn_columns(self) -> list:
        return check_feature_columns(self.dnn_feature_columns, "dnn_feature_columns", allow_empty=True)

    def _feature_columns(self) -> list:
        seen: dict[str, Any] = {}
        for column in [*self._linear_columns(), *self._dnn_columns()]:
            seen.setdefault(column.name, column)
        return list(seen.values())

    def _build_module(self, transformer: Any) -> nn.Module:
        d = self._build_head().logits_dimension
        linear_columns, dnn_columns = self._linear_columns(), self._dnn_columns()
        if transformer is not None:  # the size is checked before anything is allocated
            self._check_size(self._size_blocks(transformer, linear_columns, dnn_columns, d))
        linear = (
            build_linear_module(linear_columns, transformer, d, self.linear_sparse_combiner)
            if linear_columns else None
        )
        dnn = (
            build_dnn_module(
                dnn_columns, transformer, check_hidden_units(self.dnn_hidden_units, "dnn_hidden_units"), d,
                self.dnn_activation_fn, check_dropout(self.dnn_dropout, "dnn_dropout"), self.batch_norm,
                parameter="dnn_hidden_units",
            )
            if dnn_columns else None
        )
        return self._scale_labels(WideDeepModule(linear, dnn))

    def _size_blocks(self, transformer: Any, linear_columns: list, dnn_columns: list, d: int) -> list[Block]:
        """The parameter blocks of both parts, each with its own optimizer's state (see ``size_check``)."""
        blocks: list[Block] = []
        if linear_columns:
            factory = resolve_optimizer(self.linear_optimizer, self.linear_learning_rate, "linear_optimizer",
                                        default=self._tf_optimizer("linear"))
            blocks += linear_blocks(linear_columns, transformer, d, optimizer_slots(factory),
                                    parameter="linear_feature_columns")
        if dnn_columns:
            factory = resolve_optimizer(self.dnn_optimizer, self.dnn_learning_rate, "dnn_optimizer",
                                        default=self._tf_optimizer("dnn"))
            blocks += dnn_blocks(dnn_columns, transformer, check_hidden_units(self.dnn_hidden_units, "dnn_hidden_units"),
                                 d, self.batch_norm, optimizer_slots(factory), parameter="dnn_hidden_units")
        return blocks

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        module = module.inner if isinstance(module, LabelScaler) else module
        assert isinstance(module, WideDeepModule)  # built by _build_module
        optimizers = []
        if module.linear is not None:
            factory = resolve_optimizer(self.linear_optimizer, self.linear_learning_rate, "linear_optimizer",
                                        default=self._tf_optimizer("linear"))
            optimizers.append(factory(module.linear.parameters()))
        if module.dnn is not None:
            factory = resolve_optimizer(self.dnn_optimizer, self.dnn_learning_rate, "dnn_optimizer",
                                        default=self._tf_optimizer("dnn"))
            optimizers.append(factory(module.dnn.parameters()))
        return optimizers

    def _tf_optimizer(self, part: str) -> tuple[str, float]:
        """TF's default optimizer of the ``linear`` or ``dnn`` part: what ``<part>_optimizer=None`` means."""
        return tf_default_optimizer(f"{type(self).__name__}.{part}", len(list(self.linear_feature_columns or [])))


class DNNLinearCombinedClassifier(_CombinedBase):
    """Wide-and-deep classifier (TF's ``tf.estimator.DNNLinearCombinedClassifier``).

    Defaults: linear part ``"Ftrl"`` (FTRL-Proximal) at 0.2; deep part ``"Adam"`` at 0.001
    with ``dnn_hidden_units=[128, 64]`` (TF requires them: here they default), no dropout, no batch norm.

    Parameters
    ----------
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    linear_feature_columns : list
        Columns of the wide (linear) part, typically categorical and crossed columns.
    linear_optimizer : str or callable
        Optimizer of the linear part: a name (``"Ftrl"``, ``"Adam"`` ...) or ``params -> Optimizer``.
    linear_learning_rate : float, optional
        Learning rate of the linear part; ``None`` uses its optimizer's default (Ftrl: 0.2, as TF's linear models).
    dnn_feature_columns : list
        Columns of the deep part (dense: numeric, indicator, embedding columns).
    dnn_optimizer : str or callable
        Optimizer of the deep part: a name (``"Adam"``, ``"Adagrad"`` ...) or ``params -> Optimizer``.
    dnn_learning_rate : float, optional
        Learning rate of the deep part; ``None`` uses its optimizer's default (Adam: 0.001).
    dnn_hidden_units : list of int
        Units per hidden layer of the deep part.
    dnn_activation_fn : str or callable
        Hidden-layer activation of the deep part.
    dnn_dropout : float, optional
        Dropout probability in the deep part; ``None`` for none.
    n_classes : int
        Number of label classes (2 = binary).
    label_vocabulary : list of str, optional
        String labels in class-id order; ``None`` means labels are integers ``0..n_classes-1``.
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    class_weight : "balanced" or dict, optional
        Per-class weights of the training loss: a dict ``{class label: weight}`` (vocabulary strings, or ids
        ``0..n_classes-1``; unnamed classes weigh 1) or ``"balanced"`` (``n / (n_classes * n_c)`` from the
        training labels); multiplies ``weight_column``. Evaluation metrics are not class-weighted.
    linear_sparse_combiner : str
        How a multi-valued categorical column's weights combine: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
    batch_norm : bool
        Batch-normalise after each hidden layer of the deep part.
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> est = DNNLinearCombinedClassifier(linear_feature_columns=[fc.numeric_column("x")])
    >>> est.linear_optimizer, est.dnn_optimizer
    ('Ftrl', 'Adam')
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Wide-and-deep classifier: linear model + neural network, logits summed."

    def __init__(
        self,
        model_dir: str | None = None,
        linear_feature_columns: list | None = None,
        linear_optimizer: str | Callable = "Ftrl",
        dnn_feature_columns: list | None = None,
        dnn_optimizer: str | Callable = "Adam",
        dnn_hidden_units: Sequence[int] = (128, 64),
        dnn_activation_fn: str | Callable = "relu",
        dnn_dropout: float | None = None,
        n_classes: int = 2,
        weight_column: WeightColumn | None = None,
        label_vocabulary: list[str] | None = None,
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        batch_norm: bool = False,
        linear_sparse_combiner: str = "sum",
        *,
        linear_learning_rate: float | None = None,
        dnn_learning_rate: float | None = None,
        class_weight: str | dict | None = None,
    ) -> None:
        self.linear_feature_columns = linear_feature_columns
        self.linear_optimizer = linear_optimizer
        self.linear_learning_rate = linear_learning_rate
        self.dnn_feature_columns = dnn_feature_columns
        self.dnn_optimizer = dnn_optimizer
        self.dnn_learning_rate = dnn_learning_rate
        self.dnn_hidden_units = dnn_hidden_units
        self.dnn_activation_fn = dnn_activation_fn
        self.dnn_dropout = dnn_dropout
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.class_weight = class_weight
        self.label_vocabulary = label_vocabulary
        self.linear_sparse_combiner = linear_sparse_combiner
        self.batch_norm = batch_norm
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class DNNLinearCombinedRegressor(_CombinedBase):
    """Wide-and-deep regressor (TF's ``tf.estimator.DNNLinearCombinedRegressor``), squared-error loss.

    Defaults: linear part ``"Ftrl"`` (FTRL-Proximal) at 0.2; deep part ``"Adam"`` at 0.001
    with ``dnn_hidden_units=(128, 64)``, no dropout, no batch norm.

    Parameters
    ----------
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    linear_feature_columns : list
        Columns of the wide (linear) part, typically categorical and crossed columns.
    linear_optimizer : str or callable
        Optimizer of the linear part: a name (``"Ftrl"``, ``"Adam"`` ...) or ``params -> Optimizer``.
    linear_learning_rate : float, optional
        Learning rate of the linear part; ``None`` uses its optimizer's default (Ftrl: 0.2, as TF's linear models).
    dnn_feature_columns : list
        Columns of the deep part (dense: numeric, indicator, embedding columns).
    dnn_optimizer : str or callable
        Optimizer of the deep part: a name (``"Adam"``, ``"Adagrad"`` ...) or ``params -> Optimizer``.
    dnn_learning_rate : float, optional
        Learning rate of the deep part; ``None`` uses its optimizer's default (Adam: 0.001).
    dnn_hidden_units : list of int
        Units per hidden layer of the deep part.
    dnn_activation_fn : str or callable
        Hidden-layer activation of the deep part.
    dnn_dropout : float, optional
        Dropout probability in the deep part; ``None`` for none.
    label_dimension : int
        Number of regression targets per example.
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    linear_sparse_combiner : str
        How a multi-valued categorical column's weights combine: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
    batch_norm : bool
        Batch-normalise after each hidden layer of the deep part.
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    normalize_labels : bool
        Learn in standardised label units: outputs are ``mean + std * f(x)`` with the (weighted) label
        mean and standard deviation of the first ``train`` input, stored with the model. Makes the default
        learning rates work for labels far from 0 (prices); ``False`` reproduces TF.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> DNNLinearCombinedRegressor(dnn_feature_columns=[fc.numeric_column("x")]).dnn_hidden_units
    (128, 64)
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Wide-and-deep regressor: linear model + neural network, outputs summed."

    def __init__(
        self,
        model_dir: str | None = None,
        linear_feature_columns: list | None = None,
        linear_optimizer: str | Callable = "Ftrl",
        dnn_feature_columns: list | None = None,
        dnn_optimizer: str | Callable = "Adam",
        dnn_hidden_units: Sequence[int] = (128, 64),
        dnn_activation_fn: str | Callable = "relu",
        dnn_dropout: float | None = None,
        label_dimension: int = 1,
        weight_column: WeightColumn | None = None,
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        batch_norm: bool = False,
        linear_sparse_combiner: str = "sum",
        *,
        linear_learning_rate: float | None = None,
        dnn_learning_rate: float | None = None,
        normalize_labels: bool = True,
    ) -> None:
        self.linear_feature_columns = linear_feature_columns
        self.linear_optimizer = linear_optimizer
        self.linear_learning_rate = linear_learning_rate
        self.dnn_feature_columns = dnn_feature_columns
        self.dnn_optimizer = dnn_optimizer
        self.dnn_learning_rate = dnn_learning_rate
        self.dnn_hidden_units = dnn_hidden_units
        self.dnn_activation_fn = dnn_activation_fn
        self.dnn_dropout = dnn_dropout
        self.label_dimension = label_dimension
        self.weight_column = weight_column
        self.linear_sparse_combiner = linear_sparse_combiner
        self.batch_norm = batch_norm
        self.loss_reduction = loss_reduction
        self.normalize_labels = normalize_labels
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
