"""The boosted trees' input matrix: feature columns read the way TF's BoostedTrees read them.

One float64 matrix ``(N, F)``, columns in TF order (sorted by name), each column giving:

| column | features | LightGBM reads it as |
|---|---|---|
| ``numeric_column`` (shape ``k``) | ``k``: the values (after ``normalizer_fn``) | numerical |
| ``bucketized_column`` (shape ``k``), bare or in ``indicator_column`` | ``k``: the bucket index ``0..len(boundaries)`` | numerical (ordered buckets: splits fall between buckets) |
| ``indicator_column`` of a categorical column, or the bare categorical column | 1: the id (``-1`` = no id) | categorical |
| ``indicator_column`` of a ``weighted_categorical_column`` | ``num_buckets``: the summed weights of each id | numerical |

The module reads the encoded dict directly (``transformer.encoded_key``): a bucketized column's encoding is its
bucket ids (element ``e`` offset by ``e * (len(boundaries) + 1)``, or source values turned into ids by its
``tensor_stage``), a categorical column's its ids. A categorical column holding several ids in a row cannot be
one categorical feature and is refused with a message; a weighted one keeps ``DenseFeatures``' counts.

Examples
--------
>>> import pandas as pd
>>> from estlab import feature_column as fc
>>> from estlab.features import FeatureTransformer
>>> cols = [fc.bucketized_column(fc.numeric_column("x"), [0.0, 1.0]),
...         fc.indicator_column(fc.categorical_column_with_vocabulary_list("s", ["a", "b"]))]
>>> frame = pd.DataFrame({"x": [-1.0, 0.5, 3.0], "s": ["b", "a", "z"]})
>>> layer = TreeFeatures(cols, FeatureTransformer(cols).fit(frame))
>>> layer(layer.transformer.transform(frame)).tolist()
[[1.0, 0.0], [0.0, 1.0], [-1.0, 2.0]]
>>> layer.layout()
[('s', 'categorical'), ('x_bucketized', 'bucketized')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

#: a checkpoint's marker that its trees read this layout (absent: the one-hot ``DenseFeatures`` layout)
LAYOUT_VERSION = 2


@dataclass(frozen=True)
class _Slot:
    """How one feature column becomes features: ``kind`` (numeric, bucketized, categorical, counts), width."""

    column: Any
    name: str
    key: str
    kind: str
    width: int
    buckets: int = 0  # bucketized: buckets per element; counts: num_buckets


def _column_name(column: Any) -> str:
    """TF's name for a column in importances and explanations: an indicator answers with its categorical's name.

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> _column_name(fc.indicator_column(fc.categorical_column_with_identity("h", 3)))
    'h'
    """
    categorical = getattr(column, "categorical_column", None)
    return str(categorical.name) if categorical is not None else str(column.name)


def _slot(column: Any, transformer: Any) -> _Slot:
    from estlab.features import BucketizedColumn, CategoricalColumn, WeightedCategoricalColumn

    leaf = column.leaf
    key = transformer.encoded_key(column)
    name = _column_name(column)
    if isinstance(leaf, BucketizedColumn):
        elements = leaf.source_column.num_elements
        return _Slot(column, name, key, "bucketized", elements, len(transformer.boundaries(leaf)) + 1)
    if isinstance(leaf, WeightedCategoricalColumn):
        buckets = transformer.num_buckets(leaf)
        return _Slot(column, name, key, "counts", buckets, buckets)
    if isinstance(leaf, CategoricalColumn):
        return _Slot(column, name, key, "categorical", 1, transformer.num_buckets(leaf))
    if column.layer_role != "values":
        raise ValueError(f"boosted trees cannot read column {column.name!r} ({type(column).__name__}); use "
                         "numeric, bucketized, categorical or indicator columns.")
    return _Slot(column, name, key, "numeric", int(transformer.column_width(column)))


class TreeFeatures(nn.Module):
    """Encoded features → the trees' ``(N, F)`` float64 input (see the module docstring for the layout).

    Parameters
    ----------
    feature_columns : sequence of columns
        Numeric, bucketized, categorical and indicator columns (sorted by name here, as TF does).
    transformer : FeatureTransformer
        The fitted transformer that knows these columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from estlab import feature_column as fc
    >>> from estlab.features import FeatureTransformer
    >>> cols = [fc.numeric_column("x")]
    >>> TreeFeatures(cols, FeatureTransformer(cols).fit(pd.DataFrame({"x": [1.0]}))).names()
    ['x']
    """

    layout_version: torch.Tensor

    def __init__(self, feature_columns: Any, transformer: Any) -> None:
        super().__init__()
        self.feature_columns = sorted(feature_columns, key=lambda c: c.name)
        self.transformer = transformer
        self.slots = [_slot(c, transformer) for c in self.feature_columns]
        self.register_buffer("layout_version", torch.tensor(LAYOUT_VERSION, dtype=torch.int64))
        self.dense: nn.Module | None = None  # set when a checkpoint of the one-hot layout is loaded

    def names(self) -> list[str]:
        """The feature column name of every output feature (repeated for multi-feature columns)."""
        if self.dense is not None:
            return [_column_name(c) for c in self.feature_columns
                    for _ in range(int(self.transformer.column_width(c)))]
        return [slot.name for slot in self.slots for _ in range(slot.width)]

    def layout(self) -> list[tuple[str, str]]:
        """``(feature column name, kind)`` per column, in output order (kind: numeric, bucketized, ...)."""
        return [(slot.name, slot.kind) for slot in self.slots]

    def categorical_features(self) -> list[int]:
        """Output positions LightGBM reads as categorical (``categorical_feature``); none in the one-hot layout."""
        if self.dense is not None:
            return []
        positions, start = [], 0
        for slot in self.slots:
            if slot.kind == "categorical":
                positions.append(start)
            start += slot.width
        return positions

    def max_bins(self, numeric_bins: int) -> list[int]:
        """LightGBM's ``max_bin_by_feature``: every bucket and id its own bin, ``numeric_bins`` for values.

        A bucketized feature gets one bin per bucket (``len(boundaries) + 1``) and a categorical feature one
        per id (plus one for "no id"), so no two buckets or ids share a bin (TF splits between any two
        buckets); numeric values and per-id counts get ``numeric_bins`` (TF's ``1 / quantile_sketch_epsilon``
        quantile buckets). Every entry is at least 2, LightGBM's minimum.

        Examples
        --------
        >>> import pandas as pd
        >>> from estlab import feature_column as fc
        >>> from estlab.features import FeatureTransformer
        >>> cols = [fc.numeric_column("a"), fc.bucketized_column(fc.numeric_column("b"), [0.0, 1.0])]
        >>> frame = pd.DataFrame({"a": [1.0], "b": [0.5]})
        >>> TreeFeatures(cols, FeatureTransformer(cols).fit(frame)).max_bins(100)
        [100, 3]
        """
        if self.dense is not None:  # the one-hot layout of older checkpoints: 0/1 and numeric values
            return [max(2, int(numeric_bins))] * len(self.names())
        bins = {"numeric": int(numeric_bins), "counts": int(numeric_bins)}
        out: list[int] = []
        for slot in self.slots:
            per = slot.buckets + 1 if slot.kind == "categorical" else bins.get(slot.kind, slot.buckets)
            out.extend([max(2, per)] * slot.width)
        return out

    def forward(self, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.dense is not None:
            return self.dense(encoded).to(torch.float64)
        return torch.cat([self._block(slot, encoded) for slot in self.slots], dim=1)

    def _block(self, slot: _Slot, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        if slot.key not in encoded:
            raise ValueError(f"boosted trees: encoded features lack {slot.key!r} (column {slot.column.name!r}); "
                             f"got keys {sorted(encoded)}.")
        value = encoded[slot.key]
        if value.dim() == 1:
            value = value.unsqueeze(1)
        value = slot.column.leaf.tensor_stage(value, self.transformer._fitted)
        n = value.shape[0]
        if slot.kind == "numeric":
            return value.reshape(n, -1).to(torch.float64)
        if slot.kind == "bucketized":  # ids of element e are offset by e * buckets
            offsets = torch.arange(slot.width, dtype=torch.int64, device=value.device) * slot.buckets
            return (value.reshape(n, slot.width) - offsets).to(torch.float64)
        if slot.kind == "categorical":
            if value.shape[1] != 1:
                raise ValueError(
                    f"boosted trees read categorical column {slot.column.name!r} as one categorical feature "
                    f"(one id per row, as TF's trees), but its rows hold up to {value.shape[1]} ids; give one "
                    "value per row, or a weighted_categorical_column (read as per-id counts).")
            return value.to(torch.float64)
        from estlab.features.transformer import WEIGHTS_SUFFIX

        weights = encoded.get(slot.key + WEIGHTS_SUFFIX)  # counts: DenseFeatures' multi-hot sums
        mask = value >= 0
        w = mask.to(torch.float64) if weights is None else weights.to(torch.float64) * mask
        out = torch.zeros(n, slot.buckets, dtype=torch.float64, device=value.device)
        return out.scatter_add_(1, value.clamp(min=0), w)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        legacy = prefix + "layout_version" not in state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if legacy:  # trees trained on DenseFeatures' one-hot matrix (before this layout): read that matrix
            from estlab.features import DenseFeatures

            self.dense = DenseFeatures(self.feature_columns, self.transformer)
            if prefix + "layout_version" in missing_keys:
                missing_keys.remove(prefix + "layout_version")
