"""The small-input fast path: encode a few rows of plain numpy arrays without building pandas objects.

A serving request is a dict of 1-D numpy arrays (``str``/``None`` object arrays, ``int64`` or ``float64``
arrays) of one to a few hundred rows. The general path (``to_ragged`` → ``pd.factorize`` →
``Index.get_indexer``) costs ~100-200 us per categorical column whatever the row count; here a vocabulary
lookup is a ``dict`` lookup per value and a hash is memoised per value, so a 1-row request costs a few
microseconds per column.

The fast path only takes inputs whose encoding it gives exactly as the general path would: one value per
row, object arrays holding only ``str`` and ``None``, or signed-integer arrays (floats and everything else go
the general way). Anything else (lists per row, bytes, mixed types, a type mismatch with the vocabulary,
tensors, lists) returns ``None`` from :func:`fast_encode`, and the column takes the general path, which
also raises the errors for bad input. ``tests/features/test_fast_path.py`` compares both paths on generated
inputs.

Examples
--------
>>> import numpy as np
>>> from estlab.features import categorical_column_with_vocabulary_list as vocab
>>> from estlab.features.encode import Fitted
>>> ctx = FastContext({"c": np.array(["b", None, "z"], dtype=object)}, Fitted({}, {}), {})
>>> ctx(vocab("c", ["a", "b"], num_oov_buckets=1)).values.ravel().tolist()
[1, 2, 2]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from estlab.features import hashing
from estlab.features.categorical import (
    HashedColumn,
    IdentityColumn,
    LearnedVocabularyColumn,
    VocabularyFileColumn,
    VocabularyListColumn,
    WeightedCategoricalColumn,
)
from estlab.features.crossed import CrossedColumn
from estlab.features.encode import EncodeContext, Encoded, Fitted

#: Inputs of at most this many rows (a dict of numpy arrays) take the fast path.
FAST_ROWS = 2048
#: At most this many memoised hashes per column (then the memo starts again).
MEMO_SIZE = 1 << 16

_NONE = type(None)
_STR_TYPES = frozenset({str, _NONE})


class FastContext(EncodeContext):
    """An :class:`EncodeContext` that encodes each column through :func:`fast_encode` when it can.

    ``tables`` is kept by the transformer between calls (vocabulary dicts and memoised hashes per column).

    Examples
    --------
    >>> import numpy as np
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> FastContext({"h": np.array([2, 0])}, Fitted({}, {}), {})(ident("h", 3)).values.ravel().tolist()
    [2, 0]
    """

    def __init__(self, data: dict[str, Any], fitted: Fitted, tables: dict[Any, Any]) -> None:
        super().__init__(data, fitted)
        self.tables = tables
        self.raw: dict[str, tuple[str, list] | None] = {}

    def __call__(self, column: Any) -> Encoded:
        if column not in self.memo:
            encoded = fast_encode(column, self)
            self.memo[column] = column.encode(self) if encoded is None else encoded
        return self.memo[column]

    def values(self, key: str) -> tuple[str, list] | None:
        """``("str", values)`` or ``("int", values)`` for a 1-D array the fast path reads, else None."""
        if key not in self.raw:
            self.raw[key] = _classify(self.data.get(key))
        return self.raw[key]


def _classify(array: Any) -> tuple[str, list] | None:
    if type(array) is not np.ndarray or array.ndim != 1:
        return None
    kind = array.dtype.kind
    if kind == "i":
        return "int", array.tolist()
    if kind == "O":
        values = array.tolist()
        types = set(map(type, values))
        if float in types:  # NaN is missing, as None (another float is not text)
            values = [None if type(v) is float and v != v else v for v in values]
            types = set(map(type, values))
        if types <= _STR_TYPES and _utf8("".join(values if _NONE not in types else filter(None, values))):
            return "str", values
    return None


def _utf8(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (a lone surrogate does not: the general path raises for it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fast_encode(column: Any, ctx: FastContext) -> Encoded | None:
    """``column``'s encoding of ``ctx.data`` by the fast path, or None when the general path must do it.

    Examples
    --------
    >>> import numpy as np
    >>> from estlab.features import numeric_column
    >>> fast_encode(numeric_column("x"), FastContext({"x": np.array([1.0])}, Fitted({}, {}), {})) is None
    True
    """
    encoder = _ENCODERS.get(type(column))
    return None if encoder is None else encoder(column, ctx)


# ----- vocabularies ----------------------------------------------------------------------------------
class _VocabTable:
    """A vocabulary as a dict (value -> id), its kind, and memoised ids of values outside it."""

    def __init__(self, vocab: Any, kind: str | None) -> None:
        self.vocab = vocab
        self.size = len(vocab)
        self.kind = kind
        self.ids = {v: i for i, v in enumerate(vocab)} if kind is not None else {}
        self.oov: dict[Any, int] = {}


def _vocab_table(column: Any, vocab: Any, tables: dict[Any, Any]) -> _VocabTable:
    table = tables.get(column)
    if table is None or table.vocab is not vocab or table.size != len(vocab):
        types = set(map(type, vocab))
        kind = "str" if types == {str} else "int" if types == {int} else None
        table = _VocabTable(vocab, kind)
        if len(table.ids) != len(vocab):  # duplicates: the general path says what is wrong
            table.kind = None
        tables[column] = table
    return table


def _hash_buckets(values: list, kind: str, size: int) -> list[int]:
    array = np.array(values, dtype=object if kind == "str" else np.int64)
    return hashing.bucket(hashing.hash_strings(array), size).tolist()


def _vocabulary(column: Any, ctx: FastContext) -> Encoded | None:
    raw = ctx.values(column.key)
    if raw is None:
        return None
    kind, values = raw
    table = _vocab_table(column, column.vocabulary_of(ctx.fitted), ctx.tables)
    if table.kind != kind:
        return None  # a type mismatch (the general path explains it) or an unusual vocabulary
    num_oov = column.num_oov_buckets
    missing_id = table.size if num_oov > 0 else column._default_id()
    padding = "" if kind == "str" else -1
    ids = table.ids
    outside = list(dict.fromkeys(v for v in values if v is not None and v != padding and v not in ids))
    if num_oov > 1:
        oov = _memoised(
            table.oov, outside, lambda new: [table.size + b for b in _hash_buckets(new, kind, num_oov)]
        )
    else:  # one slot (or none): every unknown value gets the same id, no hashing needed
        oov = dict.fromkeys(outside, table.size if num_oov == 1 else column._default_id())
    out = [
        missing_id if v is None else -1 if v == padding else ids[v] if v in ids else oov[v] for v in values
    ]
    return Encoded(np.array(out, dtype=np.int64).reshape(len(values), 1))


_ABSENT = object()


def _memoised(memo: dict[Any, Any], wanted: list, compute: Callable[[list], list]) -> dict[Any, Any]:
    """The results for ``wanted`` (distinct values): memoised ones from ``memo``, the others computed and added.

    Returns its own dict: another thread may clear ``memo`` (bounded by ``MEMO_SIZE``) meanwhile.
    """
    found: dict[Any, Any] = {}
    new = []
    for value in wanted:
        hit = memo.get(value, _ABSENT)
        if hit is _ABSENT:
            new.append(value)
        else:
            found[value] = hit
    if new:
        results = dict(zip(new, compute(new), strict=True))
        found.update(results)
        if len(memo) > MEMO_SIZE:
            memo.clear()
        memo.update(results)
    return found


# ----- hashing ---------------------------------------------------------------------------------------
def _memo_hashes(kind: str, values: list, ctx: FastContext) -> dict[Any, int]:
    """``hash_strings`` of each distinct non-missing value (memoised: a value's hash never changes)."""
    wanted = list(dict.fromkeys(v for v in values if v is not None))
    array_type = object if kind == "str" else np.int64
    return _memoised(
        ctx.tables.setdefault(("hash", kind), {}),
        wanted,
        lambda new: hashing.hash_strings(np.array(new, dtype=array_type)).tolist(),
    )


def _hashed(column: HashedColumn, ctx: FastContext) -> Encoded | None:
    raw = ctx.values(column.key)
    if raw is None:
        return None
    kind, values = raw
    padding = "" if kind == "str" else -1
    memo = _memo_hashes(kind, values, ctx)
    size = column.hash_bucket_size
    out = [-1 if v is None or v == padding else memo[v] % size for v in values]
    return Encoded(np.array(out, dtype=np.int64).reshape(len(values), 1))


def _crossed(column: CrossedColumn, ctx: FastContext) -> Encoded | None:
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for part in column.keys:
        if isinstance(part, str):
            raw = ctx.values(part)
            if raw is None:
                return None
            kind, values = raw
            memo = _memo_hashes(kind, values, ctx)
            h = np.array([0 if v is None else memo[v] for v in values], dtype=np.uint64).reshape(-1, 1)
            valid = np.array([v is not None for v in values], dtype=bool).reshape(-1, 1)
            parts.append((h, valid))
        else:
            parts.append(column.id_hashes(*_cross_entries(part, ctx)))
    return column.cross(parts)


_VOCABULARY_KINDS = (VocabularyListColumn, VocabularyFileColumn, LearnedVocabularyColumn)


def _cross_entries(part: Any, ctx: FastContext) -> tuple[np.ndarray, np.ndarray]:
    """``part.cross_entries(ctx)`` without pandas for a vocabulary column read from a plain 1-D array.

    An out-of-vocabulary value (id ``-1`` without OOV buckets or default) is an entry; padding and None are not.
    """
    ids = part.ids(ctx)
    if isinstance(part, _VOCABULARY_KINDS) and part.num_oov_buckets == 0 and part._default_id() == -1:
        raw = ctx.values(part.key)
        if raw is not None:
            kind, values = raw
            padding = "" if kind == "str" else -1
            entry = np.array([v is not None and v != padding for v in values], dtype=bool).reshape(len(values), 1)
            return ids, entry | (ids >= 0)
    return part.cross_entries(ctx)


# ----- numbers as ids, weights ------------------------------------------------------------------------
def _numbers(array: Any) -> np.ndarray | None:
    """float64 values of a 1-D signed-integer or float array (what ``numeric_series`` gives), else None."""
    if type(array) is not np.ndarray or array.ndim != 1 or array.dtype.kind not in "if":
        return None
    return array.astype(np.float64)


def _identity(column: IdentityColumn, ctx: FastContext) -> Encoded | None:
    x = _numbers(ctx.data.get(column.key))
    if x is None:
        return None
    return Encoded(column.ids_of(x).reshape(len(x), 1))


def _weighted(column: WeightedCategoricalColumn, ctx: FastContext) -> Encoded | None:
    w = _numbers(ctx.data.get(column.weight_feature_key))
    if w is None:
        return None
    ids = column.categorical_column.ids(ctx)
    return column.weigh(ids, w, lambda values: values.reshape(len(w), 1))


_ENCODERS: dict[type, Callable[[Any, FastContext], Encoded | None]] = {
    VocabularyListColumn: _vocabulary,
    VocabularyFileColumn: _vocabulary,
    LearnedVocabularyColumn: _vocabulary,
    HashedColumn: _hashed,
    CrossedColumn: _crossed,
    IdentityColumn: _identity,
    WeightedCategoricalColumn: _weighted,
}

__all__ = ["FAST_ROWS", "FastContext", "fast_encode"]
