"""Numeric and bucketized columns.

Examples
--------
>>> age = numeric_column("age", normalizer="zscore")
>>> bucketized_column(numeric_column("age"), [18, 65]).name
'age_bucketized'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from estlab.features._base import CategoricalColumn, DenseColumn, check_key
from estlab.features.errors import FeatureColumnError
from estlab.features.shorthands import resolve_boundaries, resolve_normalizer


@dataclass(frozen=True)
class NumericColumn(DenseColumn):
    """Spec of :func:`numeric_column`; encodes to float32 ``(N, *shape)``.

    Examples
    --------
    >>> numeric_column("age", shape=2).num_elements
    2
    """

    key: str
    shape: tuple[int, ...] = (1,)
    default_value: float | tuple[float, ...] | None = None
    dtype: torch.dtype = torch.float32
    normalizer_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    normalizer: str | None = None

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def needs_fit(self) -> bool:
        return self.normalizer is not None

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)


def numeric_column(
    key: str,
    shape: int | Sequence[int] = (1,),
    default_value: float | Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
    normalizer_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalizer: str | None = None,
) -> NumericColumn:
    """Real-valued feature, as ``tf.feature_column.numeric_column``, plus a learned ``normalizer``.

    Parameters
    ----------
    key : str
        Column of the input frame.
    shape : int or tuple of int
        Per-row shape; the encoded tensor is ``(N, *shape)`` float32.
    default_value : float or tuple, optional
        Replaces missing values (NaN/None). Without it a missing value raises an error naming the column.
    dtype : torch.dtype
        Accepted for TF compatibility (must be a floating or integer dtype); encodings are float32.
    normalizer_fn : callable, optional
        Applied to the float tensor after ``default_value`` (and after ``normalizer``), as in TF.
    normalizer : {"zscore", "minmax", None}
        Learned from the training frame by ``FeatureTransformer.fit``.

    Examples
    --------
    >>> numeric_column("age", default_value=0.0).name
    'age'
    """
    key = check_key(key, "numeric_column")
    shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
    if not shape_t or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape_t):
        raise FeatureColumnError(
            f"numeric_column {key!r}: shape must be a positive int or tuple of positive ints, got {shape!r}."
        )
    if default_value is not None and not isinstance(default_value, (int, float)):
        default_value = tuple(float(v) for v in default_value)
        if len(default_value) != math.prod(shape_t):
            raise FeatureColumnError(
                f"numeric_column {key!r}: default_value has {len(default_value)} values but shape {shape_t} "
                f"needs {math.prod(shape_t)}; pass one scalar or a sequence of that length."
            )
    elif default_value is not None:
        default_value = float(default_value)
    if not isinstance(dtype, torch.dtype) or dtype == torch.bool or dtype.is_complex:
        raise FeatureColumnError(
            f"numeric_column {key!r}: dtype must be a floating or integer torch dtype, got {dtype!r}."
        )
    if normalizer_fn is not None and not callable(normalizer_fn):
        raise FeatureColumnError(f"numeric_column {key!r}: normalizer_fn must be callable, got {normalizer_fn!r}.")
    normalizer = resolve_normalizer(normalizer, key)
    return NumericColumn(key, shape_t, default_value, dtype, normalizer_fn, normalizer)


@dataclass(frozen=True)
class BucketizedColumn(DenseColumn, CategoricalColumn):
    """Spec of :func:`bucketized_column`; ids ``(N, num_elements)``, one-hot in ``DenseFeatures``.

    Examples
    --------
    >>> bucketized_column(numeric_column("age"), "quantiles:4").needs_fit
    True
    """

    source_column: NumericColumn
    boundaries: tuple[float, ...] | str

    @property
    def name(self) -> str:
        return f"{self.source_column.name}_bucketized"

    @property
    def parents(self) -> tuple[NumericColumn]:
        return (self.source_column,)

    @property
    def needs_fit(self) -> bool:
        return isinstance(self.boundaries, str)


def bucketized_column(source_column: NumericColumn, boundaries: Sequence[float] | str) -> BucketizedColumn:
    """Discretise a numeric column with TF's edges ``(-inf, b0), [b0, b1), ..., [bn, +inf)``.

    Parameters
    ----------
    source_column : NumericColumn
        The numeric column to bucketize (its default value and normalizers apply first, as in TF).
    boundaries : sequence of float, or ``"quantiles:N"``
        Strictly increasing edges, or ``"quantiles:N"`` to learn ``N`` buckets from the training frame's
        quantiles (duplicate edges from ties are merged, so fewer buckets may result).

    Examples
    --------
    >>> col = bucketized_column(numeric_column("age"), [18, 35, 65])
    >>> col.name
    'age_bucketized'
    """
    if not isinstance(source_column, NumericColumn):
        raise FeatureColumnError(
            f"bucketized_column: source_column must be a numeric_column, got {source_column!r}. "
            "Wrap the key first: bucketized_column(numeric_column('age'), [18, 65])."
        )
    name = source_column.name
    if isinstance(boundaries, str):
        resolve_boundaries(boundaries, name)
        return BucketizedColumn(source_column, boundaries)
    try:
        bounds = tuple(float(b) for b in boundaries)
    except (TypeError, ValueError):
        raise FeatureColumnError(
            f"bucketized_column {name!r}: boundaries must be a sorted list of numbers or 'quantiles:N', "
            f"got {boundaries!r}."
        ) from None
    if not bounds:
        raise FeatureColumnError(f"bucketized_column {name!r}: boundaries is empty; give at least one edge.")
    for a, b in zip(bounds, bounds[1:]):
        if not a < b:
            what = "duplicate" if a == b else "unsorted"
            raise FeatureColumnError(
                f"bucketized_column {name!r}: boundaries must be strictly increasing, got {what} edges "
                f"{a!r} then {b!r} in {list(bounds)}. Sort them and drop duplicates: sorted(set(boundaries))."
            )
    return BucketizedColumn(source_column, bounds)
