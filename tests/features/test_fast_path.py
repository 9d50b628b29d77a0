"""The small-input fast path (estlab/features/fast.py) encodes exactly as the general path, or defers to it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estlab.features import (
    FeatureTransformer,
    bucketized_column,
    categorical_column_with_hash_bucket,
    categorical_column_with_identity,
    categorical_column_with_learned_vocabulary,
    categorical_column_with_vocabulary_file,
    categorical_column_with_vocabulary_list,
    crossed_column,
    numeric_column,
    weighted_categorical_column,
)
from estlab.features.categorical import _arrow_lookup
from estlab.features.encode import EncodeContext
from estlab.features.fast import FAST_ROWS, FastContext, fast_encode

ROWS = 12
TRAIN = {
    "s": np.array(["a", "b", "a", "", "c", "é", "b"], dtype=object),
    "i": np.array([1, 2, 2, -1, 5, 3, 1]),
    "x": np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5]),
    "w": np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 2.0]),
}


def _columns(tmp_path: Any) -> list:
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("b\na\n\nzz\n", encoding="utf-8")
    s_list = categorical_column_with_vocabulary_list("s", ["a", "b", "", "é"])
    i_list = categorical_column_with_vocabulary_list("i", [5, 1, -1, 2], num_oov_buckets=3)
    identity = categorical_column_with_identity("i", 6)
    return [
        s_list,
        categorical_column_with_vocabulary_list("s", ["a", "b", "c"], default_value=1),
        categorical_column_with_vocabulary_list("s", ["b", "a"], num_oov_buckets=1),
        categorical_column_with_vocabulary_list("s", ["b", "a", "q"], num_oov_buckets=4),
        i_list,
        categorical_column_with_vocabulary_list("i", [3, 1], default_value=0),
        categorical_column_with_vocabulary_file("s", vocab_file, num_oov_buckets=2),
        categorical_column_with_learned_vocabulary("s"),
        categorical_column_with_learned_vocabulary("s", num_oov_buckets=0),
        categorical_column_with_learned_vocabulary("s", num_oov_buckets=5),
        categorical_column_with_learned_vocabulary("i", num_oov_buckets=2),
        categorical_column_with_learned_vocabulary("x"),  # a vocabulary of floats: always the general path
        categorical_column_with_hash_bucket("s", 7),
        categorical_column_with_hash_bucket("i", 5, dtype=int),
        identity,
        categorical_column_with_identity("i", 4, default_value=2),
        weighted_categorical_column(s_list, "w"),
        weighted_categorical_column(identity, "w"),
        crossed_column(["s", "i"], 11),
        crossed_column(["s", bucketized_column(numeric_column("x", default_value=0.0), [1.0, 3.0])], 13),
        crossed_column([i_list, "s"], 17, hash_key=5),
        numeric_column("x", default_value=-2.0),
    ]


@pytest.fixture(scope="module")
def transformer(tmp_path_factory: pytest.TempPathFactory) -> FeatureTransformer:
    return FeatureTransformer(_columns(tmp_path_factory.mktemp("vocab"))).fit(TRAIN)


def _outcome(ctx: EncodeContext, column: Any) -> Any:
    try:
        encoded = ctx(column)
    except Exception as error:  # noqa: BLE001 - the same error either way is the point
        return ("error", type(error), str(error))
    weights = None if encoded.weights is None else (encoded.weights.dtype, encoded.weights.tolist())
    return ("ok", encoded.values.dtype, encoded.values.shape, encoded.values.tolist(), weights)


def _same(ft: FeatureTransformer, data: dict[str, Any]) -> list[bool]:
    """Assert both paths agree on every column; return, per column, whether the fast path took it."""
    fitted = ft._fitted
    took = []
    for column in ft._all:
        general = _outcome(EncodeContext(data, fitted), column)
        fast = _outcome(FastContext(data, fitted, ft.__dict__.setdefault("_fast_tables", {})), column)
        assert fast == general, (column, data)
        took.append(
            fast_encode(column, FastContext(data, fitted, {})) is not None if general[0] == "ok" else False
        )
    return took


TEXT = st.one_of(
    st.sampled_from(["a", "b", "c", "", "é", "zz", "q", "unseen", "a b", "B", "1", "-1", "\x00", "🙂"]),
    st.text(max_size=3),
    st.sampled_from(["\ud800", "x\udfff"]),
)
INTS = st.sampled_from([0, 1, 2, 3, 5, 7, -1, -2, 6, 2**40, -(2**62)])


def _arrays(n: int) -> st.SearchStrategy[Any]:
    text_obj = st.lists(st.one_of(TEXT, st.none(), st.just(np.nan)), min_size=n, max_size=n).map(_objects)
    ints = st.lists(INTS, min_size=n, max_size=n)
    floats = st.lists(
        st.one_of(st.sampled_from([0.0, 1.0, 2.5, -1.0, 5.0, 1e300]), st.just(np.nan)), min_size=n, max_size=n
    )
    odd_scalar = st.one_of(
        TEXT,
        st.none(),
        INTS,
        st.just(np.nan),
        st.sampled_from([b"a", b"\xff", 2.0, True]),
        st.lists(TEXT, max_size=3),
    )
    return st.one_of(
        text_obj,
        text_obj,
        ints.map(lambda v: np.array(v, dtype=np.int64)),
        ints.map(lambda v: np.array([x % 100 for x in v], dtype=np.int32)),
        floats.map(lambda v: np.array(v, dtype=np.float64)),
        st.lists(TEXT, min_size=n, max_size=n).map(lambda v: np.array(v)),  # numpy 'U' strings
        st.lists(odd_scalar, min_size=n, max_size=n).map(_objects),  # bytes, lists per row, mixed types
        st.lists(TEXT, min_size=n, max_size=n),  # a plain list
        st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v)),
        st.lists(TEXT, min_size=2 * n, max_size=2 * n).map(lambda v: np.array(v, dtype=object).reshape(n, 2)),
    )


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@st.composite
def inputs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=0, max_value=ROWS))
    return {key: draw(_arrays(n)) for key in ("s", "i", "x", "w")}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=inputs())
def test_fast_path_matches_general_path(transformer: FeatureTransformer, data: dict[str, Any]) -> None:
    _same(transformer, data)


def test_fast_path_takes_plain_arrays(transformer: FeatureTransformer) -> None:
    data = {
        "s": _objects(["a", None, "", "unseen", "é", "b", "zz"]),
        "i": np.array([1, 5, -1, 2, 9, 0, 3]),
        "x": np.array([0.0, 2.0, np.nan, 4.0, 1.0, 1.0, 3.0]),
        "w": np.array([1.0, 2.0, 3.0, 0.5, 0.0, 1.0, 2.0]),
    }
    took = dict(zip(transformer._all, _same(transformer, data), strict=True))
    # identity("i", 6) refuses 9 (the general path raises the error); everything else categorical is fast
    fast = {c.name for c, t in took.items() if t}
    assert fast == {"s", "i", "s_X_x_bucketized", "i_X_s", "s_weighted_by_w"}
    assert not took[categorical_column_with_learned_vocabulary("x")]


def test_fast_path_known_ids(transformer: FeatureTransformer) -> None:
    s = categorical_column_with_vocabulary_list("s", ["a", "b", "", "é"])
    data = {"s": _objects(["é", "", None, "a", "nope"])}
    ctx = FastContext(data, transformer._fitted, {})
    assert fast_encode(s, ctx).values.ravel().tolist() == [3, -1, -1, 0, -1]
    learned = categorical_column_with_learned_vocabulary("s")
    ids = fast_encode(learned, ctx).values.ravel().tolist()
    vocab = transformer.vocabulary(learned)
    assert ids == [vocab.index("é"), -1, len(vocab), vocab.index("a"), len(vocab)]


def test_transform_uses_fast_path_and_agrees_with_frames(transformer: FeatureTransformer) -> None:
    rng = np.random.default_rng(0)
    n = 300
    data = {
        "s": _objects(rng.choice(np.array(["a", "b", "", "c", "new", None], dtype=object), n).tolist()),
        "i": rng.choice([1, 2, 5, 3, 4, 0], n),
        "x": rng.normal(2.0, 2.0, n),
        "w": rng.uniform(0.0, 3.0, n),
    }
    assert n <= FAST_ROWS
    got = transformer.transform(data)
    frame = pd.DataFrame(data)  # a DataFrame always takes the general path
    want = transformer.transform(frame)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == want[key].dtype and got[key].tolist() == want[key].tolist(), key


def test_memo_survives_refit() -> None:
    col = categorical_column_with_learned_vocabulary("c", num_oov_buckets=0)
    ft = FeatureTransformer([col]).fit({"c": ["a", "b", "b"]})
    request = {"c": _objects(["a", "b"])}
    assert ft.transform(request)["c"].ravel().tolist() == [1, 0]
    ft.fit({"c": ["a", "a", "b"]})
    assert ft.transform(request)["c"].ravel().tolist() == [0, 1]


TEXTS = st.lists(
    st.one_of(TEXT.filter(lambda t: "\ud800" not in t and "\udfff" not in t), st.none()), max_size=40
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=TEXTS)
def test_arrow_text_lookup_matches_object_lookup(transformer: FeatureTransformer, values: list) -> None:
    """Arrow-backed strings (pandas 3's default, looked up with ``pyarrow.compute.index_in``) = object strings."""
    import pyarrow as pa

    fitted = transformer._fitted
    for dtype in ("str", pd.ArrowDtype(pa.string()), pd.ArrowDtype(pa.large_string())):
        arrow = pd.DataFrame({"s": pd.Series(values, dtype=dtype), "i": np.ones(len(values), dtype=np.int64)})
        assert _arrow_lookup(arrow["s"], ("a", ""), 0, -1) is not None
        plain = pd.DataFrame({"s": pd.Series(values, dtype=object), "i": arrow["i"]})
        for column in transformer._all:
            if "s" in column.parents:
                got = _outcome(EncodeContext(arrow, fitted), column)
                assert got == _outcome(EncodeContext(plain, fitted), column), (column, dtype)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=inputs())
def test_object_strings_encode_as_arrow_strings(
    transformer: FeatureTransformer, data: dict[str, Any]
) -> None:
    """A dict's object array of strings (kept as object) encodes as the same strings in a DataFrame (Arrow)."""
    text = {k: v for k, v in data.items() if isinstance(v, np.ndarray) and v.dtype == object and v.ndim == 1}
    if not text:
        return
    for key in list(text):
        try:
            pd.Series(text[key])
        except UnicodeEncodeError:  # a lone surrogate: pandas refuses it, and so does the dict's encoding
            with pytest.raises(UnicodeEncodeError):
                EncodeContext(text, transformer._fitted)(categorical_column_with_hash_bucket(key, 7))
            del text[key]
    frame = pd.DataFrame(text)
    fitted = transformer._fitted
    for column in transformer._all:
        if set(column.parents) <= set(text):
            assert _outcome(EncodeContext(text, fitted), column) == _outcome(
                EncodeContext(frame, fitted), column
            )


def _first_listlike_reference(values: Any) -> bool:
    nonnull = pd.Series(values, dtype=object).dropna()  # as pd.Series(values) (which refuses lone surrogates)
    return bool(len(nonnull)) and isinstance(nonnull.iloc[0], (list, tuple, np.ndarray, set))


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.just(np.nan),
            st.just(pd.NA),
            TEXT,
            INTS,
            st.lists(TEXT, max_size=2),
            st.just(pd.NaT),
            st.just({"a": 1}),
        ),
        max_size=6,
    )
)
def test_first_listlike(values: list) -> None:
    from estlab.features.raw import _first_listlike

    assert _first_listlike(_objects(values)) == _first_listlike_reference(_objects(values))


def test_memoised_hashes_stay_bounded_and_exact() -> None:
    from estlab.features.fast import MEMO_SIZE

    hashed = categorical_column_with_hash_bucket("c", 1000)
    vocab = categorical_column_with_vocabulary_list("c", ["v0", "v1"], num_oov_buckets=7)
    ft = FeatureTransformer([hashed, vocab])
    batches = MEMO_SIZE // FAST_ROWS + 2
    for b in range(batches):
        data = {"c": _objects([f"v{b * FAST_ROWS + i}" for i in range(FAST_ROWS)])}
        got = ft.transform(data)
        if b in (0, batches - 1):
            frame = ft.transform(pd.DataFrame(data))
            assert all(got[k].tolist() == frame[k].tolist() for k in frame)
    assert all(
        len(memo) <= MEMO_SIZE + FAST_ROWS for memo in ft._fast_tables.values() if isinstance(memo, dict)
    )
    assert len(ft._fast_tables[vocab].oov) <= MEMO_SIZE + FAST_ROWS
