"""``DenseFeatures``, ``LinearFeatures`` and ``input_layer``: encoded features -> float tensors.

Both modules accept the encoded dict from :meth:`FeatureTransformer.transform` (or a batch of it,
``{k: v[idx] for k, v in encoded.items()}``). A dict whose values are all torch tensors is taken as
encoded; anything else (DataFrame, arrays, lists, Series) is raw and is encoded first.

Examples
--------
>>> from estlab.features import numeric_column
>>> input_layer({"x": [1.0, 2.0]}, [numeric_column("x")]).tolist()
[[1.0], [2.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from estlab.features._base import DenseColumn, FeatureColumn
from estlab.features.dense import COMBINERS
from estlab.features.errors import FeatureColumnError, NotFittedError
from estlab.features.fused import MAX_FUSED_ROWS, dense_forward, dense_plan, linear_ids_sum, linear_plan
from estlab.features.transformer import WEIGHTS_SUFFIX, FeatureTransformer


def default_initializer(dimension: int) -> Callable[[torch.Tensor], object]:
    """TF's default embedding initializer: truncated normal, std ``1/sqrt(dimension)``, cut at 2 std.

    Examples
    --------
    >>> t = torch.empty(3, 4); _ = default_initializer(4)(t); bool((t.abs() <= 1.0).all())
    True
    """
    std = 1.0 / math.sqrt(dimension)

    def init(tensor: torch.Tensor) -> torch.Tensor:
        return torch.nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)

    return init


def combine_embeddings(
    table: torch.Tensor,
    ids: torch.Tensor,
    weights: torch.Tensor | None = None,
    combiner: str = "mean",
    max_norm: float | None = None,
) -> torch.Tensor:
    """Look up ``ids`` ``(N, K)`` (``-1`` = none) in ``table`` and combine per row, as TF's sparse lookup.

    ``sum``: sum of ``w * e``; ``mean``: divided by the sum of ``w``; ``sqrtn``: divided by the root of
    the sum of ``w**2``. A row without ids gives zeros. ``max_norm`` clips each vector's L2 norm.

    Examples
    --------
    >>> t = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    >>> combine_embeddings(t, torch.tensor([[0, 1], [-1, -1]]), combiner="sum").tolist()
    [[1.0, 3.0], [0.0, 0.0]]
    """
    mask = ids >= 0
    w = mask.to(table.dtype) if weights is None else weights.to(table.dtype) * mask
    emb = F.embedding(ids.clamp(min=0), table)
    if max_norm is not None:
        norms = emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        emb = emb * torch.clamp(max_norm / norms, max=1.0)
    total = (emb * w.unsqueeze(-1)).sum(dim=1)
    if combiner == "sum":
        return total
    if combiner == "mean":
        denom = w.sum(dim=1, keepdim=True)
    elif combiner == "sqrtn":
        denom = (w * w).sum(dim=1, keepdim=True).sqrt()
    else:
        raise FeatureColumnError(f"combiner must be one of {COMBINERS}, got {combiner!r}.")
    return torch.where(denom > 0, total / denom.clamp_min(1e-12), torch.zeros_like(total))


def _param_name(name: str) -> str:
    return name.replace(".", "_")


def _is_encoded(features: Any) -> bool:
    return isinstance(features, Mapping) and bool(features) and all(
        isinstance(v, torch.Tensor) for v in features.values()
    )


def _unfitted_error(columns: Sequence[FeatureColumn], who: str) -> NotFittedError:
    needing = sorted({c.name for c in FeatureTransformer(columns)._all if c.needs_fit})
    return NotFittedError(
        f"{who}: columns {needing} need fitting (learned vocabulary/statistics/quantiles). Pass "
        f"transformer=FeatureTransformer(feature_columns).fit(train_df), or use the layer inside an "
        f"estimator's model, which binds the fitted transformer before training."
    )


def _default_transformer(columns: Sequence[FeatureColumn]) -> FeatureTransformer | None:
    """A transformer for stateless columns, or None when some column must be fitted first (bound later)."""
    transformer = FeatureTransformer(columns)
    return transformer if transformer.is_fitted else None


def _resolve_transformer(columns: Sequence[FeatureColumn], transformer: FeatureTransformer | None,
                         who: str) -> FeatureTransformer:
    if transformer is None:
        transformer = FeatureTransformer(columns)
        if not transformer.is_fitted:
            raise _unfitted_error(columns, who)
    elif not transformer.is_fitted:
        raise NotFittedError(f"{who}: the transformer is not fitted; call transformer.fit(train_df) first.")
    for c in columns:
        transformer.encoded_key(c)  # raises when the transformer does not know the column
    return transformer


def _sorted_columns(feature_columns: Sequence[FeatureColumn], who: str) -> list[FeatureColumn]:
    if isinstance(feature_columns, FeatureColumn):
        feature_columns = [feature_columns]
    columns = list(feature_columns)
    if not columns:
        raise FeatureColumnError(f"{who}: feature_columns is empty; give at least one column.")
    names: dict[str, FeatureColumn] = {}
    for c in columns:
        if not isinstance(c, FeatureColumn):
            raise FeatureColumnError(f"{who}: feature_columns must hold feature columns, got {c!r}.")
        if c.name in names:  # TF's check and message (the same column twice included)
            raise FeatureColumnError(
                f"Duplicate feature column name found for columns: {c!r} and {names[c.name]!r}. This usually "
                "means that these columns refer to same base feature. Either one must be discarded or a "
                f"duplicated but renamed item must be inserted in features dict. ({who}: name {c.name!r})"
            )
        names[c.name] = c
    return sorted(columns, key=lambda c: c.name)


class _FeatureLayer(nn.Module):
    """A layer over feature columns that may be built before its transformer is fitted (bound later)."""

    feature_columns: list[FeatureColumn]
    transformer: FeatureTransformer | None

    def _bind_now_or_later(self, transformer: FeatureTransformer | None) -> None:
        self.transformer = None
        transformer = transformer if transformer is not None else _default_transformer(self.feature_columns)
        if transformer is not None:
            self.bind(transformer)

    @property
    def is_bound(self) -> bool:
        """Whether the layer knows a fitted transformer (and so has its parameters)."""
        return self.transformer is not None

    def bind(self, transformer: FeatureTransformer) -> _FeatureLayer:
        """Attach the fitted ``transformer`` and create the parameters (once)."""
        if self.transformer is None:
            self.transformer = _resolve_transformer(self.feature_columns, transformer, type(self).__name__)
            self._build()
        return self

    def _bound(self) -> FeatureTransformer:
        if self.transformer is None:
            raise _unfitted_error(self.feature_columns, type(self).__name__)
        return self.transformer

    def _build(self) -> None:
        raise NotImplementedError


class DenseFeatures(_FeatureLayer):
    """TF's ``DenseFeatures`` / ``input_layer``: dense columns -> one float tensor ``(N, dense_width)``.

    Columns are concatenated in TF order (sorted by name): numeric values, one-hot bucketized values,
    indicator counts, embeddings (the module owns the embedding tables, shared ones once).

    Parameters
    ----------
    feature_columns : sequence of dense columns
        Numeric, bucketized, indicator, embedding or shared-embedding columns.
    transformer : FeatureTransformer, optional
        Fitted transformer that knows these columns; needed when a column learns state. Without it,
        stateless columns work directly on raw inputs, as in TF.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity, indicator_column, numeric_column
    >>> layer = DenseFeatures([numeric_column("x"), indicator_column(categorical_column_with_identity("h", 3))])
    >>> layer({"x": [0.5], "h": [2]}).tolist()
    [[0.0, 0.0, 1.0, 0.5]]
    """

    def __init__(self, feature_columns: Sequence[DenseColumn], transformer: FeatureTransformer | None = None) -> None:
        super().__init__()
        columns = _sorted_columns(feature_columns, "DenseFeatures")
        for c in columns:
            if not isinstance(c, DenseColumn):
                raise FeatureColumnError(
                    f"DenseFeatures: column {c.name!r} is categorical ({type(c).__name__}); wrap it with "
                    f"indicator_column(...) or embedding_column(..., dimension=8)."
                )
        self.feature_columns = columns
        self.embedding_weights = nn.ParameterDict()
        #: one op per column kind (``estlab.features.fused``); False: one block per column (the reference path)
        self.fused = True
        self._plan: Any = None
        #: tables whose columns name ``ckpt_to_load_from``, not yet read: table → (column, checkpoint, variable)
        self._checkpoint_tables: dict[str, tuple[str, str, str]] = {}
        self._bind_now_or_later(transformer)

    def bind(self, transformer: FeatureTransformer) -> DenseFeatures:
        """Attach the fitted ``transformer`` and create the embedding tables (once).

        A layer built without a transformer for columns that learn state (inside a custom ``model_fn``)
        is bound by the estimator after it fits the transformer on the training input.

        Examples
        --------
        >>> import pandas as pd
        >>> from estlab.features import categorical_column_with_learned_vocabulary, indicator_column
        >>> cols = [indicator_column(categorical_column_with_learned_vocabulary("c"))]
        >>> layer = DenseFeatures(cols)
        >>> layer.bind(FeatureTransformer(cols).fit(pd.DataFrame({"c": ["a", "b"]}))).output_width
        3
        """
        super().bind(transformer)
        return self

    def _build(self) -> None:
        transformer = self._bound()
        tables: list[Any] = [c for c in self.feature_columns if c.layer_role == "table"]
        table_buckets: dict[str, int] = {}
        for c in tables:
            nb = transformer.num_buckets(c.leaf)
            name = _param_name(c.table_name)
            if name in table_buckets:
                if table_buckets[name] != nb:
                    raise FeatureColumnError(
                        f"shared_embeddings {c.table_name!r}: all columns need the same number of buckets, "
                        f"got {table_buckets[name]} and {nb} ({c.leaf.name!r})."
                    )
                continue
            table_buckets[name] = nb
            table = torch.empty(nb, c.dimension)
            init = c.initializer or default_initializer(c.dimension)
            with torch.no_grad():
                init(table)
            self.embedding_weights[name] = nn.Parameter(table, requires_grad=c.trainable)
            if c.ckpt_to_load_from is not None:
                self._checkpoint_tables[name] = (c.name, c.ckpt_to_load_from, c.tensor_name_in_ckpt)
        self._plan = dense_plan(self.feature_columns, transformer, _param_name)

    def checkpoint_tables(self) -> dict[str, tuple[str, str, str]]:
        """Tables still waiting for their initial value from a checkpoint: ``{table: (column, path, variable)}``.

        Columns made with ``embedding_column(..., ckpt_to_load_from=..., tensor_name_in_ckpt=...)``. An
        estimator reads them when it builds the model (``estlab.estimators.embedding_checkpoints``) and
        then calls :meth:`checkpoint_tables_done`; until then the layer refuses to run.

        Examples
        --------
        >>> from estlab.features import categorical_column_with_identity, embedding_column
        >>> DenseFeatures([embedding_column(categorical_column_with_identity("h", 3), 2)]).checkpoint_tables()
        {}
        """
        return dict(getattr(self, "_checkpoint_tables", {}))

    def checkpoint_tables_done(self) -> None:
        """Mark the checkpoint tables as read (or as restored from the model's own checkpoint).

        Examples
        --------
        >>> from estlab.features import categorical_column_with_identity, embedding_column
        >>> DenseFeatures([embedding_column(categorical_column_with_identity("h", 3), 2)]).checkpoint_tables_done()
        """
        self._checkpoint_tables = {}

    @property
    def output_width(self) -> int:
        """Width of the output tensor."""
        return self._bound().width_of(self.feature_columns)

    def encode(self, features: Any) -> dict[str, torch.Tensor]:
        """Encoded dict for ``features`` (passed through when already encoded)."""
        return dict(features) if _is_encoded(features) else self._bound().transform(_as_data(features))

    def forward(self, features: Any) -> torch.Tensor:
        if getattr(self, "_checkpoint_tables", None):  # (a layer pickled by an older estlab has none)
            column, path, variable = next(iter(self._checkpoint_tables.values()))
            raise FeatureColumnError(
                f"DenseFeatures: embedding column {column!r} takes its initial table from checkpoint {path!r} "
                f"(variable {variable!r}), which has not been read: estimators read it when they build the model; "
                "a layer used on its own needs estlab.estimators.embedding_checkpoints.load_checkpoint_tables(layer) "
                "once after it is built."
            )
        encoded = self.encode(features)
        if self.fused and self._plan is not None:
            return dense_forward(self, self._plan, encoded)
        return self.forward_per_column(encoded)

    def forward_per_column(self, features: Any) -> torch.Tensor:
        """The output computed one block per column (the reference the fused forward matches)."""
        encoded = self.encode(features)
        blocks = [self._block(c, encoded) for c in self.feature_columns]
        return torch.cat(blocks, dim=1)

    def _block(self, column: FeatureColumn, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        key = self._bound().encoded_key(column)
        if key not in encoded:
            raise FeatureColumnError(f"DenseFeatures: encoded features lack {key!r} (column {column.name!r}); "
                                     f"got keys {sorted(encoded)}.")
        value = encoded[key]
        if value.dim() == 1:  # a hand-made (N,) tensor: one value per row
            value = value.unsqueeze(1)
        value = column.leaf.tensor_stage(value, self._bound()._fitted)  # normalizer_fn runs here, as in TF
        return _DENSE_BLOCKS[column.layer_role](self, column, value, encoded.get(key + WEIGHTS_SUFFIX))

    def _values_block(self, column: FeatureColumn, value: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        return value.reshape(value.shape[0], -1).float()

    def _multi_hot_block(self, column: FeatureColumn, value: torch.Tensor,
                         weights: torch.Tensor | None) -> torch.Tensor:
        width = self._bound().num_buckets(column)
        mask = value >= 0
        w = mask.float() if weights is None else weights.float() * mask
        out = torch.zeros(value.shape[0], width, dtype=torch.float32, device=value.device)
        return out.scatter_add_(1, value.clamp(min=0), w)

    def _table_block(self, column: Any, value: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        table = self.embedding_weights[_param_name(column.table_name)]
        return combine_embeddings(table, value, weights, column.combiner, column.max_norm)


#: how ``DenseFeatures`` turns each layer role's encoding into a float block
_DENSE_BLOCKS: dict[str, Callable[..., torch.Tensor]] = {
    "values": DenseFeatures._values_block,
    "ids": DenseFeatures._multi_hot_block,
    "table": DenseFeatures._table_block,
}


def _as_data(features: Any) -> Any:
    if isinstance(features, pd.DataFrame):
        return features
    if isinstance(features, Mapping):
        return dict(features)
    raise FeatureColumnError(
        f"features must be a DataFrame, a dict of raw values, or an encoded dict of tensors; got "
        f"{type(features).__name__}."
    )


class LinearFeatures(_FeatureLayer):
    """TF's ``linear_model``: a weight per numeric value and per categorical id, summed -> ``(N, units)``.

    Numeric columns get a ``(width, units)`` kernel; categorical, bucketized, crossed, weighted and
    indicator columns get a ``(num_buckets, units)`` table combined with ``sparse_combiner`` (``"sum"``
    by default, as in TF); embedding columns feed their vectors through a kernel. Weights start at zero,
    as in TF; ``use_bias`` adds a bias (TF's ``bias_weights``).

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity, numeric_column
    >>> lin = LinearFeatures([numeric_column("x"), categorical_column_with_identity("h", 3)], units=2)
    >>> lin({"x": [1.0], "h": [0]}).shape
    torch.Size([1, 2])
    """

    def __init__(
        self,
        feature_columns: Sequence[FeatureColumn],
        transformer: FeatureTransformer | None = None,
        units: int = 1,
        use_bias: bool = True,
        sparse_combiner: str = "sum",
    ) -> None:
        super().__init__()
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise FeatureColumnError(f"LinearFeatures: units must be a positive integer, got {units!r}.")
        if sparse_combiner not in COMBINERS:
            raise FeatureColumnError(f"LinearFeatures: sparse_combiner must be one of {COMBINERS}, "
                                     f"got {sparse_combiner!r}.")
        columns = _sorted_columns(feature_columns, "LinearFeatures")
        self.feature_columns = columns
        self.units = units
        self.sparse_combiner = sparse_combiner
        self.use_bias = use_bias
        self.weights = nn.ParameterDict()
        self.embeddings: DenseFeatures | None = None
        self.bias: nn.Parameter | None = None
        #: id columns summed by one ``embedding_bag`` (``"sum"`` combiner); False: one lookup per column
        self.fused = True
        self._plan: Any = None
        self._bind_now_or_later(transformer)

    def bind(self, transformer: FeatureTransformer) -> LinearFeatures:
        """Attach the fitted ``transformer`` and create the weights (once); see :meth:`DenseFeatures.bind`.

        Examples
        --------
        >>> import pandas as pd
        >>> from estlab.features import categorical_column_with_learned_vocabulary
        >>> cols = [categorical_column_with_learned_vocabulary("c")]
        >>> lin = LinearFeatures(cols).bind(FeatureTransformer(cols).fit(pd.DataFrame({"c": ["a", "b"]})))
        >>> lin.weights["c"].shape
        torch.Size([3, 1])
        """
        super().bind(transformer)
        return self

    def _build(self) -> None:
        columns, units = self.feature_columns, self.units
        transformer = self._bound()
        embedded: list[Any] = [c for c in columns if c.layer_role == "table"]
        self.embeddings = DenseFeatures(embedded, transformer) if embedded else None
        for c in columns:
            # ids: one weight row per id; values and embeddings: a kernel over their dense width
            rows = transformer.num_buckets(c) if c.layer_role == "ids" else transformer.column_width(c)
            self.weights[_param_name(c.name)] = nn.Parameter(torch.zeros(rows, units))
        self.bias = nn.Parameter(torch.zeros(units)) if self.use_bias else None
        plan = linear_plan(columns, transformer, _param_name)
        small = plan.rows * units <= MAX_FUSED_ROWS * 8  # the weights are concatenated every step
        self._plan = plan if plan.slots and small and self.sparse_combiner == "sum" else None
        # numeric ("values") columns: one matmul of their concatenated values by their stacked kernels
        values = [c for c in columns if c.layer_role == "values"]
        self._values_block = values if len(values) > 1 else []

    def forward(self, features: Any) -> torch.Tensor:
        transformer = self._bound()
        encoded = features if _is_encoded(features) else transformer.transform(_as_data(features))
        n = next(iter(encoded.values())).shape[0]
        device = next(iter(encoded.values())).device
        plan = self._plan if self.fused else None
        if plan is not None:
            for s in plan.slots:
                if s.key not in encoded:
                    raise FeatureColumnError(f"LinearFeatures: encoded features lack {s.key!r} (column "
                                             f"{s.column.name!r}); got keys {sorted(encoded)}.")
            out = linear_ids_sum(plan, self.weights, encoded, transformer._fitted, n)
        else:
            out = torch.zeros(n, self.units, device=device)
        block = self._values_block if self.fused else []
        if block:
            values = [c.leaf.tensor_stage(encoded[transformer.encoded_key(c)], transformer._fitted).reshape(n, -1)
                      for c in block]
            kernels = torch.cat([self.weights[_param_name(c.name)] for c in block])
            out = out + torch.cat(values, dim=1).float() @ kernels
        for c in self.feature_columns:
            if (c.layer_role == "values" and block) or (c.layer_role == "ids" and plan is not None):
                continue  # in the fused block / the fused lookup above
            kernel = self.weights[_param_name(c.name)]
            if c.layer_role == "ids":
                key = transformer.encoded_key(c)
                ids = encoded[key] if encoded[key].dim() == 2 else encoded[key].reshape(n, -1)
                ids = c.leaf.tensor_stage(ids, transformer._fitted)
                out = out + combine_embeddings(kernel, ids, encoded.get(key + WEIGHTS_SUFFIX), self.sparse_combiner)
            elif c.layer_role == "table":
                assert self.embeddings is not None
                out = out + self.embeddings._block(c, encoded) @ kernel
            else:  # values
                value = c.leaf.tensor_stage(encoded[transformer.encoded_key(c)], transformer._fitted)
                out = out + value.reshape(n, -1).float() @ kernel
        return out + self.bias if self.bias is not None else out


def bind_feature_layers(module: nn.Module, transformer: FeatureTransformer) -> int:
    """Bind ``transformer`` into every unbound :class:`DenseFeatures` / :class:`LinearFeatures` in ``module``.

    Returns how many layers were bound. Estimators call this after fitting, before creating optimizers.

    Examples
    --------
    >>> import pandas as pd
    >>> from estlab.features import numeric_column
    >>> cols = [numeric_column("x", normalizer="zscore")]
    >>> net = nn.Sequential(DenseFeatures(cols), nn.Linear(1, 1))
    >>> bind_feature_layers(net, FeatureTransformer(cols).fit(pd.DataFrame({"x": [1.0, 3.0]})))
    1
    """
    layers = [m for m in module.modules() if isinstance(m, _FeatureLayer) and not m.is_bound]
    for layer in layers:
        layer.bind(transformer)
    return len(layers)


def input_layer(
    features: Any, feature_columns: Sequence[DenseColumn], transformer: FeatureTransformer | None = None
) -> torch.Tensor:
    """TF's ``input_layer``: raw or encoded features -> ``(N, width)`` float tensor, columns sorted by name.

    Embedding tables are created fresh on each call (use :class:`DenseFeatures` in a model to train them).

    Examples
    --------
    >>> from estlab.features import bucketized_column, numeric_column
    >>> input_layer({"x": [5.0]}, [bucketized_column(numeric_column("x"), [0.0, 10.0])]).tolist()
    [[0.0, 1.0, 0.0]]
    """
    return DenseFeatures(feature_columns, transformer)(features)


__all__ = ["DenseFeatures", "LinearFeatures", "bind_feature_layers", "combine_embeddings", "input_layer"]
