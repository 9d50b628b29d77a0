"""Dense wrappers of categorical columns: indicator, embedding and shared embeddings.

Examples
--------
>>> from estlab.features import categorical_column_with_identity
>>> indicator_column(categorical_column_with_identity("hour", 24)).name
'hour_indicator'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


def _check_embedding_args(name: str, dimension: int, combiner: str, initializer: object, max_norm: object,
                          ckpt_to_load_from: object = None, tensor_name_in_ckpt: object = None,
                          use_safe_embedding_lookup: object = True) -> tuple[str | None, str | None]:
    """Validate the embedding arguments; returns ``(ckpt_to_load_from, tensor_name_in_ckpt)`` as strings."""
    check_positive_int(dimension, "dimension", name)
    if combiner not in COMBINERS:
        raise FeatureColumnError(f"column {name!r}: combiner must be one of {COMBINERS}, got {combiner!r}.")
    if initializer is not None and not callable(initializer):
        raise FeatureColumnError(
            f"column {name!r}: initializer must be a callable that fills a tensor in place "
            f"(e.g. torch.nn.init.zeros_), got {initializer!r}."
        )
    if max_norm is not None and (isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or max_norm <= 0):
        raise FeatureColumnError(f"column {name!r}: max_norm must be a positive number or None, got {max_norm!r}.")
    if not isinstance(use_safe_embedding_lookup, bool):
        raise FeatureColumnError(
            f"column {name!r}: use_safe_embedding_lookup must be True or False, got {use_safe_embedding_lookup!r}."
        )
    if (ckpt_to_load_from is None) != (tensor_name_in_ckpt is None):  # TF's rule and words
        raise FeatureColumnError(
            f"column {name!r}: Must specify both `ckpt_to_load_from` and `tensor_name_in_ckpt` or none of them; "
            f"got ckpt_to_load_from={ckpt_to_load_from!r}, tensor_name_in_ckpt={tensor_name_in_ckpt!r}."
        )
    if ckpt_to_load_from is None:
        return None, None
    if not isinstance(ckpt_to_load_from, (str, os.PathLike)) or not os.fspath(ckpt_to_load_from):
        raise FeatureColumnError(
            f"column {name!r}: ckpt_to_load_from must be the path of an estlab checkpoint file or model_dir, "
            f"got {ckpt_to_load_from!r}."
        )
    if not isinstance(tensor_name_in_ckpt, str) or not tensor_name_in_ckpt:
        raise FeatureColumnError(
            f"column {name!r}: tensor_name_in_ckpt must be a variable name as the source estimator's "
            f"get_variable_names() lists it, got {tensor_name_in_ckpt!r}."
        )
    return str(os.fspath(ckpt_to_load_from)), tensor_name_in_ckpt


class _EmbeddingKind(DenseColumn):
    """What embedding kinds share: ids of ``categorical_column`` looked up in a ``table_name`` table."""

    layer_role: ClassVar[str] = "table"

    categorical_column: CategoricalColumn
    dimension: int
    combiner: str
    initializer: Initializer | None
    max_norm: float | None
    trainable: bool
    ckpt_to_load_from: str | None
    tensor_name_in_ckpt: str | None

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
        return changed(self, combiner="mean", initializer=None, ckpt_to_load_from=None, tensor_name_in_ckpt=None,
                       max_norm=None, trainable=True)


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
    # not stored while None (serialize.column_to_dict): specs, fingerprints and checkpoints stay as they were
    ckpt_to_load_from: str | None = field(default=None, metadata={"omit_if_default": True})
    tensor_name_in_ckpt: str | None = field(default=None, metadata={"omit_if_default": True})

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
    ckpt_to_load_from: str | os.PathLike | None = None,
    tensor_name_in_ckpt: str | None = None,
    max_norm: float | None = None,
    trainable: bool = True,
    use_safe_embedding_lookup: bool = True,
) -> EmbeddingColumn:
    """Dense ``(N, dimension)`` embedding of a categorical column, as in TF (TF's argument order).

    Each row combines the embeddings of its ids with ``combiner``: ``"sum"``, ``"mean"`` (divide by the
    sum of weights) or ``"sqrtn"`` (divide by the root of the sum of squared weights); a row with no id
    gives the zero vector. ``initializer`` fills the ``(num_buckets, dimension)`` table in place (default:
    truncated normal with std ``1/sqrt(dimension)``, as in TF). ``max_norm`` clips each looked-up vector's
    L2 norm.

    ``ckpt_to_load_from`` and ``tensor_name_in_ckpt`` (both or neither, as in TF) give a new model's table
    its initial value from an estlab checkpoint: a ``model.ckpt-<step>.pt`` file, or a model_dir (its newest
    checkpoint), and the variable's name as the source estimator's ``get_variable_names()`` lists it. The
    file is read with estlab's safe checkpoint loader (tensors only, no code runs) when an estimator builds
    the model; a model restored from its own checkpoint keeps its trained table. A missing variable or a
    table of another shape is refused, naming the checkpoint's variables and their shapes.

    ``use_safe_embedding_lookup`` is accepted for TF compatibility: estlab's lookup is always the safe one
    (ids ``-1``, i.e. no id, and empty rows give zeros; weights are applied as given).

    Examples
    --------
    >>> from estlab.features import categorical_column_with_hash_bucket
    >>> embedding_column(categorical_column_with_hash_bucket("city", 100), 8).name
    'city_embedding'
    """
    cat = check_categorical(categorical_column, "embedding_column")
    ckpt, tensor = _check_embedding_args(f"{cat.name}_embedding", dimension, combiner, initializer, max_norm,
                                         ckpt_to_load_from, tensor_name_in_ckpt, use_safe_embedding_lookup)
    return EmbeddingColumn(cat, dimension, combiner, initializer, max_norm, bool(trainable), ckpt, tensor)


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
    ckpt_to_load_from: str | None = field(default=None, metadata={"omit_if_default": True})
    tensor_name_in_ckpt: str | None = field(default=None, metadata={"omit_if_default": True})

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
    ckpt_to_load_from: str | os.PathLike | None = None,
    tensor_name_in_ckpt: str | None = None,
    max_norm: float | None = None,
    trainable: bool = True,
    use_safe_embedding_lookup: bool = True,
) -> list[SharedEmbeddingColumn]:
    """Embedding columns that share one table, as TF's ``shared_embeddings`` (TF's argument order).

    All categorical columns must have the same number of buckets (checked when the table is built).
    ``ckpt_to_load_from``/``tensor_name_in_ckpt`` and ``use_safe_embedding_lookup`` are as in
    :func:`embedding_column` (the shared table is read once).

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
    ckpt, tensor = _check_embedding_args(name, dimension, combiner, initializer, max_norm, ckpt_to_load_from,
                                         tensor_name_in_ckpt, use_safe_embedding_lookup)
    return [SharedEmbeddingColumn(c, dimension, name, combiner, initializer, max_norm, bool(trainable), ckpt, tensor)
            for c in cats]
