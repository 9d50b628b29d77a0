"""``BoostedTreesClassifier`` / ``BoostedTreesRegressor``: gradient-boosted trees trained by LightGBM.

Training happens once, on the whole transformed training input (the loop's ``_fit_full_batch``
seam): ``DenseFeatures`` output → ``lightgbm.train``. The trees are then copied into a
:class:`~estlab.estimators.tree_ensemble.TreeEnsemble` of plain tensors, so checkpoints,
``evaluate``/``predict`` (same heads and metrics as every estimator) and export work unchanged.
LightGBM is imported lazily: ``pip install estlab[boosted]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from estlab.estimators._premade import PremadeEstimator, check_feature_columns, check_number
from estlab.estimators.tree_ensemble import TreeEnsemble
from estlab.training.config import RunConfig


def import_lightgbm() -> Any:
    """``lightgbm``, or an ImportError with the install hint.

    Examples
    --------
    >>> import_lightgbm().__name__  # doctest: +SKIP
    'lightgbm'
    """
    try:
        import lightgbm
    except ImportError as error:
        raise ImportError(
            "BoostedTreesClassifier/BoostedTreesRegressor need LightGBM; install it with "
            "`pip install estlab[boosted]` (or `pip install lightgbm`)."
        ) from error
    return lightgbm


def _dense_for_trees(column: Any) -> Any:
    """Bare categorical columns become indicator columns (TF's rule for trees); embeddings are refused."""
    from estlab.features import CategoricalColumn, EmbeddingColumn, SharedEmbeddingColumn, indicator_column

    if isinstance(column, EmbeddingColumn | SharedEmbeddingColumn):
        raise ValueError(
            f"feature_columns holds the embedding column {column.name!r}; boosted trees cannot train embeddings. "
            "Pass its categorical column (or indicator_column(...)) instead."
        )
    if isinstance(column, CategoricalColumn):
        return indicator_column(column)
    return column


class BoostedTreesModule(nn.Module):
    """``DenseFeatures`` → :class:`TreeEnsemble` logits.

    Examples
    --------
    >>> import torch
    >>> BoostedTreesModule(nn.Identity(), 1)(torch.zeros(2, 3)).shape
    torch.Size([2, 1])
    """

    def __init__(self, features: nn.Module, logits_dimension: int) -> None:
        super().__init__()
        self.features = features
        self.trees = TreeEnsemble(logits_dimension)

    def forward(self, encoded: Any) -> torch.Tensor:
        return self.trees(self.features(encoded))


class _BoostedTreesBase(PremadeEstimator):
    trains_full_batch = True

    feature_columns: list
    n_trees: int
    max_depth: int | None
    num_leaves: int
    learning_rate: float
    l1_regularization: float
    l2_regularization: float
    tree_complexity: float
    min_node_weight: float
    min_child_samples: int
    subsample: float
    feature_fraction: float
    num_threads: int | None

    def _check(self) -> None:
        super()._check()
        self._feature_columns()
        check_number(self.n_trees, "n_trees", 1, integer=True)
        if self.max_depth is not None:
            check_number(self.max_depth, "max_depth", 1, integer=True)
        check_number(self.num_leaves, "num_leaves", 2, integer=True)
        check_number(self.learning_rate, "learning_rate", 0.0, inclusive=False)
        check_number(self.l1_regularization, "l1_regularization", 0.0)
        check_number(self.l2_regularization, "l2_regularization", 0.0)
        check_number(self.tree_complexity, "tree_complexity", 0.0)
        check_number(self.min_node_weight, "min_node_weight", 0.0)
        check_number(self.min_child_samples, "min_child_samples", 1, integer=True)
        if not (isinstance(self.subsample, (int, float)) and 0.0 < self.subsample <= 1.0):
            raise ValueError(f"subsample must be in (0, 1]; received {self.subsample!r}.")
        if not (isinstance(self.feature_fraction, (int, float)) and 0.0 < self.feature_fraction <= 1.0):
            raise ValueError(f"feature_fraction must be in (0, 1]; received {self.feature_fraction!r}.")
        if self.task == "regression" and self.label_dimension != 1:
            raise ValueError(
                f"label_dimension={self.label_dimension} is not supported by boosted trees (one target only); "
                "train one BoostedTreesRegressor per target."
            )

    def _feature_columns(self) -> list:
        return [_dense_for_trees(c) for c in check_feature_columns(self.feature_columns)]

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        return []  # trained by LightGBM, not by gradient steps

    def _build_module(self, transformer: Any) -> nn.Module:
        from estlab.features import DenseFeatures

        features = DenseFeatures(self._feature_columns(), transformer)
        return BoostedTreesModule(features, self._build_head().logits_dimension)

    def _lightgbm_params(self) -> dict[str, Any]:
        head = self._build_head()
        if head.task == "binary":
            objective: dict[str, Any] = {"objective": "binary"}
        elif head.task == "multiclass":
            objective = {"objective": "multiclass", "num_class": head.logits_dimension}
        else:
            objective = {"objective": "regression"}
        seed = getattr(self.config, "random_seed", None)
        return {
            **objective,
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "max_depth": -1 if self.max_depth is None else int(self.max_depth),
            "lambda_l1": float(self.l1_regularization),
            "lambda_l2": float(self.l2_regularization),
            "min_gain_to_split": float(self.tree_complexity),
            "min_sum_hessian_in_leaf": float(self.min_node_weight),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": float(self.feature_fraction),
            "seed": 0 if seed is None else int(seed),
            "deterministic": True,
            "num_threads": int(self.num_threads or 0),
            "verbose": -1,
        }

    def _fit_full_batch(
        self, module: nn.Module, encoded: dict[str, torch.Tensor], labels: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> None:
        assert isinstance(module, BoostedTreesModule)  # built by _build_module
        lgb = import_lightgbm()
        with torch.no_grad():
            x = module.features(encoded).detach().cpu().double().numpy()
        y = labels.detach().cpu().numpy().reshape(len(x), -1)[:, 0]
        w = None if weights is None else weights.detach().cpu().numpy().reshape(-1).astype(np.float64)
        data = lgb.Dataset(x, label=y, weight=w, free_raw_data=True)
        device = module.trees.feature.device
        booster = lgb.train(self._lightgbm_params(), data, num_boost_round=int(self.n_trees))
        module.trees.load_lightgbm(booster).to(device)


class BoostedTreesClassifier(_BoostedTreesBase):
    """Gradient-boosted trees classifier (TF's ``tf.estimator.BoostedTreesClassifier``), via LightGBM.

    Trains in one ``train`` call on the whole input (``steps``/``max_steps`` do not apply); the fitted
    trees become tensors. Defaults: 200 trees, ``learning_rate=0.1``, ``max_depth=6``, 31 leaves,
    20 rows per leaf (TF's defaults are 100 trees of depth 6 at 0.1).

    Parameters
    ----------
    feature_columns : list
        Feature columns, read through ``DenseFeatures`` (numeric, bucketized and indicator columns
        suit trees; embedding columns are not trained and should be avoided).
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    n_classes : int
        Number of label classes (2 = binary).
    label_vocabulary : list of str, optional
        String labels in class-id order; ``None`` means labels are integers ``0..n_classes-1``.
    weight_column : str, optional
        Name of a feature column holding non-negative example weights.
    n_trees : int
        Number of boosting rounds (trees per output).
    max_depth : int, optional
        Maximum depth of a tree; ``None`` for no limit beyond ``num_leaves``.
    num_leaves : int
        Maximum number of leaves per tree (LightGBM grows trees leaf-wise).
    learning_rate : float
        Shrinkage applied to each tree's output.
    l1_regularization : float
        L1 penalty on leaf values.
    l2_regularization : float
        L2 penalty on leaf values.
    tree_complexity : float
        Minimum loss reduction (gain) to make a split.
    min_node_weight : float
        Minimum sum of Hessians in a leaf.
    min_child_samples : int
        Minimum number of training rows in a leaf.
    subsample : float
        Fraction of rows sampled for each tree (1.0 = all).
    feature_fraction : float
        Fraction of features sampled for each tree (1.0 = all).
    num_threads : int, optional
        LightGBM threads; ``None`` lets LightGBM choose (all cores).
    loss_reduction : str
        ``"sum_over_batch_size"`` or ``"sum"``; affects the reported ``loss`` only.
    warm_start_from : str, optional
        Accepted for API symmetry; trees are always trained from scratch.
    config : RunConfig, optional
        Run configuration; ``random_seed`` seeds LightGBM.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> BoostedTreesClassifier(feature_columns=[fc.numeric_column("x")]).n_trees
    200
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Gradient-boosted decision trees classifier (LightGBM, converted to tensors)."

    def __init__(
        self,
        feature_columns: list,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: str | None = None,
        label_vocabulary: list[str] | None = None,
        n_trees: int = 200,
        max_depth: int | None = 6,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.001,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        feature_fraction: float = 1.0,
        num_threads: int | None = None,
        loss_reduction: str = "sum_over_batch_size",
        warm_start_from: str | None = None,
        config: RunConfig | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.label_vocabulary = label_vocabulary
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.l1_regularization = l1_regularization
        self.l2_regularization = l2_regularization
        self.tree_complexity = tree_complexity
        self.min_node_weight = min_node_weight
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.feature_fraction = feature_fraction
        self.num_threads = num_threads
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)


class BoostedTreesRegressor(_BoostedTreesBase):
    """Gradient-boosted trees regressor (TF's ``tf.estimator.BoostedTreesRegressor``), via LightGBM.

    Squared-error objective; one ``train`` call fits all trees. Defaults as
    :class:`BoostedTreesClassifier`.

    Parameters
    ----------
    feature_columns : list
        Feature columns, read through ``DenseFeatures`` (numeric, bucketized and indicator columns
        suit trees; embedding columns are not trained and should be avoided).
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    label_dimension : int
        Number of regression targets (only 1 is supported).
    weight_column : str, optional
        Name of a feature column holding non-negative example weights.
    n_trees : int
        Number of boosting rounds (trees per output).
    max_depth : int, optional
        Maximum depth of a tree; ``None`` for no limit beyond ``num_leaves``.
    num_leaves : int
        Maximum number of leaves per tree (LightGBM grows trees leaf-wise).
    learning_rate : float
        Shrinkage applied to each tree's output.
    l1_regularization : float
        L1 penalty on leaf values.
    l2_regularization : float
        L2 penalty on leaf values.
    tree_complexity : float
        Minimum loss reduction (gain) to make a split.
    min_node_weight : float
        Minimum sum of Hessians in a leaf.
    min_child_samples : int
        Minimum number of training rows in a leaf.
    subsample : float
        Fraction of rows sampled for each tree (1.0 = all).
    feature_fraction : float
        Fraction of features sampled for each tree (1.0 = all).
    num_threads : int, optional
        LightGBM threads; ``None`` lets LightGBM choose (all cores).
    loss_reduction : str
        ``"sum_over_batch_size"`` or ``"sum"``; affects the reported ``loss`` only.
    warm_start_from : str, optional
        Accepted for API symmetry; trees are always trained from scratch.
    config : RunConfig, optional
        Run configuration; ``random_seed`` seeds LightGBM.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> BoostedTreesRegressor(feature_columns=[fc.numeric_column("x")]).max_depth
    6
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Gradient-boosted decision trees regressor (LightGBM, converted to tensors)."

    def __init__(
        self,
        feature_columns: list,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: str | None = None,
        n_trees: int = 200,
        max_depth: int | None = 6,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.001,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        feature_fraction: float = 1.0,
        num_threads: int | None = None,
        loss_reduction: str = "sum_over_batch_size",
        warm_start_from: str | None = None,
        config: RunConfig | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.label_dimension = label_dimension
        self.weight_column = weight_column
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.l1_regularization = l1_regularization
        self.l2_regularization = l2_regularization
        self.tree_complexity = tree_complexity
        self.min_node_weight = min_node_weight
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.feature_fraction = feature_fraction
        self.num_threads = num_threads
        self.loss_reduction = loss_reduction
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
