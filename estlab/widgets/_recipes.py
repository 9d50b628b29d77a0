"""The lab's per-column transforms, as feature-column specs.

A transform name (``"zscore"``, ``"bucketized"``, ...) and a size make one column spec
(:func:`make_column`); a new size changes the spec with ``dataclasses.replace`` (:func:`resize`); and
:func:`choice_of` finds the transform that makes a given spec (how the lab shows an inferred column).
The specs render their own source (``column.to_source()``), so "Show code" always matches the columns.
Torch-free.

Examples
--------
>>> make_column("bucketized", "age", 4).to_source()
"fc.bucketized_column(fc.numeric_column('age'), 'quantiles:4')"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from estlab.features import (
    FeatureColumn,
    bucketized_column,
    categorical_column_with_hash_bucket,
    categorical_column_with_learned_vocabulary,
    crossed_column,
    embedding_column,
    indicator_column,
    numeric_column,
)

NUMERIC_TRANSFORMS = ("zscore", "minmax", "raw", "bucketized", "drop")
CATEGORICAL_TRANSFORMS = ("indicator", "embedding", "hash_bucket", "drop")
#: The transforms offered per column kind (:func:`column_kind`): what the feature columns encode for that dtype.
TRANSFORMS_BY_KIND: dict[str, tuple[str, ...]] = {
    "numeric": NUMERIC_TRANSFORMS,
    "integer": ("zscore", "minmax", "raw", "bucketized", "indicator", "embedding", "hash_bucket", "drop"),
    "boolean": ("raw", "indicator", "drop"),
    "datetime": ("zscore", "minmax", "bucketized", "drop"),
    "categorical": CATEGORICAL_TRANSFORMS,
}
#: An integer column with at most this many distinct values is read as category codes by default.
INT_CATEGORY_MAX = 10
#: What the size box means for each transform (None: no size).
SIZE_MEANING = {"bucketized": "buckets", "embedding": "dim", "hash_bucket": "buckets"}
DEFAULT_SIZE = {"bucketized": 10, "embedding": 8, "hash_bucket": 100}

_MAKERS: dict[str, Callable[[str, Any, Any], FeatureColumn | None]] = {
    "zscore": lambda key, size, default: numeric_column(key, default_value=default, normalizer="zscore"),
    "minmax": lambda key, size, default: numeric_column(key, default_value=default, normalizer="minmax"),
    "raw": lambda key, size, default: numeric_column(key, default_value=default),
    "bucketized": lambda key, size, default: bucketized_column(numeric_column(key, default_value=default),
                                                               f"quantiles:{size}"),
    "indicator": lambda key, size, default: indicator_column(categorical_column_with_learned_vocabulary(key)),
    "embedding": lambda key, size, default: embedding_column(categorical_column_with_learned_vocabulary(key),
                                                             dimension=size),
    "hash_bucket": lambda key, size, default: indicator_column(
        categorical_column_with_hash_bucket(key, hash_bucket_size=size)),
    "drop": lambda key, size, default: None,
}

#: a sized transform's spec with a new size (``dataclasses.replace``: the spec's other choices stay)
_RESIZE: dict[str, Callable[[Any, int], FeatureColumn]] = {
    "bucketized": lambda column, n: replace(column, boundaries=f"quantiles:{n}"),
    "embedding": lambda column, n: replace(column, dimension=n),
    "hash_bucket": lambda column, n: replace(
        column, categorical_column=replace(column.categorical_column, hash_bucket_size=n)),
}

#: the size a sized transform's spec holds (None when the spec is of another shape)
_SIZE_OF: dict[str, Callable[[Any], int | None]] = {
    "bucketized": lambda column: _quantiles(getattr(column, "boundaries", None)),
    "embedding": lambda column: getattr(column, "dimension", None),
    "hash_bucket": lambda column: getattr(getattr(column, "leaf", None), "hash_bucket_size", None),
}


def column_kind(series: pd.Series) -> str:
    """``"boolean"``, ``"datetime"``, ``"integer"``, ``"numeric"`` or ``"categorical"``: which transforms apply.

    Examples
    --------
    >>> column_kind(pd.Series([True, None], dtype="boolean")), column_kind(pd.Series([1, 2], dtype="Int64"))
    ('boolean', 'integer')
    >>> column_kind(pd.Series(pd.to_datetime(["2024-01-01"]))), column_kind(pd.Series(["a"]))
    ('datetime', 'categorical')
    """
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return "datetime"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def hash_bucket_size(distinct: int) -> int:
    """Hash buckets for ``distinct`` values: the power of two at or above twice as many (few collisions), >= 16.

    Examples
    --------
    >>> hash_bucket_size(3), hash_bucket_size(100), hash_bucket_size(5000)
    (16, 256, 16384)
    """
    return int(min(1 << 20, max(16, 1 << max(0, 2 * int(distinct) - 1).bit_length())))


def embedding_dimension(distinct: int) -> int:
    """The usual rule of thumb for an embedding's size: ``round(1.6 * distinct ** 0.56)``, between 2 and 50.

    Examples
    --------
    >>> embedding_dimension(9), embedding_dimension(40), embedding_dimension(100_000)
    (5, 13, 50)
    """
    return int(min(50, max(2, round(1.6 * max(int(distinct), 1) ** 0.56))))


def _quantiles(boundaries: object) -> int | None:
    head, _, tail = boundaries.partition(":") if isinstance(boundaries, str) else ("", "", "")
    return int(tail) if head == "quantiles" and tail.isdigit() else None


def make_column(transform: str, key: str, size: int | None = None,
                default_value: float | None = None) -> FeatureColumn | None:
    """The feature column of ``transform`` for frame column ``key`` (None for ``"drop"``).

    Parameters
    ----------
    transform : str
        One of ``NUMERIC_TRANSFORMS`` or ``CATEGORICAL_TRANSFORMS``.
    key : str
        The frame column.
    size : int, optional
        Buckets or embedding dimension, for the transforms in ``SIZE_MEANING``.
    default_value : float, optional
        Fills missing values of numeric transforms.

    Examples
    --------
    >>> make_column("zscore", "age", default_value=38.0).to_source()
    "fc.numeric_column('age', default_value=38.0, normalizer='zscore')"
    """
    if transform not in _MAKERS:
        valid = sorted(_MAKERS)
        raise ValueError(f"transform: unknown {transform!r} for column {key!r}; valid ones are {valid}")
    return _MAKERS[transform](key, size, default_value)


def resize(column: FeatureColumn | None, transform: str, size: int) -> FeatureColumn | None:
    """``column`` (made by ``transform``) with a new size; unchanged when the transform has no size.

    Examples
    --------
    >>> resize(make_column("embedding", "c", 8), "embedding", 4).dimension
    4
    """
    return _RESIZE[transform](column, size) if transform in _RESIZE and column is not None else column


def choice_of(column: FeatureColumn | None, key: str, default_value: float | None = None) -> tuple[str, int | None]:
    """The transform and size that make ``column`` for ``key`` (``("drop", None)`` when none does).

    Examples
    --------
    >>> from estlab import feature_column as fc
    >>> choice_of(fc.embedding_column(fc.categorical_column_with_learned_vocabulary("c"), 6), "c")
    ('embedding', 6)
    """
    for transform in (*NUMERIC_TRANSFORMS, *CATEGORICAL_TRANSFORMS):
        size = _SIZE_OF[transform](column) if transform in _SIZE_OF else None
        if transform in _SIZE_OF and size is None:
            continue
        if make_column(transform, key, size, default_value) == column:
            return transform, size
    return "drop", None


def cross_column(keys: tuple[str, ...], hash_bucket_size: int, dense: bool) -> FeatureColumn:
    """A crossed column (wrapped in an indicator for dense consumers).

    Examples
    --------
    >>> cross_column(("a", "b"), 100, dense=False).to_source()
    "fc.crossed_column(['a', 'b'], hash_bucket_size=100)"
    """
    cross = crossed_column(list(keys), hash_bucket_size=hash_bucket_size)
    return indicator_column(cross) if dense else cross
