"""Crossed columns: hashed conjunctions of several categorical features.

Examples
--------
>>> crossed_column(["education", "occupation"], 1000).name
'education_X_occupation'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from estlab.features import hashing
from estlab.features._base import CategoricalColumn, RawInputSpec, changed, check_positive_int, source_call
from estlab.features.categorical import HashedColumn, WeightedCategoricalColumn
from estlab.features.encode import EncodeContext, Encoded, Fitted
from estlab.features.errors import FeatureColumnError
from estlab.features.raw import Ragged, get_values, to_ragged

_DEFAULT_SEED = 0x2545F4914F6CDD1D


def _raw_hash(ragged: Ragged) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(ragged.values, use_na_sentinel=True)
    uh = hashing.hash_strings(np.asarray(uniques)) if len(uniques) else np.zeros(0, np.uint64)
    flat_h = np.append(uh, np.uint64(0))[codes]  # a missing value (code -1) hashes as 0 and is not valid
    return ragged.pad(flat_h, fill=0, dtype=np.uint64), ragged.pad(codes >= 0, fill=False, dtype=bool)


@dataclass(frozen=True)
class CrossedColumn(CategoricalColumn):
    """Spec of :func:`crossed_column`.

    Examples
    --------
    >>> crossed_column(["b", "a"], 10).keys
    ('b', 'a')
    """

    kind: ClassVar[str] = "crossed"

    keys: tuple[str | CategoricalColumn, ...]
    hash_bucket_size: int
    hash_key: int | None = None

    @property
    def name(self) -> str:
        return "_X_".join(sorted(k if isinstance(k, str) else k.name for k in self.keys))

    @property
    def parents(self) -> tuple[str | CategoricalColumn, ...]:
        return self.keys

    def encode(self, ctx: EncodeContext) -> Encoded:
        parts = [
            _raw_hash(to_ragged(get_values(ctx.data, part), part)) if isinstance(part, str)
            else self.id_hashes(*part.cross_entries(ctx))
            for part in self.keys
        ]
        return self.cross(parts)

    @staticmethod
    def id_hashes(ids: np.ndarray, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A categorical part's hashes ``(N, K)`` (of its ids) and where it has an entry.

        ``present`` (default: ``ids >= 0``) marks the entries; an entry with id ``-1`` (a vocabulary
        column's out-of-vocabulary value, as TF keeps it) is hashed like any id.

        Examples
        --------
        >>> CrossedColumn.id_hashes(np.array([[0], [-1]]))[1].tolist()
        [[True], [False]]
        >>> h, valid = CrossedColumn.id_hashes(np.array([[0], [-1]]), np.array([[True], [True]]))
        >>> valid.tolist(), bool(h[0, 0] != h[1, 0])
        ([[True], [True]], True)
        """
        hashes = hashing.fmix64(ids.astype(np.uint64) + np.uint64(1))  # id -1 wraps to 0: its own hash
        return hashes, ids >= 0 if present is None else present

    def cross(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> Encoded:
        """Ids from each key's hashes ``(N, K_i)`` and validity: the Cartesian product of the row's values.

        Examples
        --------
        >>> col = crossed_column(["a", "b"], 10)
        >>> part = (np.array([[7]], dtype=np.uint64), np.array([[False]]))
        >>> col.cross([part, part]).values.tolist()
        [[-1]]
        """
        seed = np.uint64(self.hash_key if self.hash_key is not None else _DEFAULT_SEED)
        h, valid = None, None
        for ph, pv in parts:
            if h is None or valid is None:
                h, valid = hashing.combine(np.full(ph.shape, seed, dtype=np.uint64), ph), pv
            else:
                n, width = h.shape[0], h.shape[1] * ph.shape[1]  # explicit: 0 rows can't infer a -1 width
                h = hashing.combine(h[:, :, None], ph[:, None, :]).reshape(n, width)
                valid = (valid[:, :, None] & pv[:, None, :]).reshape(n, width)
        assert h is not None and valid is not None  # a cross has at least two keys
        return Encoded(np.where(valid, hashing.bucket(h, self.hash_bucket_size), -1))

    def bucket_count(self, fitted: Fitted) -> int:
        return self.hash_bucket_size

    def raw_inputs(self, fitted: Fitted) -> dict[str, RawInputSpec]:
        return {k: RawInputSpec(k, "string") for k in self.keys if isinstance(k, str)}

    def state_text(self, fitted: Fitted) -> str:
        return f"{self.hash_bucket_size} ids"

    def to_source(self) -> str:
        kwargs = changed(self, hash_key=None)
        return source_call("crossed_column", self.keys, hash_bucket_size=self.hash_bucket_size, **kwargs)


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
