"""``BoostedTreesClassifier`` / ``BoostedTreesRegressor``: gradient-boosted trees trained by LightGBM.

Training happens once, on the whole transformed training input (the loop's ``_fit_full_batch``
seam): :class:`~estlab.estimators.tree_features.TreeFeatures` output → ``lightgbm.train``. Columns are read as
TF's BoostedTrees read them: a bucketized column is one ordered feature (its bucket index, so a split is a
threshold between buckets), a categorical or indicator column one categorical feature (its id), a numeric
column its values (``docs/boosted-trees.md``). The trees are then copied into a
:class:`~estlab.estimators.tree_ensemble.TreeEnsemble` of plain tensors, so checkpoints,
``evaluate``/``predict`` (same heads and metrics as every estimator) and export work unchanged.
LightGBM is imported lazily: ``pip install estlab[boosted]``.

TF's constructor order is kept (``BoostedTreesClassifier(feature_columns, n_batches_per_layer, model_dir, ...)``)
and so are TF's explanation methods, as its boosted-trees tutorial uses them:
``experimental_feature_importances(normalize=...)`` (gain per feature column, sorted) and
``experimental_predict_with_explanations(input_fn)`` (each row's predictions plus ``bias`` and ``dfc``, the
directional feature contributions per feature column, with ``bias + sum(dfc)`` equal to the predicted
probability of class 1, or the prediction of a regressor).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from estlab._util import warn_ignored_arguments
from estlab.estimators._premade import PremadeEstimator, check_feature_columns, check_number
from estlab.estimators.tree_ensemble import TreeEnsemble
from estlab.estimators.tree_features import TreeFeatures
from estlab.estimators.weights import WeightColumn
from estlab.training.config import RunConfig

#: TF's ``pruning_mode`` values; LightGBM pre-prunes (a split needs a gain of ``tree_complexity``).
PRUNING_MODES = ("none", "pre", "post")
#: LightGBM's default ``min_sum_hessian_in_leaf``, kept as a floor so a leaf never divides by a zero Hessian
_MIN_HESSIAN = 1e-3


def _min_child_samples(value: int | None, n_rows: int | None) -> int:
    """Rows a leaf needs: ``value``, or (``None``) scaled to the data: ``n_rows // 100`` within ``[1, 20]``.

    Examples
    --------
    >>> _min_child_samples(None, 275), _min_child_samples(None, 43152), _min_child_samples(7, 275)
    (2, 20, 7)
    """
    if value is not None:
        return int(value)
    return 20 if n_rows is None else min(20, max(1, int(n_rows) // 100))


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
    """:class:`TreeFeatures` → :class:`TreeEnsemble` logits.

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


def _initial_score(labels: np.ndarray, weights: np.ndarray | None, task: str) -> float:
    """LightGBM's ``boost_from_average`` start: the weighted label mean, as log-odds for a binary classifier.

    Examples
    --------
    >>> round(_initial_score(np.array([0.0, 1.0, 1.0, 1.0]), None, "binary"), 12)  # log(0.75 / 0.25)
    1.098612288668
    """
    w = np.ones(len(labels)) if weights is None else weights
    mean = float(np.sum(w * labels) / np.sum(w))
    if task != "binary":
        return mean
    eps = 1e-15  # LightGBM's kEpsilon clip
    mean = min(max(mean, eps), 1.0 - eps)
    return float(np.log(mean / (1.0 - mean)))


class _BoostedTreesBase(PremadeEstimator):
    trains_full_batch = True

    feature_columns: list
    n_batches_per_layer: float | None
    center_bias: bool
    pruning_mode: str
    quantile_sketch_epsilon: float
    train_in_memory: bool
    n_trees: int
    max_depth: int | None
    num_leaves: int | None
    learning_rate: float
    l1_regularization: float
    l2_regularization: float
    tree_complexity: float
    min_node_weight: float
    min_child_samples: int | None
    subsample: float
    feature_fraction: float
    num_threads: int | None

    def _warn_ignored(self) -> None:
        """One warning naming the TF arguments given with a value estlab cannot honour."""
        warn_ignored_arguments(type(self).__name__, {
            "pruning_mode='post'": True if self.pruning_mode == "post" else None,
        }, why="LightGBM prunes only before splitting (a split needs gain >= tree_complexity), so 'post' trains "
               "as 'pre'")

    def _check(self) -> None:
        super()._check()
        self._feature_columns()
        if isinstance(self.n_batches_per_layer, str):
            raise ValueError(
                f"n_batches_per_layer={self.n_batches_per_layer!r} is not a number; the second positional parameter "
                "is TF's n_batches_per_layer, so pass the model directory as model_dir=..."
            )
        if self.n_batches_per_layer is not None:
            check_number(self.n_batches_per_layer, "n_batches_per_layer", 0.0, inclusive=False)
        if not isinstance(self.center_bias, bool):
            raise ValueError(f"center_bias must be True or False; received {self.center_bias!r}.")
        if self.pruning_mode not in PRUNING_MODES:
            raise ValueError(f"pruning_mode={self.pruning_mode!r} is not supported; use one of {list(PRUNING_MODES)}.")
        if isinstance(self.tree_complexity, (int, float)) and (self.tree_complexity > 0) != (self.pruning_mode != "none"):
            raise ValueError(  # TF's two rules, with its reasons
                f"tree_complexity={self.tree_complexity!r} with pruning_mode={self.pruning_mode!r}: as in TF, a "
                "positive tree_complexity needs pruning_mode='pre' or 'post' (it has no effect without pruning), "
                "and pruning needs a positive tree_complexity. Set both, or neither.")
        check_number(self.quantile_sketch_epsilon, "quantile_sketch_epsilon", 0.0, inclusive=False)
        if not isinstance(self.train_in_memory, bool):
            raise ValueError(f"train_in_memory must be True or False; received {self.train_in_memory!r}.")
        check_number(self.n_trees, "n_trees", 1, integer=True)
        if self.max_depth is not None:
            check_number(self.max_depth, "max_depth", 1, integer=True)
        if self.num_leaves is not None:
            check_number(self.num_leaves, "num_leaves", 2, integer=True)
        check_number(self.learning_rate, "learning_rate", 0.0, inclusive=False)
        check_number(self.l1_regularization, "l1_regularization", 0.0)
        check_number(self.l2_regularization, "l2_regularization", 0.0)
        check_number(self.tree_complexity, "tree_complexity", 0.0)
        check_number(self.min_node_weight, "min_node_weight", 0.0)
        if self.min_child_samples is not None:
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
        features = TreeFeatures(self._feature_columns(), transformer)
        return BoostedTreesModule(features, self._build_head().logits_dimension)

    def _num_leaves(self) -> int:
        """``num_leaves``, or (``None``) as many as a depth-wise tree of ``max_depth`` holds (TF's), at most 1024."""
        if self.num_leaves is not None:
            return int(self.num_leaves)
        return 31 if self.max_depth is None else min(2 ** int(self.max_depth), 1024)

    def _numeric_bins(self) -> int:
        """Bins of a numeric feature: TF's ``int(1 / quantile_sketch_epsilon)`` quantile buckets (100), at least 2."""
        return max(2, int(1.0 / float(self.quantile_sketch_epsilon)))

    def _lightgbm_params(self, n_rows: int | None = None, features: TreeFeatures | None = None) -> dict[str, Any]:
        """LightGBM's parameters for ``n_rows`` training rows (TF's per-instance values times ``n_rows``).

        With ``features`` (the trees' input layer), every bucket of a bucketized column and every id of a
        categorical column gets its own bin (``max_bin_by_feature``); ``min_data_in_bin=1`` keeps a bucket few
        rows fall in from being merged with its neighbour (TF splits between any two buckets).
        """
        head = self._build_head()
        if head.task == "binary":
            objective: dict[str, Any] = {"objective": "binary"}
        elif head.task == "multiclass":
            objective = {"objective": "multiclass", "num_class": head.logits_dimension}
        else:
            objective = {"objective": "regression"}
        seed = getattr(self.config, "random_seed", None)
        n = 1 if n_rows is None else max(int(n_rows), 1)
        min_rows = _min_child_samples(self.min_child_samples, n_rows)
        bins: dict[str, Any] = {"max_bin": self._numeric_bins(), "min_data_in_bin": 1}
        if features is not None:
            bins["max_bin_by_feature"] = features.max_bins(self._numeric_bins())
        return {
            **objective,
            **bins,
            "learning_rate": float(self.learning_rate),
            "num_leaves": self._num_leaves(),
            "max_depth": -1 if self.max_depth is None else int(self.max_depth),
            "lambda_l1": float(self.l1_regularization) * n,
            "lambda_l2": float(self.l2_regularization) * n,
            "min_gain_to_split": float(self.tree_complexity) * n,
            "min_sum_hessian_in_leaf": max(float(self.min_node_weight) * n, _MIN_HESSIAN),
            "min_data_in_leaf": min_rows,
            "min_data_per_group": min(100, min_rows * 5),
            "boost_from_average": bool(self.center_bias),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": float(self.feature_fraction),
            "seed": 0 if seed is None else int(seed),
            "deterministic": True,
            "num_threads": int(self.num_threads or 0),
            "verbose": -1,
        }

    def _full_batch_input_batches(self, steps: int | None) -> int | None:
        # of an iterable input, TF's statistics of one layer: its first n_batches_per_layer batches (with
        # TF's tutorial input, .repeat() of one batch of every row, exactly every row once)
        n = self.n_batches_per_layer
        return None if n is None else max(1, math.ceil(n))

    def _fit_full_batch(
        self, module: nn.Module, encoded: dict[str, torch.Tensor], labels: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> None:
        assert isinstance(module, BoostedTreesModule)  # built by _build_module
        lgb = import_lightgbm()
        assert isinstance(module.features, TreeFeatures)  # built by _build_module
        with torch.no_grad():
            x = module.features(encoded).detach().cpu().double().numpy()
        y = labels.detach().cpu().numpy().reshape(len(x), -1)[:, 0]
        w = None if weights is None else weights.detach().cpu().numpy().reshape(-1).astype(np.float64)
        categorical = module.features.categorical_features()
        data = lgb.Dataset(x, label=y, weight=w, categorical_feature=categorical or "auto", free_raw_data=True)
        device = module.trees.feature.device
        params = self._lightgbm_params(len(x), module.features)
        booster = lgb.train(params, data, num_boost_round=int(self.n_trees))
        trees = module.trees.load_lightgbm(booster)
        if self.center_bias and trees.logits_dimension == 1 and trees.num_trees and int(trees.left[0, 0]) != 0:
            # LightGBM writes node values to 6 digits; the first root is the initial score it started from, exactly
            trees.node_value[0, 0] = _initial_score(y, w, self._build_head().task)
        trees.to(device)

    # -- TF's explanation methods --------------------------------------------------------------------

    def _trained_state(self, checkpoint_path: str | None, what: str) -> Any:
        """The trained model (in memory or at ``checkpoint_path``); a ValueError, as TF's, before training."""
        if checkpoint_path is None and self.latest_checkpoint() is None:
            raise ValueError(f"{what}: the model has no trees yet; call train() first (TF: 'You should only call "
                             "this method after training').")
        with self._models.reading(self.model_dir, checkpoint_path) as path:
            return self._models.at(self.model_dir, self.config, path)

    @staticmethod
    def _feature_names(module: BoostedTreesModule, transformer: Any) -> list[str]:
        """The feature column name of every tree input (multi-dimensional and count columns repeat it)."""
        assert isinstance(module.features, TreeFeatures)  # built by _build_module
        return module.features.names()

    def experimental_feature_importances(self, normalize: bool = False) -> collections.OrderedDict[str, float]:
        """TF's gain-based feature importances: feature column name → summed split gain, largest first.

        One-hot outputs of an indicator column (and the values of a multi-dimensional numeric column) add
        up under the column's name; every feature column is listed, unused ones with 0, ties in name order.

        Parameters
        ----------
        normalize : bool
            Divide by the total, so the importances sum to 1 (a ValueError when no tree has a split).

        Examples
        --------
        >>> est.experimental_feature_importances(normalize=True)  # doctest: +SKIP
        OrderedDict([('sex', 0.41), ('age', 0.22), ('fare', 0.19), ...])
        >>> pd.Series(est.experimental_feature_importances()).plot.barh()  # doctest: +SKIP
        """
        state = self._trained_state(None, "experimental_feature_importances")
        module = state.module
        assert isinstance(module, BoostedTreesModule)  # built by _build_module
        names = self._feature_names(module, state.transformer)
        gains = module.trees.gain_importances(len(names))
        if normalize:
            total = float(gains.sum())
            if not total > 0:
                raise ValueError("experimental_feature_importances(normalize=True): the trees have no splits "
                                 "(all empty or only a root), so there is nothing to normalise by.")
            gains = gains / total
        summed: dict[str, float] = collections.OrderedDict((name, 0.0) for name in sorted(set(names)))
        for name, gain in zip(names, gains, strict=True):
            summed[name] += float(gain)
        return collections.OrderedDict(sorted(summed.items(), key=lambda item: item[1], reverse=True))

    def experimental_predict_with_explanations(
        self, input_fn: Any, predict_keys: Sequence[str] | str | None = None, hooks: Sequence[Any] | None = None,
        checkpoint_path: str | None = None, *, batch_size: int = 512,
    ) -> Iterator[dict[str, Any]]:
        """Yield each row's predictions with TF's explanations: ``bias`` and ``dfc``.

        ``dfc`` (directional feature contributions) is an ``OrderedDict`` feature column name → contribution,
        largest magnitude first; ``bias`` is the same for every row. For a binary classifier both are in
        probability space and ``bias + sum(dfc.values()) == probabilities[1]``; for a regressor
        ``bias + sum(dfc.values()) == predictions[0]`` (to float32 rounding of the prediction). The
        contributions follow each row's path through the trees as TF does (see
        :meth:`TreeEnsemble.explain`); one-hot outputs are summed back to their feature column.

        Parameters
        ----------
        input_fn : InputFn, DataFrame, dict of arrays or callable
            Rows to explain, as for :meth:`predict`.
        predict_keys : list of str, optional
            Prediction keys to keep (``bias`` and ``dfc`` are always there).
        hooks : list, optional
            Accepted for TF compatibility; prediction emits no training events.
        checkpoint_path : str, optional
            Explain this checkpoint's model instead of the newest.
        batch_size : int
            Rows per forward pass.

        Examples
        --------
        >>> rows = list(est.experimental_predict_with_explanations(eval_df))  # doctest: +SKIP
        >>> rows[0]["bias"] + sum(rows[0]["dfc"].values()) - rows[0]["probabilities"][1]  # doctest: +SKIP
        0.0
        """
        from estlab.estimators import inference
        from estlab.inputs import iter_batches

        self._check()
        head = self._build_head()
        if head.logits_dimension != 1:
            raise ValueError(f"experimental_predict_with_explanations supports binary classification and regression "
                             f"(as TF); this model has n_classes={getattr(self, 'n_classes', None)}.")
        keys = [predict_keys] if isinstance(predict_keys, str) else predict_keys
        state = self._trained_state(checkpoint_path, "experimental_predict_with_explanations")
        module = state.module
        assert isinstance(module, BoostedTreesModule)  # built by _build_module
        names = self._feature_names(module, state.transformer)
        columns = sorted(set(names))
        to_column = torch.zeros(len(names), len(columns), dtype=torch.float64)
        to_column[torch.arange(len(names)), torch.tensor([columns.index(n) for n in names])] = 1.0
        activation = torch.sigmoid if self.task == "classification" else None
        source = inference.prediction_source(state, input_fn, batch_size)
        for part in source.one_pass():
            encoded, _, _ = state.encode(part, with_labels=False)
            for rows in iter_batches(len(next(iter(encoded.values()))), batch_size):
                module.eval()
                try:
                    with torch.no_grad():
                        x = module.features({k: v[rows] for k, v in encoded.items()})
                        predictions = state.head.predictions(module.trees(x))
                        bias, contributions = module.trees.explain(x, activation)
                finally:
                    module.train()
                if keys is not None:
                    unknown = [k for k in keys if k not in predictions]
                    if unknown:
                        raise ValueError(f"predict_keys: {unknown} are not predictions of this model; valid keys "
                                         f"are {sorted(predictions)}")
                    predictions = {k: predictions[k] for k in keys}
                arrays = {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                          for k, v in predictions.items()}
                per_column = (contributions.cpu() @ to_column).numpy()
                for i, row in enumerate(per_column):
                    example = {k: v[i] for k, v in arrays.items()}
                    order = sorted(range(len(columns)), key=lambda j: -abs(row[j]))
                    example["bias"] = float(bias[i])
                    example["dfc"] = collections.OrderedDict((columns[j], float(row[j])) for j in order)
                    yield example


class BoostedTreesClassifier(_BoostedTreesBase):
    """Gradient-boosted trees classifier (TF's ``tf.estimator.BoostedTreesClassifier``), via LightGBM.

    Trains in one ``train`` call on the whole input (``steps``/``max_steps`` do not apply); the fitted
    trees become tensors. Parameters in TF's order; those TF does not have are keyword-only. Defaults:
    200 trees (TF: 100), ``learning_rate=0.1``, ``max_depth=6`` with up to 64 leaves, TF's
    ``min_node_weight=0`` and a minimum of rows per leaf scaled to the data (1 per 100 rows, 1 to 20).

    Parameters
    ----------
    feature_columns : list
        Numeric, bucketized, categorical and indicator columns, read as TF's trees read them: a bucketized
        column is one ordered feature (its bucket index), a categorical/indicator column one categorical
        feature (its id), a numeric column its values (``docs/boosted-trees.md``). Embeddings are refused.
    n_batches_per_layer : float, optional
        TF's batches of statistics per layer. Every layer here sees the whole training input (TF with
        ``train_in_memory=True``), so any positive value trains the same trees.
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
    n_trees : int
        Number of boosting rounds (trees per output).
    max_depth : int, optional
        Maximum depth of a tree; ``None`` for no limit beyond ``num_leaves``.
    learning_rate : float
        Shrinkage applied to each tree's output.
    l1_regularization : float
        L1 penalty on leaf values, per instance as TF's (LightGBM's ``lambda_l1`` = value x training rows).
    l2_regularization : float
        L2 penalty on leaf values, per instance as TF's (LightGBM's ``lambda_l2`` = value x training rows).
    tree_complexity : float
        Minimum loss reduction (gain) to make a split, per instance as TF's (``min_gain_to_split`` = value x
        training rows). As in TF, positive only with ``pruning_mode`` ``"pre"`` or ``"post"``.
    min_node_weight : float
        Minimum Hessian of a leaf, per instance as TF's: compared with the leaf's Hessian sum divided by the
        training rows (``min_sum_hessian_in_leaf`` = value x rows, at least LightGBM's 0.001). TF's default 0.
    config : RunConfig, optional
        Run configuration; ``random_seed`` seeds LightGBM.
    center_bias : bool
        Start from the (weighted) label average: the prior log-odds for a classifier, the mean for a
        regressor (LightGBM's ``boost_from_average``); TF's explanations report it as ``bias``.
    pruning_mode : str
        TF's ``"none"``, ``"pre"`` or ``"post"``; LightGBM always pre-prunes with ``tree_complexity``, so
        ``"post"`` trains as ``"pre"`` (with a warning).
    quantile_sketch_epsilon : float
        TF's quantile error: a numeric column is split among ``int(1 / quantile_sketch_epsilon)`` quantile
        bins (LightGBM's ``max_bin`` for numeric features; 100 by default, as TF's buckets).
    train_in_memory : bool
        TF's in-memory training; estlab always trains on the whole input in memory.
    num_leaves : int, optional
        Maximum number of leaves per tree (LightGBM grows trees leaf-wise). ``None``: ``2 ** max_depth`` (at
        most 1024), what TF's depth-wise tree can hold; 31 without ``max_depth``. Keyword-only, as the rest.
    min_child_samples : int, optional
        Minimum number of training rows in a leaf (TF has none). ``None``: scaled to the data, one per 100
        training rows, between 1 and 20 (LightGBM's 20).
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

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> BoostedTreesClassifier([fc.numeric_column("x")], 1, center_bias=True).n_trees
    200
    """

    task: ClassVar[str] = "classification"
    summary: ClassVar[str] = "Gradient-boosted decision trees classifier (LightGBM, converted to tensors)."

    def __init__(
        self,
        feature_columns: list,
        n_batches_per_layer: float | None = None,
        model_dir: str | None = None,
        n_classes: int = 2,
        weight_column: WeightColumn | None = None,
        label_vocabulary: list[str] | None = None,
        n_trees: int = 200,
        max_depth: int | None = 6,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.0,
        config: RunConfig | None = None,
        center_bias: bool = False,
        pruning_mode: str = "none",
        quantile_sketch_epsilon: float = 0.01,
        train_in_memory: bool = False,
        *,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 1.0,
        feature_fraction: float = 1.0,
        num_threads: int | None = None,
        loss_reduction: str = "sum_over_batch_size",
        warm_start_from: str | None = None,
        class_weight: str | dict | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.n_batches_per_layer = n_batches_per_layer
        self.n_classes = n_classes
        self.weight_column = weight_column
        self.class_weight = class_weight
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
        self.center_bias = center_bias
        self.pruning_mode = pruning_mode
        self.quantile_sketch_epsilon = quantile_sketch_epsilon
        self.train_in_memory = train_in_memory
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
        self._warn_ignored()


class BoostedTreesRegressor(_BoostedTreesBase):
    """Gradient-boosted trees regressor (TF's ``tf.estimator.BoostedTreesRegressor``), via LightGBM.

    Squared-error objective; one ``train`` call fits all trees. Parameters in TF's order (those TF does
    not have are keyword-only); defaults as :class:`BoostedTreesClassifier`.

    Parameters
    ----------
    feature_columns : list
        Numeric, bucketized, categorical and indicator columns, read as TF's trees read them: a bucketized
        column is one ordered feature (its bucket index), a categorical/indicator column one categorical
        feature (its id), a numeric column its values (``docs/boosted-trees.md``). Embeddings are refused.
    n_batches_per_layer : float, optional
        TF's batches of statistics per layer. Every layer here sees the whole training input (TF with
        ``train_in_memory=True``), so any positive value trains the same trees.
    model_dir : str, optional
        Directory for checkpoints and TensorBoard summaries; a temporary one when ``None``.
    label_dimension : int
        Number of regression targets (only 1 is supported).
    weight_column : str or NumericColumn, optional
        The input column holding non-negative example weights: its name, or as in TF a
        ``numeric_column`` (its ``normalizer_fn`` applied to the weights); see :mod:`estlab.estimators.weights`.
    n_trees : int
        Number of boosting rounds (trees per output).
    max_depth : int, optional
        Maximum depth of a tree; ``None`` for no limit beyond ``num_leaves``.
    learning_rate : float
        Shrinkage applied to each tree's output.
    l1_regularization : float
        L1 penalty on leaf values, per instance as TF's (LightGBM's ``lambda_l1`` = value x training rows).
    l2_regularization : float
        L2 penalty on leaf values, per instance as TF's (LightGBM's ``lambda_l2`` = value x training rows).
    tree_complexity : float
        Minimum loss reduction (gain) to make a split, per instance as TF's (``min_gain_to_split`` = value x
        training rows). As in TF, positive only with ``pruning_mode`` ``"pre"`` or ``"post"``.
    min_node_weight : float
        Minimum Hessian of a leaf, per instance as TF's: compared with the leaf's Hessian sum divided by the
        training rows (``min_sum_hessian_in_leaf`` = value x rows, at least LightGBM's 0.001). TF's default 0.
    config : RunConfig, optional
        Run configuration; ``random_seed`` seeds LightGBM.
    center_bias : bool
        Start from the (weighted) label mean (LightGBM's ``boost_from_average``); TF's explanations report
        it as ``bias``.
    pruning_mode : str
        TF's ``"none"``, ``"pre"`` or ``"post"``; ``"post"`` trains as ``"pre"`` (with a warning).
    quantile_sketch_epsilon : float
        TF's quantile error: a numeric column is split among ``int(1 / quantile_sketch_epsilon)`` quantile
        bins (LightGBM's ``max_bin`` for numeric features; 100 by default, as TF's buckets).
    train_in_memory : bool
        TF's in-memory training; estlab always trains on the whole input in memory.
    num_leaves : int, optional
        Maximum number of leaves per tree (LightGBM grows trees leaf-wise). ``None``: ``2 ** max_depth`` (at
        most 1024), what TF's depth-wise tree can hold; 31 without ``max_depth``. Keyword-only, as the rest.
    min_child_samples : int, optional
        Minimum number of training rows in a leaf (TF has none). ``None``: scaled to the data, one per 100
        training rows, between 1 and 20 (LightGBM's 20).
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

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> BoostedTreesRegressor([fc.numeric_column("x")], 1).max_depth
    6
    """

    task: ClassVar[str] = "regression"
    summary: ClassVar[str] = "Gradient-boosted decision trees regressor (LightGBM, converted to tensors)."

    def __init__(
        self,
        feature_columns: list,
        n_batches_per_layer: float | None = None,
        model_dir: str | None = None,
        label_dimension: int = 1,
        weight_column: WeightColumn | None = None,
        n_trees: int = 200,
        max_depth: int | None = 6,
        learning_rate: float = 0.1,
        l1_regularization: float = 0.0,
        l2_regularization: float = 0.0,
        tree_complexity: float = 0.0,
        min_node_weight: float = 0.0,
        config: RunConfig | None = None,
        center_bias: bool = False,
        pruning_mode: str = "none",
        quantile_sketch_epsilon: float = 0.01,
        train_in_memory: bool = False,
        *,
        num_leaves: int | None = None,
        min_child_samples: int | None = None,
        subsample: float = 1.0,
        feature_fraction: float = 1.0,
        num_threads: int | None = None,
        loss_reduction: str = "sum_over_batch_size",
        warm_start_from: str | None = None,
    ) -> None:
        self.feature_columns = feature_columns
        self.n_batches_per_layer = n_batches_per_layer
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
        self.center_bias = center_bias
        self.pruning_mode = pruning_mode
        self.quantile_sketch_epsilon = quantile_sketch_epsilon
        self.train_in_memory = train_in_memory
        super().__init__(model_dir=model_dir, config=config, warm_start_from=warm_start_from)
        self._warn_ignored()
