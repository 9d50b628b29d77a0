"""``DNNClassifier`` / ``DNNRegressor``: a feed-forward network on ``DenseFeatures``.

Layer order follows TF: ``Linear → activation → Dropout (if dropout) → BatchNorm (if batch_norm)``
per hidden layer, then a ``Linear`` to the head's logits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from estlab.estimators._premade import (
    PremadeEstimator,
    check_dropout,
    check_feature_columns,
    check_hidden_units,
    make_activation,
    one_optimizer,
)
from estlab.estimators.optimizers import resolve_optimizer, tf_default_optimizer
from estlab.estimators.size_check import dnn_blocks, optimizer_slots
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig


class DNNModule(nn.Module):
    """``DenseFeatures`` followed by an MLP producing ``(N, logits_dimension)`` logits.

    Examples
    --------
    >>> import torch
    >>> m = DNNModule(nn.Identity(), 3, [4], 1, activation_fn="relu")
    >>> m(torch.zeros(2, 3)).shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        features: nn.Module,
        input_width: int,
        hidden_units: Sequence[int],
        logits_dimension: int,
        activation_fn: str | Callable = "relu",
        dropout: float | None = None,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.features = features
        layers: list[nn.Module] = []
        width = input_width
        for units in hidden_units:
            layers += [nn.Linear(width, units), make_activation(activation_fn)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            width = units
        self.hidden = nn.Sequential(*layers)
        self.logits = nn.Linear(width, logits_dimension)

    def forward(self, encoded: Any) -> torch.Tensor:
        return self.logits(self.hidden(self.features(encoded)))


def build_dnn_module(
    feature_columns: list, transformer: Any, hidden_units: Sequence[int], logits_dimension: int,
    activation_fn: str | Callable, dropout: float | None, batch_norm: bool, parameter: str = "hidden_units",
) -> DNNModule:
    """A :class:`DNNModule` reading ``feature_columns`` through ``estlab.features.DenseFeatures``.

    The estimators check its size first (:func:`estlab.estimators.size_check.dnn_blocks`).
    """
    from estlab.features import DenseFeatures

    dense = DenseFeatures(feature_columns, transformer)
    return DNNModule(dense, int(dense.output_width), hidden_units, logits_dimension, activation_fn, dropout, batch_norm)


class _DNNBase(PremadeEstimator):
    hidden_units: Sequence[int]
    feature_columns: list
    optimizer: str | Callable
    learning_rate: float | None
    activation_fn: str | Callable
    dropout: float | None
    batch_norm: bool

    def _check(self) -> None:
        super()._check()
        resolve_optimizer(self.optimizer, self.learning_rate, default=tf_default_optimizer(type(self).__name__))
        check_hidden_units(self.hidden_units)
        check_feature_columns(self.feature_columns)
        check_dropout(self.dropout)
        make_activation(self.activation_fn)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False; received {self.batch_norm!r}.")

    def _feature_columns(self) -> list:
        return check_feature_columns(self.feature_columns)

    def _build_module(self, transformer: Any) -> nn.Module:
        columns, units = self._feature_columns(), check_hidden_units(self.hidden_units)
        d = self._build_head().logits_dimension
        if transformer is not None:  # the size is checked before anything is allocated
            slots = optimizer_slots(self._optimizer_factory())
            self._check_size(dnn_blocks(columns, transformer, units, d, self.batch_norm, slots))
        return self._scale_labels(build_dnn_module(
            columns, transformer, units, d, self.activation_fn, check_dropout(self.dropout), self.batch_norm,
        ))

    def _optimizer_factory(self) -> Any:
        return resolve_optimizer(self.optimizer, self.learning_rate, default=tf_default_optimizer(type(self).__name__))

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        return one_optimizer(module, self.optimizer, self.learning_rate,
                             default=tf_default_optimizer(type(self).__name__))


class DNNClassifier(_DNNBase):
    """A feed-forward neural network classifier (TF's ``tf.estimator.DNNClassifier``).

    Defaults differ from TF's on purpose: ``optimizer="Adam"`` at ``learning_rate=0.001``
    (TF: Adagrad 0.05 in TF 2, which trains slowly), no dropout, no batch norm.

    Parameters
    ----------
    hidden_units : list of int
        Units per hidden layer, e.g. ``[128, 64]``.
    feature_columns : list
        Feature columns the network reads (through ``DenseFeatures``).
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
        Optimizer name (``"Adam"``, ``"Adagrad"``, ``"SGD"``, ``"RMSProp"``, ``"Ftrl"`` ...) or a
        factory ``params -> torch.optim.Optimizer``.
    learning_rate : float, optional
        Learning rate; ``None`` uses the optimizer's default (Adam: 0.001).
    activation_fn : str or callable
        Hidden-layer activation name (``"relu"``, ``"gelu"``, ``"tanh"`` ...) or function.
    dropout : float, optional
        Probability of dropping a hidden unit during training; ``None`` for no dropout.
    batch_norm : bool
        Batch-normalise after each hidden layer.
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> est = DNNClassifier(hidden_units=[8], feature_columns=[fc.numeric_column("x")])
    >>> est.optimizer, est.learning_rate
    ('Adam', None)
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Feed-forward neural network classifier (hidden layers on dense features)."

    def __init__(
        self,
        hidden_units: Sequence[int],
        feature_columns: list,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: WeightColumn | None = None,
        label_vocabulary: list[str] | None = None,
        optimizer: str | Callable = "Adam",
        activation_fn: str | Callable = "relu",
        dropout: float | None = None,
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        batch_norm: bool = False,
        *,
        learning_rate: float | None = None,
        class_weight: str | dict | None = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.feature_columns = feature_columns
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.class_weight = class_weight
        self.label_vocabulary = label_vocabulary
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.activation_fn = activation_fn
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class DNNRegressor(_DNNBase):
    """A feed-forward neural network regressor (TF's ``tf.estimator.DNNRegressor``), squared-error loss.

    Defaults: ``optimizer="Adam"`` at ``learning_rate=0.001``, no dropout, no batch norm.
    Scale large labels (e.g. prices) or raise ``learning_rate``: the output layer starts near zero.

    Parameters
    ----------
    hidden_units : list of int
        Units per hidden layer, e.g. ``[128, 64]``.
    feature_columns : list
        Feature columns the network reads (through ``DenseFeatures``).
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    label_dimension : int
        Number of regression targets per example.
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    optimizer : str or callable
        Optimizer name (``"Adam"``, ``"Adagrad"``, ``"SGD"``, ``"RMSProp"``, ``"Ftrl"`` ...) or a
        factory ``params -> torch.optim.Optimizer``.
    learning_rate : float, optional
        Learning rate; ``None`` uses the optimizer's default (Adam: 0.001).
    activation_fn : str or callable
        Hidden-layer activation name (``"relu"``, ``"gelu"``, ``"tanh"`` ...) or function.
    dropout : float, optional
        Probability of dropping a hidden unit during training; ``None`` for no dropout.
    batch_norm : bool
        Batch-normalise after each hidden layer.
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    normalize_labels : bool
        Learn in standardised label units: outputs are ``mean + std * f(x)`` with the (weighted) label
        mean and standard deviation of the first ``train`` input, stored with the model. Makes the default
        learning rate work for labels far from 0 (prices); ``False`` reproduces TF.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> DNNRegressor(hidden_units=[8], feature_columns=[fc.numeric_column("x")]).label_dimension
    1
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Feed-forward neural network regressor (squared error)."

    def __init__(
        self,
        hidden_units: Sequence[int],
        feature_columns: list,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: WeightColumn | None = None,
        optimizer: str | Callable = "Adam",
        activation_fn: str | Callable = "relu",
        dropout: float | None = None,
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        batch_norm: bool = False,
        *,
        learning_rate: float | None = None,
        normalize_labels: bool = True,
    ) -> None:
        self.hidden_units = hidden_units
        self.feature_columns = feature_columns
        self.label_dimension = label_dimension
        self.weight_column = weight_column
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.activation_fn = activation_fn
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.loss_reduction = loss_reduction
        self.normalize_labels = normalize_labels
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
