"""pandas_input_fn: TF's argument checks and exact batch contents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab.inputs import InputFn, pandas_input_fn


def _frame(n: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    x = pd.DataFrame({"a": np.arange(n, dtype=float), "s": [f"r{i}" for i in range(n)]})
    return x, pd.Series(np.arange(n) * 10, name="y")


def test_unshuffled_batches_are_ordered_and_complete():
    x, y = _frame()
    fn = pandas_input_fn(x, y, batch_size=128, shuffle=False)
    batches = list(fn())
    assert [len(f["a"]) for f, _ in batches] == [128, 128, 44]
    assert np.array_equal(np.concatenate([f["a"] for f, _ in batches]), np.arange(300.0))
    assert np.array_equal(np.concatenate([lab for _, lab in batches]), np.arange(300) * 10)
    assert set(batches[0][0]) == {"a", "s"}
    assert batches[0][0]["s"][:2].tolist() == ["r0", "r1"]


def test_shuffled_labels_stay_aligned(seed):
    x, y = _frame(100)
    fn = pandas_input_fn(x, y, batch_size=32, num_epochs=2, shuffle=True, seed=seed)
    seen = []
    for features, labels in fn():
        assert np.array_equal(labels, features["a"].astype(int) * 10)
        assert features["s"].tolist() == [f"r{int(a)}" for a in features["a"]]
        seen.extend(features["a"].astype(int).tolist())
    assert sorted(seen) == sorted(list(range(100)) * 2)
    assert seen[:100] != list(range(100))


def test_same_seed_same_batches(seed):
    x, y = _frame(50)

    def run():
        return [f["a"].tolist() for f, _ in pandas_input_fn(x, y, batch_size=8, shuffle=True, seed=seed)()]

    assert run() == run()


def test_introspection():
    x, y = _frame(10)
    fn = pandas_input_fn(x, y, batch_size=4, num_epochs=None, shuffle=True, seed=3)
    assert isinstance(fn, InputFn)
    assert fn.features.equals(x)
    assert fn.labels.equals(y)
    assert (fn.batch_size, fn.num_epochs, fn.shuffle, fn.seed, fn.num_rows) == (4, None, True, 3, 10)
    assert fn.feature_names == ["a", "s"]


def test_no_labels_gives_none():
    x, _ = _frame(3)
    [(features, labels)] = list(pandas_input_fn(x, shuffle=False)())
    assert labels is None
    assert features["a"].tolist() == [0.0, 1.0, 2.0]


def test_dataframe_target_gives_dict_labels():
    x, _ = _frame(4)
    y = pd.DataFrame({"a": [1, 2, 3, 4], "b": [5, 6, 7, 8]})
    [(_, labels)] = list(pandas_input_fn(x, y, shuffle=False)())
    assert {k: v.tolist() for k, v in labels.items()} == {"a": [1, 2, 3, 4], "b": [5, 6, 7, 8]}


def test_array_target_of_right_length_is_accepted():
    x, _ = _frame(3)
    [(_, labels)] = list(pandas_input_fn(x, np.array([1, 0, 1]), shuffle=False)())
    assert labels.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"y must have one row per row of x \(3\); got shape \(2,\)"):
        pandas_input_fn(x, np.array([1, 0]), shuffle=False)


def test_pandas_string_and_missing_values_pass_through(tiny_frame):
    fn = pandas_input_fn(tiny_frame.drop(columns="label"), tiny_frame["label"], batch_size=8, shuffle=False)
    [(features, labels)] = list(fn())
    assert features["color"][3] is None or pd.isna(features["color"][3])
    assert np.isnan(features["age"][4])
    assert labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]


def test_later_changes_to_the_frame_do_not_leak():
    x, y = _frame(3)
    fn = pandas_input_fn(x, y, shuffle=False)
    x.loc[0, "a"] = 99.0
    assert fn.features["a"].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("shuffle", [None, 1, "yes"])
def test_shuffle_must_be_explicit_bool(shuffle):
    x, y = _frame(3)
    with pytest.raises(ValueError, match=r"shuffle must be provided and explicitly set as boolean .*got"):
        pandas_input_fn(x, y, shuffle=shuffle)


def test_index_mismatch_raises_tf_error():
    x, y = _frame(3)
    with pytest.raises(
        ValueError, match=r"Index for x and y are mismatched.\nIndex for x: .*\nIndex for y: "
    ):
        pandas_input_fn(x, y.set_axis([5, 6, 7]), shuffle=False)


def test_target_column_clash():
    x, y = _frame(3)
    with pytest.raises(
        ValueError, match=r"Cannot use name a for target column: DataFrame already has a column"
    ):
        pandas_input_fn(x, y, shuffle=False, target_column="a")
    assert pandas_input_fn(x, None, shuffle=False, target_column="a").labels is None


def test_type_errors():
    with pytest.raises(TypeError, match=r"x must be a pandas DataFrame; got dict. .*numpy_input_fn"):
        pandas_input_fn({"a": [1]}, shuffle=False)
    with pytest.raises(TypeError, match=r"target_column must be a string type"):
        pandas_input_fn(pd.DataFrame({"a": [1]}), shuffle=False, target_column=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, r"batch_size must be a positive int; got 0"),
        ({"num_epochs": -1}, r"num_epochs must be a positive int or None \(repeat forever\); got -1"),
        ({"queue_capacity": 0}, r"queue_capacity must be a positive int or None; got 0"),
        ({"num_threads": 0}, r"num_threads must be a positive int; got 0"),
    ],
)
def test_numeric_argument_errors(kwargs, message):
    x, y = _frame(3)
    with pytest.raises(ValueError, match=message):
        pandas_input_fn(x, y, shuffle=False, **kwargs)


def test_empty_frame_fails_when_iterated_with_a_clear_message():
    fn = pandas_input_fn(pd.DataFrame({"a": []}), shuffle=False)
    assert fn.num_rows == 0
    with pytest.raises(ValueError, match=r"num_rows must be a positive int; got 0. The data has no rows"):
        list(fn())
