"""A cross over a vocabulary column hashes an out-of-vocabulary value's id ``-1``, as TF does.

TF's vocabulary lookup (``index_table_from_tensor(..., default_value=-1)``) maps an OOV value to ``-1`` and keeps
it as an entry of the sparse id tensor; ``crossed_column`` passes that id tensor to ``sparse_cross_hashed``, which
hashes every entry. Only padding (``''``, ``-1``, dropped before the lookup) and absent values give no entry. So
every OOV value of a row crosses like one more id: all OOV values give the same crossed id.
"""

from __future__ import annotations

import numpy as np
import pytest

from estlab import feature_column as fc
from estlab.features import FeatureTransformer, hashing
from estlab.features.crossed import _DEFAULT_SEED
from estlab.features.encode import EncodeContext, Fitted
from estlab.features.fast import FastContext

SIZE = 1000


def crossed_ids(column, data) -> list:
    ft = FeatureTransformer([column])
    return ft.transform(data)[ft.encoded_key(column)].tolist()


def expected_id(first_id: int, second_value: str) -> int:
    """The crossed id of a vocabulary id (``-1`` included) and a raw string, built from the hash primitives."""
    seed = np.full((1,), _DEFAULT_SEED, dtype=np.uint64)
    id_hash = hashing.fmix64(np.array([first_id], dtype=np.int64).astype(np.uint64) + np.uint64(1))
    h = hashing.combine(
        hashing.combine(seed, id_hash), hashing.hash_strings(np.array([second_value], dtype=object))
    )
    return int(hashing.bucket(h, SIZE)[0])


@pytest.fixture
def cross():
    color = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])  # default_value=-1
    return fc.crossed_column([color, "city"], SIZE)


def test_an_oov_value_is_crossed_as_the_id_minus_one(cross):
    data = {"color": ["red", "green", "purple", "", None, "blue"], "city": ["a", "a", "a", "a", "a", "b"]}
    got = crossed_ids(cross, data)
    assert got == [
        [expected_id(0, "a")],
        [expected_id(-1, "a")],
        [expected_id(-1, "a")],
        [-1],
        [-1],
        [expected_id(1, "b")],
    ]
    assert got[1] == got[2] and got[1][0] >= 0 and got[1] != got[0]  # every OOV value: one crossed id
    assert got[:2] == [[67], [553]]  # pinned: the stable hash must not drift


def test_the_small_input_fast_path_crosses_oov_values_the_same_way(cross):
    data = {
        "color": np.array(["green", "red", "", None], dtype=object),
        "city": np.array(["a"] * 4, dtype=object),
    }
    general = cross.encode(EncodeContext(data, Fitted({}, {}))).values.tolist()
    fast = FastContext(data, Fitted({}, {}), {})(cross).values.tolist()
    assert fast == general == [[expected_id(-1, "a")], [expected_id(0, "a")], [-1], [-1]]


def test_multi_valued_rows_cross_each_entry_oov_included(cross):
    data = {"color": [["red", "zzz"], ["blue", ""]], "city": ["a", "b"]}
    assert crossed_ids(cross, data) == [
        [expected_id(0, "a"), expected_id(-1, "a")],
        [expected_id(1, "b"), -1],
    ]


def test_columns_whose_oov_values_get_an_id_are_unchanged():
    with_default = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"], default_value=1)
    with_oov = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"], num_oov_buckets=1)
    data = {"color": ["green", ""], "city": ["a", "a"]}
    assert crossed_ids(fc.crossed_column([with_default, "city"], SIZE), data) == [[expected_id(1, "a")], [-1]]
    assert crossed_ids(fc.crossed_column([with_oov, "city"], SIZE), data) == [[expected_id(2, "a")], [-1]]
    # an identity column has no OOV entry: an out-of-range value without a default raises, -1 is padding
    hour = fc.categorical_column_with_identity("hour", 24)
    assert crossed_ids(fc.crossed_column([hour, "city"], SIZE), {"hour": [3, -1], "city": ["a", "a"]}) == [
        [expected_id(3, "a")],
        [-1],
    ]


def test_an_indicator_of_the_vocabulary_column_still_drops_the_oov_value():
    color = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])
    ft = FeatureTransformer([fc.indicator_column(color)])
    from estlab.features import DenseFeatures

    assert DenseFeatures([fc.indicator_column(color)], ft)({"color": ["green", "blue"]}).tolist() == [
        [0.0, 0.0],
        [0.0, 1.0],
    ]
