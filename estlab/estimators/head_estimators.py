"""TF's ``DNNEstimator``, ``LinearEstimator`` and ``DNNLinearCombinedEstimator``: the premade models with any head.

The head (``MultiLabelHead``, ``PoissonRegressionHead``, ``LogisticRegressionHead``, ``MultiClassHead``, ...)
decides the label encoding, loss, predictions and metrics; the network is the premade one sized to the head's
``logits_dimension``. Arguments follow TF's order; arguments TF does not have are keyword-only. They are
not in the registry (the notebook picker builds estimators from plain values, and a head is an object).

A :class:`~estlab.estimators.multi_head.MultiHead` trains several tasks on one network (TF's multi-task
learning): the network outputs the heads' logits side by side and the labels are keyed by head name, e.g.
``est.train(frame, label=["click", "dwell"])`` with a label column named after each head.

Examples
--------
>>> from estlab import feature_column as fc
>>> from estlab.estimators.heads import MultiLabelHead
>>> est = DNNEstimator(MultiLabelHead(3), hidden_units=[8], feature_columns=[fc.numeric_column("x")])
>>> est.head.n_classes
3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from estlab.estimators._premade import _plain
from estlab.estimators.dnn import _DNNBase
from estlab.estimators.dnn_linear_combined import _CombinedBase
from estlab.estimators.heads import Head
from estlab.estimators.linear import _LinearBase
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig


class _HeadMixin:
    """A premade estimator whose head is given: ``weight_column`` and ``loss_reduction`` are the head's."""

    head: Any
    task: ClassVar[str] = "custom"
    weight_column: WeightColumn | None
    loss_reduction: str

    def _take_head(self, head: Any) -> None:
        """Store ``head``; the premade checks read its ``weight_column`` and ``loss_reduction``."""
        self.head = head
        self.weight_column = getattr(head, "weight_column", None)
        self.loss_reduction = getattr(head, "loss_reduction", "sum_over_batch_size")

    def _build_head(self) -> Head:
        if not isinstance(self.head, Head):
            raise ValueError(f"head must be an estlab head (estlab.estimator.MultiLabelHead(3), RegressionHead(), "
                             f"...); received {self.head!r}.")
        self._take_head(self.head)  # set_params(head=...) may have replaced it
        return self.head

    def _estimator_params(self) -> dict:
        params = super()._estimator_params()  # type: ignore[misc]
        params["head"] = _plain(self.head.to_dict()) if isinstance(self.head, Head) else _plain(self.head)
        return params


class DNNEstimator(_HeadMixin, _DNNBase):
    """A feed-forward network with a given head (TF's ``tf.estimator.DNNEstimator``).

    Parameters
    ----------
    head : Head
        Label encoding, loss, predictions and metrics (e.g. ``MultiLabelHead(n_classes=3)``, or a ``MultiHead``
        of named heads).
    hidden_units : list of int
        Units per hidden layer.
    feature_columns : list
        Dense feature columns the network reads.
    model_dir : str, optional
        Checkpoints and summaries; a temporary directory when ``None``.
    optimizer : str or callable
        Optimizer name or factory (default Adam, as ``DNNClassifier``; TF's is Adagrad).
    activation_fn : str or callable
        Hidden-layer activation.
    dropout : float, optional
        Dropout probability of the hidden units.
    config : RunConfig, optional
        Run configuration.
    warm_start_from : str or WarmStartSettings, optional
        Where a new model's variables come from.
    batch_norm : bool
        Batch-normalise after each hidden layer.
    learning_rate : float, optional
        Keyword-only (TF has none): the optimizer's learning rate.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> from estlab.estimators.heads import PoissonRegressionHead
    >>> DNNEstimator(PoissonRegressionHead(), [4], [fc.numeric_column("x")]).hidden_units
    [4]
    """

    summary: ClassVar[str] = "Feed-forward neural network with any head."

    def __init__(
        self,
        head: Head,
        hidden_units: Sequence[int],
        feature_columns: list,
        model_dir: str | None = None,
        optimizer: str | Callable = "Adam",
        activation_fn: str | Callable = "relu",
        dropout: float | None = None,
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        batch_norm: bool = False,
        *,
        learning_rate: float | None = None,
    ) -> None:
        self._take_head(head)
        self.hidden_units = hidden_units
        self.feature_columns = feature_columns
        self.optimizer = optimizer
        self.activation_fn = activation_fn
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.learning_rate = learning_rate
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class LinearEstimator(_HeadMixin, _LinearBase):
    """A linear model with a given head (TF's ``tf.estimator.LinearEstimator``).

    Parameters
    ----------
    head : Head
        Label encoding, loss, predictions and metrics.
    feature_columns : list
        Feature columns of the linear model.
    model_dir : str, optional
        Checkpoints and summaries; a temporary directory when ``None``.
    optimizer : str or callable
        Optimizer name or factory (default ``"Ftrl"``, as TF).
    config : RunConfig, optional
        Run configuration.
    sparse_combiner : str
        How multivalent categorical weights combine (``"sum"``, ``"mean"``, ``"sqrtn"``).
    warm_start_from : str or WarmStartSettings, optional
        Where a new model's variables come from.
    learning_rate : float, optional
        Keyword-only (TF has none): the optimizer's learning rate.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> from estlab.estimators.heads import LogisticRegressionHead
    >>> LinearEstimator(LogisticRegressionHead(), [fc.numeric_column("x")]).optimizer
    'Ftrl'
    """

    summary: ClassVar[str] = "Linear model with any head."

    def __init__(
        self,
        head: Head,
        feature_columns: list,
        model_dir: str | None = None,
        optimizer: str | Callable = "Ftrl",
        config: RunConfig | None = None,
        sparse_combiner: str = "sum",
        warm_start_from: str | None = None,
        *,
        learning_rate: float | None = None,
    ) -> None:
        self._take_head(head)
        self.feature_columns = feature_columns
        self.optimizer = optimizer
        self.sparse_combiner = sparse_combiner
        self.learning_rate = learning_rate
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class DNNLinearCombinedEstimator(_HeadMixin, _CombinedBase):
    """A wide & deep model with a given head (TF's ``tf.estimator.DNNLinearCombinedEstimator``).

    Parameters
    ----------
    head : Head
        Label encoding, loss, predictions and metrics.
    model_dir : str, optional
        Checkpoints and summaries; a temporary directory when ``None``.
    linear_feature_columns : list, optional
        Columns of the linear (wide) part.
    linear_optimizer : str or callable
        Optimizer of the linear part (default ``"Ftrl"``).
    dnn_feature_columns : list, optional
        Dense columns of the network (deep) part.
    dnn_optimizer : str or callable
        Optimizer of the network part (default Adam; TF's is Adagrad).
    dnn_hidden_units : list of int, optional
        Units per hidden layer (required with ``dnn_feature_columns``).
    dnn_activation_fn : str or callable
        Hidden-layer activation.
    dnn_dropout : float, optional
        Dropout probability of the hidden units.
    config : RunConfig, optional
        Run configuration.
    batch_norm : bool
        Batch-normalise after each hidden layer.
    linear_sparse_combiner : str
        How multivalent categorical weights combine.
    warm_start_from : str or WarmStartSettings, optional
        Keyword-only here: where a new model's variables come from.
    linear_learning_rate, dnn_learning_rate : float, optional
        Keyword-only (TF has none): the two optimizers' learning rates.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> from estlab.estimators.heads import MultiLabelHead
    >>> DNNLinearCombinedEstimator(MultiLabelHead(2), linear_feature_columns=[fc.numeric_column("x")]).dnn_optimizer
    'Adam'
    """

    summary: ClassVar[str] = "Wide & deep model with any head."

    def __init__(
        self,
        head: Head,
        model_dir: str | None = None,
        linear_feature_columns: list | None = None,
        linear_optimizer: str | Callable = "Ftrl",
        dnn_feature_columns: list | None = None,
        dnn_optimizer: str | Callable = "Adam",
        dnn_hidden_units: Sequence[int] | None = None,
        dnn_activation_fn: str | Callable = "relu",
        dnn_dropout: float | None = None,
        config: RunConfig | None = None,
        batch_norm: bool = False,
        linear_sparse_combiner: str = "sum",
        *,
        warm_start_from: str | None = None,
        linear_learning_rate: float | None = None,
        dnn_learning_rate: float | None = None,
    ) -> None:
        self._take_head(head)
        self.linear_feature_columns = linear_feature_columns
        self.linear_optimizer = linear_optimizer
        self.dnn_feature_columns = dnn_feature_columns
        self.dnn_optimizer = dnn_optimizer
        self.dnn_hidden_units = dnn_hidden_units if dnn_hidden_units is not None else []
        self.dnn_activation_fn = dnn_activation_fn
        self.dnn_dropout = dnn_dropout
        self.batch_norm = batch_norm
        self.linear_sparse_combiner = linear_sparse_combiner
        self.linear_learning_rate = linear_learning_rate
        self.dnn_learning_rate = dnn_learning_rate
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


__all__ = ["DNNEstimator", "DNNLinearCombinedEstimator", "LinearEstimator"]
