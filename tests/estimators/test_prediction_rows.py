"""predict's per-example dicts: TF's ``{key: value[i]}`` of each batch, built by one dict display per row."""

from __future__ import annotations

import numpy as np
import pytest

from estlab.estimators.inference import _row_builder, single_examples


def _batches() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for n in (3, 0, 2):
        ids = rng.integers(0, 2, (n, 1))
        out.append({
            "logits": rng.normal(size=(n, 1)).astype(np.float32),
            "probabilities": rng.random((n, 2)).astype(np.float32),
            "class_ids": ids,
            "classes": np.array(["no", "yes"], dtype=object)[ids],
            "all_classes": np.tile(np.array(["no", "yes"], dtype=object), (n, 1)),
            "score": rng.normal(size=n),
        })
    return out


def test_rows_are_the_batch_rows_as_tf_yields_them() -> None:
    batches = _batches()
    rows = list(single_examples(iter(batches)))
    want = [(b, i) for b in batches for i in range(len(b["logits"]))]
    assert len(rows) == len(want) == 5
    for row, (batch, i) in zip(rows, want, strict=True):
        assert type(row) is dict and list(row) == list(batch)
        for key, array in batch.items():
            value = row[key]
            expected = array[i]
            assert type(value) is type(expected)
            if isinstance(expected, np.ndarray):
                assert value.dtype == expected.dtype and value.shape == expected.shape
                np.testing.assert_array_equal(value, expected)
                assert np.shares_memory(value, array)  # a view of the batch's array, as array[i]
            else:
                assert value == expected and value.dtype == expected.dtype
    assert rows[0]["classes"][0] in ("no", "yes") and type(rows[0]["classes"][0]) is str
    assert rows[0]["all_classes"] is not rows[1]["all_classes"]


def test_keys_are_bound_as_values_never_as_source() -> None:
    keys = ("a b", "'); raise SystemExit #", 7, ("t", 1), "}")
    build = _row_builder(keys)
    assert build(1, 2, 3, 4, 5) == {"a b": 1, "'); raise SystemExit #": 2, 7: 3, ("t", 1): 4, "}": 5}
    many = tuple(f"k{i}" for i in range(400))
    assert list(_row_builder(many)(*range(400)).values()) == list(range(400))


def test_batches_with_other_keys_get_their_own_rows() -> None:
    batches = [{"a": np.array([1, 2])}, {"b": np.array([3]), "a": np.array([4])}, {}]
    assert list(single_examples(iter(batches))) == [{"a": 1}, {"a": 2}, {"b": 3, "a": 4}]


def test_predictions_of_different_lengths_are_an_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"different numbers of rows: \{'a': 2, 'b': 3\}"):
        list(single_examples(iter([{"a": np.zeros(2), "b": np.zeros(3)}])))
