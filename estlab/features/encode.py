"""Vectorised encoding of raw inputs for each column type, given the fitted state.

``encode_numeric`` gives float arrays ``(N, k)``; ``encode_categorical`` gives int64 ids ``(N, K)``
(``-1`` = no id) and, for weighted columns, float32 weights. ``memo`` caches results within one call.

Examples
--------
>>> from estlab.features import numeric_column
>>> encode_numeric(numeric_column("x"), {"x": [1.0, 2.0]}, Fitted({}, {}), {}).ravel().tolist()
[1.0, 2.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab.features import hashing
from estlab.features._base import FeatureColumn
from estlab.features.categorical import (
    HashedColumn,
    IdentityColumn,
    LearnedVocabularyColumn,
    VocabularyFileColumn,
    VocabularyListColumn,
    WeightedCategoricalColumn,
)
from estlab.features.crossed import CrossedColumn
from estlab.features.errors import FeatureColumnError, NotFittedError
from estlab.features.numeric import BucketizedColumn, NumericColumn
from estlab.features.raw import Ragged, get_values, to_float, to_ragged


@dataclass(frozen=True)
class Fitted:
    """Fitted state (a JSON-ready dict keyed by column id) and the column -> id map.

    A column's id is its name unless two different columns share a name (see ``column_ids``).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> Fitted({"numeric": {"x": {"shift": [0.0]}}}, {}).lookup("numeric", numeric_column("x"))
    {'shift': [0.0]}
    """

    state: dict[str, dict[str, Any]]
    ids: dict[FeatureColumn, str]

    def lookup(self, kind: str, column: FeatureColumn) -> Any:
        return self.state.get(kind, {}).get(self.ids.get(column, column.name))


State = Fitted


def not_fitted(column: FeatureColumn, what: str) -> NotFittedError:
    return NotFittedError(
        f"column {column.name!r} needs fitting: its {what} is learned from the training frame. "
        "Call FeatureTransformer(feature_columns).fit(train_df) first (and pass the transformer on)."
    )


def fill_numeric(column: NumericColumn, data: Any) -> np.ndarray:
    """Raw values -> float64 ``(N, k)`` with ``default_value`` filled; missing without default raises."""
    x = to_float(get_values(data, column.key), column.key, column.num_elements)
    missing = np.isnan(x)
    if missing.any():
        if column.default_value is None:
            row = int(np.flatnonzero(missing.any(axis=1))[0])
            raise FeatureColumnError(
                f"numeric column {column.key!r} has {int(missing.sum())} missing value(s) (first at row {row}) "
                f"and no default_value. Pass numeric_column({column.key!r}, default_value=...) or fill the "
                "missing values first."
            )
        default = np.broadcast_to(np.asarray(column.default_value, dtype=np.float64), x.shape[1:])
        x = np.where(missing, default, x)
    return x


def normalize(column: NumericColumn, x: np.ndarray, state: State) -> np.ndarray:
    """Apply the learned affine normalizer and ``normalizer_fn``; returns float32 ``(N, *shape)``."""
    if column.normalizer is not None:
        params = state.lookup("numeric", column)
        if params is None:
            raise not_fitted(column, f"{column.normalizer} normalizer")
        x = (x - np.asarray(params["shift"])) / np.asarray(params["scale"])
    out = x.astype(np.float32).reshape((x.shape[0], *column.shape))
    if column.normalizer_fn is not None:
        out = np.asarray(column.normalizer_fn(torch.from_numpy(out)), dtype=np.float32)
    return out


def encode_numeric(column: NumericColumn, data: Any, state: State, memo: dict) -> np.ndarray:
    """Encoded float32 ``(N, *shape)`` of a numeric column."""
    if column not in memo:
        memo[column] = normalize(column, fill_numeric(column, data), state)
    return memo[column]


def _lookup(ragged: Ragged, vocab: list | tuple, num_oov: int, default: int, column: FeatureColumn,
            integer_vocab: bool) -> np.ndarray:
    codes, uniques = pd.factorize(ragged.values, use_na_sentinel=True)
    uniques = pd.Index(uniques)
    if len(uniques):
        numeric_values = pd.api.types.is_numeric_dtype(uniques.dtype) or pd.api.types.is_bool_dtype(uniques.dtype)
        if integer_vocab != numeric_values and uniques.dtype != object:
            got = "numbers" if numeric_values else "strings"
            want = "integers" if integer_vocab else "strings"
            raise FeatureColumnError(
                f"categorical column {column.name!r}: the vocabulary holds {want} but the input holds {got} "
                f"(e.g. {uniques[0]!r}); convert the input column or the vocabulary."
            )
    uid = pd.Index(vocab).get_indexer(uniques) if len(uniques) else np.zeros(0, dtype=np.int64)
    uid = uid.astype(np.int64)
    unknown = uid < 0
    if num_oov > 0:
        if unknown.any():
            uid[unknown] = len(vocab) + hashing.bucket(hashing.hash_strings(uniques[unknown].to_numpy()), num_oov)
        missing_id = len(vocab)
    else:
        uid[unknown] = default
        missing_id = default
    flat = np.where(codes >= 0, uid[np.maximum(codes, 0)] if len(uid) else missing_id, missing_id)
    return ragged.pad(flat)


def _identity(column: IdentityColumn, ragged: Ragged) -> np.ndarray:
    values = pd.to_numeric(ragged.values, errors="coerce")
    if bool((values.isna() & ragged.values.notna()).any()):
        bad = ragged.values[values.isna() & ragged.values.notna()].iloc[0]
        raise FeatureColumnError(f"categorical_column_with_identity {column.key!r}: got a non-integer value {bad!r}; "
                                 "identity columns need integer ids.")
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(x) | (x == -1)
    fill = -1 if column.default_value is None else column.default_value
    ids = np.where(missing, fill, x)
    bad = ~missing & ((ids < 0) | (ids >= column.num_buckets) | (ids != np.round(ids)))
    if bad.any():
        if column.default_value is None:
            first = x[np.flatnonzero(bad)[0]]
            raise FeatureColumnError(
                f"categorical_column_with_identity {column.key!r}: value {first:g} is outside [0, "
                f"{column.num_buckets}). Raise num_buckets, pass default_value=..., or clean the input."
            )
        ids = np.where(bad, column.default_value, ids)
    return ragged.pad(ids.astype(np.int64))


def _hashed(ragged: Ragged, size: int) -> np.ndarray:
    codes, uniques = pd.factorize(ragged.values, use_na_sentinel=True)
    uid = hashing.bucket(hashing.hash_strings(np.asarray(uniques)), size) if len(uniques) else np.zeros(0, np.int64)
    flat = np.where(codes >= 0, uid[np.maximum(codes, 0)] if len(uid) else -1, -1)
    return ragged.pad(flat)


def _raw_hash(ragged: Ragged) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(ragged.values, use_na_sentinel=True)
    uh = hashing.hash_strings(np.asarray(uniques)) if len(uniques) else np.zeros(0, np.uint64)
    flat_h = uh[np.maximum(codes, 0)] if len(uh) else np.zeros(len(codes), np.uint64)
    return ragged.pad(flat_h, fill=0, dtype=np.uint64), ragged.pad(codes >= 0, fill=False, dtype=bool)


def _crossed(column: CrossedColumn, data: Any, state: State, memo: dict) -> np.ndarray:
    seed = np.uint64(column.hash_key if column.hash_key is not None else 0x2545F4914F6CDD1D)
    h, valid = None, None
    for part in column.keys:
        if isinstance(part, str):
            ph, pv = _raw_hash(to_ragged(get_values(data, part), part))
        else:
            ids, _ = encode_categorical(part, data, state, memo)
            ph, pv = hashing.fmix64(ids.astype(np.uint64) + np.uint64(1)), ids >= 0
        if h is None:
            h, valid = hashing.combine(np.full(ph.shape, seed, dtype=np.uint64), ph), pv
        else:
            n = h.shape[0]
            h = hashing.combine(h[:, :, None], ph[:, None, :]).reshape(n, -1)
            valid = (valid[:, :, None] & pv[:, None, :]).reshape(n, -1)
    return np.where(valid, hashing.bucket(h, column.hash_bucket_size), -1)


def vocabulary_of(column: FeatureColumn, state: State) -> list | tuple:
    """The vocabulary of a vocabulary column (learned ones from ``state``)."""
    if isinstance(column, LearnedVocabularyColumn):
        vocab = state.lookup("vocabulary", column)
        if vocab is None:
            raise not_fitted(column, "vocabulary")
        return vocab
    return column.vocabulary  # type: ignore[attr-defined]


def boundaries_of(column: BucketizedColumn, state: State) -> list | tuple:
    """The bucket edges of a bucketized column (learned ones from ``state``)."""
    if isinstance(column.boundaries, str):
        bounds = state.lookup("boundaries", column)
        if bounds is None:
            raise not_fitted(column, f"boundaries ({column.boundaries})")
        return bounds
    return column.boundaries


def encode_categorical(column: FeatureColumn, data: Any, state: State, memo: dict
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Encoded ``(ids (N, K) int64, weights (N, K) float32 or None)`` of a categorical column."""
    if column in memo:
        return memo[column]
    weights = None
    if isinstance(column, BucketizedColumn):
        x = encode_numeric(column.source_column, data, state, memo).reshape(-1, column.source_column.num_elements)
        bounds = np.asarray(boundaries_of(column, state), dtype=np.float64)
        ids = np.searchsorted(bounds, x, side="right").astype(np.int64)
        ids += np.arange(x.shape[1], dtype=np.int64) * (len(bounds) + 1)
    elif isinstance(column, (VocabularyListColumn, VocabularyFileColumn)):
        ragged = to_ragged(get_values(data, column.key), column.key)
        ids = _lookup(ragged, column.vocabulary, column.num_oov_buckets, column.default_value, column,
                      column.dtype == "int64")
    elif isinstance(column, LearnedVocabularyColumn):
        vocab = vocabulary_of(column, state)
        ragged = to_ragged(get_values(data, column.key), column.key)
        integer = bool(vocab) and not isinstance(vocab[0], str)
        ids = _lookup(ragged, vocab, column.num_oov_buckets, -1, column, integer)
    elif isinstance(column, IdentityColumn):
        ids = _identity(column, to_ragged(get_values(data, column.key), column.key))
    elif isinstance(column, HashedColumn):
        ids = _hashed(to_ragged(get_values(data, column.key), column.key), column.hash_bucket_size)
    elif isinstance(column, CrossedColumn):
        ids = _crossed(column, data, state, memo)
    elif isinstance(column, WeightedCategoricalColumn):
        ids, _ = encode_categorical(column.categorical_column, data, state, memo)
        key = column.weight_feature_key
        wr = to_ragged(get_values(data, key), key)
        w = pd.to_numeric(wr.values, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        if np.isnan(w).any():
            raise FeatureColumnError(f"weighted_categorical_column {column.name!r}: weight column {key!r} has "
                                     "missing or non-numeric values; fill them (e.g. with 0).")
        weights = wr.pad(w, fill=0.0, dtype=np.float32)
        if weights.shape != ids.shape:
            raise FeatureColumnError(
                f"weighted_categorical_column {column.name!r}: weights {key!r} have shape {weights.shape} but "
                f"the ids have shape {ids.shape}; give one weight per value."
            )
        weights = np.where(ids >= 0, weights, 0.0).astype(np.float32)
    else:
        raise FeatureColumnError(f"{column!r} is not a categorical column.")
    memo[column] = (ids, weights)
    return ids, weights
