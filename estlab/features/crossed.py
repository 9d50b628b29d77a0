"""Crossed columns: hashed conjunctions of several categorical features.

Examples
--------
>>> crossed_column(["education", "occupation"], 1000).name
'education_X_occupation'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from estlab.features._base import CategoricalColumn, check_positive_int
from estlab.features.categorical import HashedColumn, WeightedCategoricalColumn
from estlab.features.errors import FeatureColumnError


@dataclass(frozen=True)
class CrossedColumn(CategoricalColumn):
    """Spec of :func:`crossed_column`.

    Examples
    --------
    >>> crossed_column(["b", "a"], 10).keys
    ('b', 'a')
    """

    keys: tuple[str | CategoricalColumn, ...]
    hash_bucket_size: int
    hash_key: int | None = None

    @property
    def name(self) -> str:
        return "_X_".join(sorted(k if isinstance(k, str) else k.name for k in self.keys))

    @property
    def parents(self) -> tuple[str | CategoricalColumn, ...]:
        return self.keys


def crossed_column(
    keys: Sequence[str | CategoricalColumn], hash_bucket_size: int, hash_key: int | None = None
) -> CrossedColumn:
    """Cross several features, as in TF: ids ``hash(v1, v2, ...) % hash_bucket_size``.

    ``keys`` are raw keys (their string values are hashed) or categorical columns (their ids are
    crossed), e.g. a bucketized column. Multi-valued inputs cross as the Cartesian product of the row's
    values; a missing component gives no id (``-1``). The hash is stable across processes.

    Examples
    --------
    >>> from estlab.features import bucketized_column, numeric_column
    >>> age = bucketized_column(numeric_column("age"), [30, 50])
    >>> crossed_column([age, "education"], 100).name
    'age_bucketized_X_education'
    """
    if isinstance(keys, (str, CategoricalColumn)) or len(keys) < 2:
        raise FeatureColumnError(
            f"crossed_column: keys must be a list of at least two keys or categorical columns, got {keys!r}."
        )
    for k in keys:
        if isinstance(k, (HashedColumn, WeightedCategoricalColumn)):
            raise FeatureColumnError(
                f"crossed_column: {type(k).__name__} {k.name!r} can't be crossed (hashing before crossing "
                f"adds collisions); pass the raw key {k.name!r} instead."
            )
        if not isinstance(k, (str, CategoricalColumn)):
            raise FeatureColumnError(
                f"crossed_column: each key must be a string or a categorical column, got {k!r}."
            )
    name = "_X_".join(sorted(k if isinstance(k, str) else k.name for k in keys))
    check_positive_int(hash_bucket_size, "hash_bucket_size", name)
    return CrossedColumn(tuple(keys), hash_bucket_size, hash_key)
