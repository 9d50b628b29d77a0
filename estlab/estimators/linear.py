"""``LinearClassifier`` / ``LinearRegressor``: TF's ``linear_model`` (one weight per value and per id)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from estlab.estimators._premade import PremadeEstimator, check_feature_columns, one_optimizer
from estlab.estimators.choices import SPARSE_COMBINERS
from estlab.estimators.optimizers import resolve_optimizer, tf_default_optimizer
from estlab.estimators.sdca import LinearSDCA, check_sdca_estimator, fit_linear_sdca
from estlab.estimators.size_check import linear_blocks, optimizer_slots
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig


def build_linear_module(feature_columns: list, transformer: Any, units: int, sparse_combiner: str) -> nn.Module:
    """TF's ``linear_model``: ``estlab.features.LinearFeatures`` (weights + bias) → ``(N, units)`` logits.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> build_linear_module([fc.numeric_column("x")], None, 2, "sum")({"x": [[1.0]]}).shape
    torch.Size([1, 2])
    """
    from estlab.features import LinearFeatures

    return LinearFeatures(feature_columns, transformer, units, sparse_combiner=sparse_combiner)


class _SDCAFullBatch:
    """``trains_full_batch``: False on the class (SGD steps), True on an instance with
    ``optimizer=LinearSDCA(...)``: one ``train`` call solves for SDCA's optimum (:mod:`estlab.estimators.sdca`)."""

    def __get__(self, instance: Any, owner: type | None = None) -> bool:
        return instance is not None and isinstance(instance.optimizer, LinearSDCA)


class _LinearBase(PremadeEstimator):
    feature_columns: list
    optimizer: str | Callable
    learning_rate: float | None
    sparse_combiner: str

    trains_full_batch = _SDCAFullBatch()

    def _check(self) -> None:
        super()._check()
        if isinstance(self.optimizer, LinearSDCA):
            check_sdca_estimator(type(self).__name__, self._build_head(), check_feature_columns(self.feature_columns),
                                 self.sparse_combiner, self.learning_rate)
        else:
            resolve_optimizer(self.optimizer, self.learning_rate, default=self._tf_optimizer())
        check_feature_columns(self.feature_columns)
        if self.sparse_combiner not in SPARSE_COMBINERS:
            raise ValueError(
                f"sparse_combiner={self.sparse_combiner!r} is not supported; use one of {list(SPARSE_COMBINERS)}."
            )

    def _feature_columns(self) -> list:
        return check_feature_columns(self.feature_columns)

    def _build_module(self, transformer: Any) -> nn.Module:
        columns, d = self._feature_columns(), self._build_head().logits_dimension
        sdca = isinstance(self.optimizer, LinearSDCA)
        if transformer is not None:  # the size is checked before anything is allocated
            factory = None if sdca else resolve_optimizer(self.optimizer, self.learning_rate,
                                                          default=self._tf_optimizer())
            self._check_size(linear_blocks(columns, transformer, d, optimizer_slots(factory)))
        module = build_linear_module(columns, transformer, d, self.sparse_combiner)
        return module if sdca else self._scale_labels(module)  # SDCA's objective is in label units

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        if isinstance(self.optimizer, LinearSDCA):
            return []  # solved on the whole input by _fit_full_batch
        return one_optimizer(module, self.optimizer, self.learning_rate, default=self._tf_optimizer())

    def _full_batch_input_batches(self, steps: int | None) -> int | None:
        return steps  # LinearSDCA: of an iterable input, the batches TF's steps would read

    def _fit_full_batch(self, module: nn.Module, encoded: dict[str, torch.Tensor], labels: torch.Tensor,
                        weights: torch.Tensor | None) -> None:
        assert isinstance(self.optimizer, LinearSDCA)  # trains_full_batch only with it
        fit_linear_sdca(module, encoded, labels, weights, self._build_head().task, self.optimizer)

    def _train_in_model_dir(self, source: Any, hooks: list, steps: int | None, max_steps: int | None,
                            label: Any) -> Any:
        if isinstance(self.optimizer, LinearSDCA) and self.optimizer.example_id_column not in source.feature_keys:
            name = self.optimizer.example_id_column
            raise ValueError(f"LinearSDCA: example_id_column {name!r} is not a column of the training input, which "
                             f"has {source.feature_keys}; add a column of unique example ids (e.g. the row number "
                             "as a string) or name the right one in LinearSDCA(example_id_column=...).")
        return super()._train_in_model_dir(source, hooks, steps, max_steps, label)

    def _read_label_statistics(self, input_fn: Any, label: Any) -> Any:
        if isinstance(self.optimizer, LinearSDCA):
            return None  # SDCA's objective is in label units: normalize_labels does not apply
        return super()._read_label_statistics(input_fn, label)

    def _tf_optimizer(self) -> tuple[str, float]:
        """TF's default optimizer for this estimator: what ``optimizer=None`` means."""
        return tf_default_optimizer(type(self).__name__, len(list(self.feature_columns or [])))


class LinearClassifier(_LinearBase):
    """A linear (logistic-regression) classifier (TF's ``tf.estimator.LinearClassifier``).

    Defaults: ``optimizer="Ftrl"`` (FTRL-Proximal, ``estlab.estimators.ftrl``) at ``learning_rate=0.2``;
    ``optimizer=None`` is TF's default (Ftrl at ``min(0.2, 1/sqrt(n_feature_columns))``).

    Parameters
    ----------
    feature_columns : list
        Feature columns; categorical columns get one weight per id, numeric ones one per value.
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
    optimizer : str, callable or LinearSDCA
        Optimizer name (``"Ftrl"``, ``"Adam"``, ``"Adagrad"``, ``"SGD"``, ``"RMSProp"`` ...) or a
        factory ``params -> torch.optim.Optimizer``; or TF's ``LinearSDCA(...)``: one ``train`` call then
        solves for SDCA's regularised optimum on the whole input (:mod:`estlab.estimators.sdca`).
    learning_rate : float, optional
        Learning rate; ``None`` uses the optimizer's default (Ftrl: 0.2, as TF's linear models).
    sparse_combiner : str
        How a multi-valued categorical column's weights combine: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
    loss_reduction : str
        ``"sum_over_batch_size"`` (mean over the batch) or ``"sum"``.
    warm_start_from : str, optional
        Checkpoint path or model_dir whose matching variables initialise this model.
    config : RunConfig, optional
        Run configuration (checkpoint cadence, seed, device, ...).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> LinearClassifier(feature_columns=[fc.numeric_column("x")], n_classes=3).n_classes
    3
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Linear model (logistic regression) with one weight per feature value or id."

    def __init__(
        self,
        feature_columns: list,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: WeightColumn | None = None,
        label_vocabulary: list[str] | None = None,
        optimizer: str | Callable = "Ftrl",
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        sparse_combiner: str = "sum",
        *,
        learning_rate: float | None = None,
        class_weight: str | dict | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.class_weight = class_weight
        self.label_vocabulary = label_vocabulary
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.sparse_combiner = sparse_combiner
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class LinearRegressor(_LinearBase):
    """A linear regressor (TF's ``tf.estimator.LinearRegressor``), squared-error loss.

    Defaults: ``optimizer="Ftrl"`` (FTRL-Proximal, as TF) at ``learning_rate=0.2``; ``optimizer=None`` is TF's default.

    Parameters
    ----------
    feature_columns : list
        Feature columns; categorical columns get one weight per id, numeric ones one per value.
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    label_dimension : int
        Number of regression targets per example.
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    optimizer : str, callable or LinearSDCA
        Optimizer name (``"Ftrl"``, ``"Adam"``, ``"Adagrad"``, ``"SGD"``, ``"RMSProp"`` ...) or a
        factory ``params -> torch.optim.Optimizer``; or TF's ``LinearSDCA(...)``: one ``train`` call then
        solves for SDCA's regularised optimum on the whole input (:mod:`estlab.estimators.sdca`).
    learning_rate : float, optional
        Learning rate; ``None`` uses the optimizer's default (Ftrl: 0.2, as TF's linear models).
    sparse_combiner : str
        How a multi-valued categorical column's weights combine: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
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
    >>> LinearRegressor(feature_columns=[fc.numeric_column("x")]).optimizer
    'Ftrl'
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Linear regression with one weight per feature value or id."

    def __init__(
        self,
        feature_columns: list,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: WeightColumn | None = None,
        optimizer: str | Callable = "Ftrl",
        config: RunConfig | None = None,
        warm_start_from: str | None = None,
        loss_reduction: str = "sum_over_batch_size",
        sparse_combiner: str = "sum",
        *,
        learning_rate: float | None = None,
        normalize_labels: bool = True,
    ) -> None:
        self.feature_columns = feature_columns
        self.label_dimension = label_dimension
        self.weight_column = weight_column
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.sparse_combiner = sparse_combiner
        self.loss_reduction = loss_reduction
        self.normalize_labels = normalize_labels
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
