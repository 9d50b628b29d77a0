"""Dense wrappers of categorical columns: indicator, embedding and shared embeddings.

Examples
--------
>>> from estlab.features import categorical_column_with_identity
>>> indicator_column(categorical_column_with_identity("hour", 24)).name
'hour_indicator'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from estlab.features._base import (
    CategoricalColumn,
    DenseColumn,
    changed,
    check_categorical,
    check_positive_int,
    source_call,
)
from estlab.features.encode import Fitted
from estlab.features.errors import FeatureColumnError

COMBINERS = ("mean", "sqrtn", "sum")

#: an embedding table initializer: fills a ``(num_buckets, dimension)`` tensor in place
Initializer = Callable[[Any], object]


@dataclass(frozen=True)
class IndicatorColumn(DenseColumn):
    """Spec of :func:`indicator_column`.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> indicator_column(ident("h", 3)).categorical_column.name
    'h'
    """

    kind: ClassVar[str] = "indicator"
    layer_role: ClassVar[str] = "ids"

    categorical_column: CategoricalColumn

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_indicator"

    @property
    def parents(self) -> tuple[CategoricalColumn]:
        return (self.categorical_column,)

    @property
    def leaf(self) -> CategoricalColumn:
        return self.categorical_column

    def bucket_count(self, fitted: Fitted) -> int:
        return self.categorical_column.bucket_count(fitted)

    def dense_width(self, fitted: Fitted) -> int:
        return self.bucket_count(fitted)

    def state_text(self, fitted: Fitted) -> str:
        return f"width {self.bucket_count(fitted)} (counts of {fitted.ids.get(self.leaf, self.leaf.name)!r} ids)"

    def to_source(self) -> str:
        return source_call("indicator_column", self.categorical_column)


def indicator_column(categorical_column: CategoricalColumn) -> IndicatorColumn:
    """Multi-hot ``(N, num_buckets)`` counts of a categorical column's ids, as in TF.

    A repeated id counts twice; with a weighted column the weights are summed; ``-1`` adds nothing.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_vocabulary_list as vocab
    >>> indicator_column(vocab("color", ["red", "blue"])).name
    'color_indicator'
    """
    return IndicatorColumn(check_categorical(categorical_column, "indicator_column"))


def _check_embedding_args(name: str, dimension: int, combiner: str, initializer: object, max_norm: object) -> None:
    check_positive_int(dimension, "dimension", name)
    if combiner not in COMBINERS:
        raise FeatureColumnError(f"column {name!r}: combiner must be one of {COMBINERS}, got {combiner!r}.")
    if initializer is not None and not callable(initializer):
        raise FeatureColumnError(
            f"column {name!r}: initializer must be a callable that fills a tensor in place "
            f"(e.g. torch.nn.init.zeros_), got {initializer!r}."
        )
    if max_norm is not None and (not isinstance(max_norm, (int, float)) or max_norm <= 0):
        raise FeatureColumnError(f"column {name!r}: max_norm must be a positive number or None, got {max_norm!r}.")


class _EmbeddingKind(DenseColumn):
    """What embedding kinds share: ids of ``categorical_column`` looked up in a ``table_name`` table."""

    layer_role: ClassVar[str] = "table"

    categorical_column: CategoricalColumn
    dimension: int
    combiner: str
    initializer: Initializer | None
    max_norm: float | None
    trainable: bool

    @property
    def parents(self) -> tuple[CategoricalColumn]:
        return (self.categorical_column,)

    @property
    def leaf(self) -> CategoricalColumn:
        return self.categorical_column

    @property
    def table_name(self) -> str:
        raise NotImplementedError

    def bucket_count(self, fitted: Fitted) -> int:
        return self.categorical_column.bucket_count(fitted)

    def dense_width(self, fitted: Fitted) -> int:
        return self.dimension

    def state_text(self, fitted: Fitted) -> str:
        return f"table {self.table_name!r}: {self.bucket_count(fitted)} x {self.dimension}, combiner {self.combiner}"

    def _options(self) -> dict[str, Any]:
        return changed(self, combiner="mean", initializer=None, max_norm=None, trainable=True)


@dataclass(frozen=True)
class EmbeddingColumn(_EmbeddingKind):
    """Spec of :func:`embedding_column`.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> embedding_column(ident("h", 3), 4).table_name
    'h_embedding'
    """

    kind: ClassVar[str] = "embedding"

    categorical_column: CategoricalColumn
    dimension: int
    combiner: str = "mean"
    initializer: Initializer | None = None
    max_norm: float | None = None
    trainable: bool = True

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_embedding"

    @property
    def table_name(self) -> str:
        return self.name

    def to_source(self) -> str:
        return source_call("embedding_column", self.categorical_column, dimension=self.dimension, **self._options())


def embedding_column(
    categorical_column: CategoricalColumn,
    dimension: int,
    combiner: str = "mean",
    initializer: Initializer | None = None,
    max_norm: float | None = None,
    trainable: bool = True,
) -> EmbeddingColumn:
    """Dense ``(N, dimension)`` embedding of a categorical column, as in TF.

    Each row combines the embeddings of its ids with ``combiner``: ``"sum"``, ``"mean"`` (divide by the
    sum of weights) or ``"sqrtn"`` (divide by the root of the sum of squared weights); a row with no id
    gives the zero vector. ``initializer`` fills the ``(num_buckets, dimension)`` table in place (default:
    truncated normal with std ``1/sqrt(dimension)``, as in TF). ``max_norm`` clips each looked-up vector's
    L2 norm.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_hash_bucket
    >>> embedding_column(categorical_column_with_hash_bucket("city", 100), 8).name
    'city_embedding'
    """
    cat = check_categorical(categorical_column, "embedding_column")
    _check_embedding_args(f"{cat.name}_embedding", dimension, combiner, initializer, max_norm)
    return EmbeddingColumn(cat, dimension, combiner, initializer, max_norm, bool(trainable))


@dataclass(frozen=True)
class SharedEmbeddingColumn(_EmbeddingKind):
    """One member of :func:`shared_embeddings`: its own ids, a table shared by name.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> shared_embeddings([ident("a", 3)], 2, shared_embedding_collection_name="t")[0].table_name
    't'
    """

    kind: ClassVar[str] = "shared_embedding"

    categorical_column: CategoricalColumn
    dimension: int
    shared_embedding_collection_name: str
    combiner: str = "mean"
    initializer: Initializer | None = None
    max_norm: float | None = None
    trainable: bool = True

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_shared_embedding"

    @property
    def table_name(self) -> str:
        return self.shared_embedding_collection_name

    def to_source(self) -> str:
        """One member, rebuilt as the first of a one-column ``shared_embeddings`` (same table name).

        Examples
        --------
        >>> from estlab.features import categorical_column_with_identity as ident
        >>> shared_embeddings([ident("a", 3)], 2, shared_embedding_collection_name="t")[0].to_source()
        "fc.shared_embeddings([fc.categorical_column_with_identity('a', num_buckets=3)], dimension=2, shared_embedding_collection_name='t')[0]"
        """
        return source_call("shared_embeddings", (self.categorical_column,), dimension=self.dimension,
                           shared_embedding_collection_name=self.table_name, **self._options()) + "[0]"


def shared_embeddings(
    categorical_columns: Sequence[CategoricalColumn],
    dimension: int,
    combiner: str = "mean",
    initializer: Initializer | None = None,
    shared_embedding_collection_name: str | None = None,
    max_norm: float | None = None,
    trainable: bool = True,
) -> list[SharedEmbeddingColumn]:
    """Embedding columns that share one table, as TF's ``shared_embeddings``.

    All categorical columns must have the same number of buckets (checked when the table is built).

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> a, b = shared_embeddings([ident("watched", 100), ident("impression", 100)], 8)
    >>> a.table_name
    'impression_watched_shared_embedding'
    """
    if isinstance(categorical_columns, CategoricalColumn) or not categorical_columns:
        raise FeatureColumnError(
            f"shared_embeddings: categorical_columns must be a non-empty list, got {categorical_columns!r}."
        )
    cats = [check_categorical(c, "shared_embeddings") for c in categorical_columns]
    name = shared_embedding_collection_name or "_".join(sorted(c.name for c in cats)) + "_shared_embedding"
    _check_embedding_args(name, dimension, combiner, initializer, max_norm)
    return [SharedEmbeddingColumn(c, dimension, name, combiner, initializer, max_norm, bool(trainable)) for c in cats]
