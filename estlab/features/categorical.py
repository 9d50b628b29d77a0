"""Categorical columns: vocabulary list/file, learned vocabulary, identity, hash bucket, weighted.

All encode to int64 ids ``(N, K)`` with ``-1`` meaning "no id".

Examples
--------
>>> col = categorical_column_with_vocabulary_list("color", ["red", "blue"], num_oov_buckets=1)
>>> col.name
'color'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from estlab.features._base import CategoricalColumn, check_categorical, check_key, check_positive_int
from estlab.features.errors import FeatureColumnError


def _vocab_dtype(vocabulary: tuple, dtype: object, column: str) -> str:
    kinds = {"string" if isinstance(v, str) else "int64" if isinstance(v, int) and not isinstance(v, bool)
             else "other" for v in vocabulary}
    if "other" in kinds or len(kinds) > 1:
        raise FeatureColumnError(
            f"column {column!r}: vocabulary must hold only strings or only integers, got "
            f"{sorted({type(v).__name__ for v in vocabulary})}; convert the entries to one type."
        )
    inferred = kinds.pop()
    if dtype is None:
        return inferred
    wanted = {str: "string", "string": "string", "str": "string", int: "int64", "int64": "int64",
              "int": "int64", torch.int64: "int64", torch.int32: "int64"}.get(dtype)  # type: ignore[call-overload]
    if wanted is None:
        raise FeatureColumnError(
            f"column {column!r}: dtype must be one of str, int, 'string', 'int64', torch.int64 or None, got {dtype!r}."
        )
    if wanted != inferred:
        raise FeatureColumnError(
            f"column {column!r}: dtype={dtype!r} but the vocabulary holds {inferred} values; "
            "make them agree or leave dtype=None."
        )
    return wanted


def _check_vocabulary(vocabulary: Sequence, column: str, fn: str) -> tuple:
    if isinstance(vocabulary, (str, bytes)):
        raise FeatureColumnError(f"{fn} {column!r}: vocabulary must be a list of values, got the string "
                                 f"{vocabulary!r}; pass [{vocabulary!r}] for a single entry.")
    vocab = tuple(v.item() if hasattr(v, "item") else v for v in vocabulary)
    if not vocab:
        raise FeatureColumnError(f"{fn} {column!r}: the vocabulary is empty; give at least one value.")
    if len(set(vocab)) != len(vocab):
        seen: set = set()
        dup = next(v for v in vocab if v in seen or seen.add(v))
        raise FeatureColumnError(f"{fn} {column!r}: duplicate vocabulary entry {dup!r}; remove duplicates.")
    return vocab


def _check_oov(default_value: int | None, num_oov_buckets: int, column: str, fn: str) -> None:
    check_positive_int(num_oov_buckets, "num_oov_buckets", column, minimum=0)
    if num_oov_buckets > 0 and default_value not in (None, -1):
        raise FeatureColumnError(
            f"{fn} {column!r}: can't specify both default_value={default_value!r} and "
            f"num_oov_buckets={num_oov_buckets}; use one way to handle out-of-vocabulary values."
        )


@dataclass(frozen=True)
class VocabularyListColumn(CategoricalColumn):
    """Spec of :func:`categorical_column_with_vocabulary_list`.

    Examples
    --------
    >>> categorical_column_with_vocabulary_list("c", [3, 1]).dtype
    'int64'
    """

    key: str
    vocabulary_list: tuple
    dtype: str = "string"
    default_value: int = -1
    num_oov_buckets: int = 0

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)

    @property
    def vocabulary(self) -> tuple:
        return self.vocabulary_list


def categorical_column_with_vocabulary_list(
    key: str,
    vocabulary_list: Sequence[str] | Sequence[int],
    dtype: object = None,
    default_value: int = -1,
    num_oov_buckets: int = 0,
) -> VocabularyListColumn:
    """Ids from an in-memory vocabulary, as in TF.

    A value at position ``i`` of ``vocabulary_list`` gets id ``i``. Out-of-vocabulary (and missing)
    values get ``default_value`` (``-1`` = no id: an all-zero indicator row, a zero embedding), or, with
    ``num_oov_buckets > 0``, an id in ``[len(vocabulary_list), len(vocabulary_list) + num_oov_buckets)``
    chosen by a stable hash of the value (missing values take the first OOV id).

    Examples
    --------
    >>> categorical_column_with_vocabulary_list("color", ["red", "blue"]).vocabulary_list
    ('red', 'blue')
    """
    key = check_key(key, "categorical_column_with_vocabulary_list")
    fn = "categorical_column_with_vocabulary_list"
    vocab = _check_vocabulary(vocabulary_list, key, fn)
    _check_oov(default_value, num_oov_buckets, key, fn)
    if not isinstance(default_value, int) or default_value < -1 or default_value >= len(vocab) + num_oov_buckets:
        raise FeatureColumnError(f"{fn} {key!r}: default_value must be -1 or an id in [0, {len(vocab)}), "
                                 f"got {default_value!r}.")
    return VocabularyListColumn(key, vocab, _vocab_dtype(vocab, dtype, key), default_value, num_oov_buckets)


@dataclass(frozen=True)
class VocabularyFileColumn(CategoricalColumn):
    """Spec of :func:`categorical_column_with_vocabulary_file` (the file is read once, at construction).

    Examples
    --------
    >>> VocabularyFileColumn("c", "v.txt", None, ("a",)).vocabulary
    ('a',)
    """

    key: str
    vocabulary_file: str
    vocabulary_size: int | None
    vocabulary: tuple
    dtype: str = "string"
    default_value: int = -1
    num_oov_buckets: int = 0

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)


def categorical_column_with_vocabulary_file(
    key: str,
    vocabulary_file: str | os.PathLike,
    vocabulary_size: int | None = None,
    dtype: object = None,
    default_value: int | None = None,
    num_oov_buckets: int = 0,
) -> VocabularyFileColumn:
    """Ids from a vocabulary file (one value per line), as in TF; otherwise like the vocabulary list.

    The file is read when the column is built, so the spec (and an export) is self-contained.
    ``vocabulary_size`` keeps only the first lines. Integer vocabularies need ``dtype=int``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "colors.txt"
    >>> _ = path.write_text("red\\nblue\\n")
    >>> categorical_column_with_vocabulary_file("color", path).vocabulary
    ('red', 'blue')
    """
    fn = "categorical_column_with_vocabulary_file"
    key = check_key(key, fn)
    path = os.fspath(vocabulary_file)
    if not os.path.isfile(path):
        raise FeatureColumnError(f"{fn} {key!r}: vocabulary_file {path!r} does not exist; give the path of a "
                                 "text file with one value per line.")
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\r\n") for line in f]
    if vocabulary_size is not None:
        check_positive_int(vocabulary_size, "vocabulary_size", key)
        if vocabulary_size > len(lines):
            raise FeatureColumnError(f"{fn} {key!r}: vocabulary_size={vocabulary_size} but {path!r} has only "
                                     f"{len(lines)} lines; lower vocabulary_size or leave it None.")
        lines = lines[:vocabulary_size]
    if dtype in (int, "int", "int64"):
        try:
            lines = [int(v) for v in lines]
        except ValueError as e:
            raise FeatureColumnError(f"{fn} {key!r}: dtype=int but {path!r} holds a non-integer line ({e}).") from None
    vocab = _check_vocabulary(lines, key, fn)
    _check_oov(default_value, num_oov_buckets, key, fn)
    default = -1 if default_value is None else default_value
    return VocabularyFileColumn(key, path, vocabulary_size, vocab, _vocab_dtype(vocab, dtype, key), default,
                                num_oov_buckets)


@dataclass(frozen=True)
class LearnedVocabularyColumn(CategoricalColumn):
    """Spec of :func:`categorical_column_with_learned_vocabulary`.

    Examples
    --------
    >>> categorical_column_with_learned_vocabulary("c").needs_fit
    True
    """

    key: str
    max_tokens: int | None = None
    min_frequency: int = 1
    num_oov_buckets: int = 1

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)

    @property
    def needs_fit(self) -> bool:
        return True


def categorical_column_with_learned_vocabulary(
    key: str, max_tokens: int | None = None, min_frequency: int = 1, num_oov_buckets: int = 1
) -> LearnedVocabularyColumn:
    """A vocabulary column whose vocabulary is learned from the training frame (beyond TF).

    ``FeatureTransformer.fit`` keeps the values seen at least ``min_frequency`` times, the most frequent
    first (ties broken by value), at most ``max_tokens`` of them. Ids ``[0, len(vocab))`` are the
    vocabulary; unknown and missing values go to the reserved slot(s) ``[len(vocab), len(vocab) +
    num_oov_buckets)`` (hashed when there are several; missing values take the first). With
    ``num_oov_buckets=0`` unknown values get no id (``-1``).

    Examples
    --------
    >>> categorical_column_with_learned_vocabulary("education", min_frequency=5).name
    'education'
    """
    fn = "categorical_column_with_learned_vocabulary"
    key = check_key(key, fn)
    if max_tokens is not None:
        check_positive_int(max_tokens, "max_tokens", key)
    check_positive_int(min_frequency, "min_frequency", key)
    check_positive_int(num_oov_buckets, "num_oov_buckets", key, minimum=0)
    return LearnedVocabularyColumn(key, max_tokens, min_frequency, num_oov_buckets)


@dataclass(frozen=True)
class IdentityColumn(CategoricalColumn):
    """Spec of :func:`categorical_column_with_identity`.

    Examples
    --------
    >>> categorical_column_with_identity("h", 24, default_value=0).default_value
    0
    """

    key: str
    num_buckets: int
    default_value: int | None = None

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)


def categorical_column_with_identity(key: str, num_buckets: int, default_value: int | None = None) -> IdentityColumn:
    """Integer values used as ids directly, as in TF.

    Values outside ``[0, num_buckets)`` get ``default_value`` if given, else ``transform`` raises an error
    naming the column and the first bad value. Missing values (NaN/None, and ``-1`` padding as in TF)
    get ``default_value`` if given, else no id (``-1``).

    Examples
    --------
    >>> categorical_column_with_identity("hour", 24).num_buckets
    24
    """
    fn = "categorical_column_with_identity"
    key = check_key(key, fn)
    check_positive_int(num_buckets, "num_buckets", key)
    if default_value is not None and (
        isinstance(default_value, bool) or not isinstance(default_value, int) or not 0 <= default_value < num_buckets
    ):
        raise FeatureColumnError(f"{fn} {key!r}: default_value must be None or an id in [0, {num_buckets}), "
                                 f"got {default_value!r}.")
    return IdentityColumn(key, num_buckets, default_value)


@dataclass(frozen=True)
class HashedColumn(CategoricalColumn):
    """Spec of :func:`categorical_column_with_hash_bucket`.

    Examples
    --------
    >>> categorical_column_with_hash_bucket("city", 100).dtype
    'string'
    """

    key: str
    hash_bucket_size: int
    dtype: str = "string"

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)


def categorical_column_with_hash_bucket(key: str, hash_bucket_size: int, dtype: object = str) -> HashedColumn:
    """Ids from a stable hash of the value's string form, modulo ``hash_bucket_size``, as in TF.

    The hash (SipHash with a fixed key) is the same in every process and platform. Missing values get
    no id (``-1``); integers are hashed as their decimal strings.

    Examples
    --------
    >>> categorical_column_with_hash_bucket("city", 1000).hash_bucket_size
    1000
    """
    fn = "categorical_column_with_hash_bucket"
    key = check_key(key, fn)
    check_positive_int(hash_bucket_size, "hash_bucket_size", key, minimum=2)
    kind = {str: "string", "string": "string", "str": "string", int: "int64", "int64": "int64", "int": "int64"}
    if dtype not in kind:
        raise FeatureColumnError(f"{fn} {key!r}: dtype must be str or int, got {dtype!r}.")
    return HashedColumn(key, hash_bucket_size, kind[dtype])  # type: ignore[index]


@dataclass(frozen=True)
class WeightedCategoricalColumn(CategoricalColumn):
    """Spec of :func:`weighted_categorical_column`; adds float32 weights ``(N, K)`` beside the ids.

    Examples
    --------
    >>> weighted_categorical_column(categorical_column_with_identity("t", 5), "w").weight_feature_key
    'w'
    """

    categorical_column: CategoricalColumn
    weight_feature_key: str

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_weighted_by_{self.weight_feature_key}"

    @property
    def parents(self) -> tuple[CategoricalColumn, str]:
        return (self.categorical_column, self.weight_feature_key)


def weighted_categorical_column(
    categorical_column: CategoricalColumn, weight_feature_key: str, dtype: object = None
) -> WeightedCategoricalColumn:
    """Attach a weight to each id, as in TF (weights sum in indicators and scale embeddings).

    The weight column holds one float per value (lists aligned with the id lists for multi-valued input).

    Examples
    --------
    >>> terms = categorical_column_with_vocabulary_list("terms", ["a", "b"])
    >>> weighted_categorical_column(terms, "frequencies").name
    'terms_weighted_by_frequencies'
    """
    fn = "weighted_categorical_column"
    cat = check_categorical(categorical_column, fn)
    if isinstance(cat, WeightedCategoricalColumn):
        raise FeatureColumnError(f"{fn}: {cat.name!r} is already weighted; weight the base column once.")
    key = check_key(weight_feature_key, fn)
    return WeightedCategoricalColumn(cat, key)
