"""resolve_input: every accepted kind of input, and the errors for the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab.datasets import load_penguins
from estlab.inputs import InputFn, StreamingInput, numpy_input_fn, pandas_input_fn, resolve_input


def test_input_fn_is_returned_as_is():
    fn = numpy_input_fn({"a": np.arange(3)}, shuffle=False)
    assert resolve_input(fn, label="ignored", batch_size=1) is fn


def test_dataframe_with_label(tiny_frame, seed):
    fn = resolve_input(tiny_frame, label="label", batch_size=3, num_epochs=1, shuffle=False, seed=seed)
    assert fn.feature_names == ["age", "hours", "color", "city", "user_id"]
    assert fn.labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert (fn.batch_size, fn.num_epochs, fn.shuffle, fn.seed) == (3, 1, False, seed)
    assert "label" in tiny_frame.columns  # the caller's frame is untouched


def test_defaults_are_training_defaults(tiny_frame):
    fn = resolve_input(tiny_frame, label="label")
    assert (fn.batch_size, fn.num_epochs, fn.shuffle) == (128, None, True)


def test_dataframe_without_label_is_for_predict(tiny_frame):
    fn = resolve_input(tiny_frame, shuffle=False, num_epochs=1)
    assert fn.labels is None and "label" in fn.feature_names


def test_a_column_named_target_is_fine(tiny_frame):
    frame = tiny_frame.rename(columns={"city": "target"})
    assert "target" in resolve_input(frame, label="label").feature_names


def test_missing_label_lists_close_names():
    frame = load_penguins().train
    with pytest.raises(
        ValueError, match=r"label 'specie' is not a column of the DataFrame. Did you mean 'species'"
    ):
        resolve_input(frame, label="specie")
    with pytest.raises(ValueError, match=r"label 'Species' .*Did you mean 'species'"):
        resolve_input(frame, label="Species")


def test_multi_label_list_gives_dataframe_labels(tiny_frame):
    fn = resolve_input(tiny_frame, label=["label", "hours"], shuffle=False)
    assert list(fn.labels.columns) == ["label", "hours"]
    assert "hours" not in fn.feature_names


def test_dict_of_arrays():
    data = {"a": np.arange(4), "y": np.array([1, 0, 1, 0])}
    fn = resolve_input(data, label="y", shuffle=False, num_epochs=1)
    assert fn.feature_names == ["a"] and fn.labels.tolist() == [1, 0, 1, 0]
    assert "y" in data
    with pytest.raises(ValueError, match=r"label 'z' is not a key of the dict. Available: \['a', 'y'\]"):
        resolve_input(data, label="z")


def test_callable_returning_frame_and_series(tiny_frame):
    def input_fn():
        return tiny_frame.drop(columns="label"), tiny_frame["label"]

    fn = resolve_input(input_fn, shuffle=False, num_epochs=1)
    assert fn.labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert "label" not in fn.feature_names


def test_callable_returning_dict_and_series():
    fn = resolve_input(lambda: ({"a": [1.0, 2.0]}, pd.Series([3, 4])), shuffle=False)
    assert fn.features["a"].tolist() == [1.0, 2.0] and fn.labels.tolist() == [3, 4]


def test_callable_returning_features_only_or_whole_frame(tiny_frame):
    assert resolve_input(lambda: {"a": np.arange(2)}).labels is None
    fn = resolve_input(lambda: tiny_frame, label="label")
    assert fn.labels.tolist() == tiny_frame["label"].tolist()


def test_callable_returning_input_fn():
    inner = pandas_input_fn(pd.DataFrame({"a": [1]}), shuffle=False)
    assert resolve_input(lambda: inner) is inner


def test_callable_with_misaligned_index_gets_tf_error(tiny_frame):
    def input_fn():
        labels = tiny_frame["label"].set_axis(range(10, 18))
        return tiny_frame.drop(columns="label"), labels

    with pytest.raises(ValueError, match=r"Index for x and y are mismatched"):
        resolve_input(input_fn)


def test_generators_are_batched_inputs_not_refused():
    # issue 10 item 3: generators were refused ("Return the whole data, not a dataset or generator"); they are
    # batched inputs now, read lazily (nothing is pulled by resolving)
    from estlab.inputs.batched import BatchedInput

    pulled = []

    def make():
        pulled.append(1)
        yield {"a": np.arange(2)}

    assert isinstance(resolve_input(x for x in range(3)), BatchedInput)
    data = resolve_input(make)
    assert isinstance(data, BatchedInput) and pulled == []
    assert [b.features["a"].tolist() for b in data.batches()] == [[0, 1]]


def test_unsupported_inputs():
    with pytest.raises(TypeError, match=r"input must be an InputFn, a DataFrame, .*; got int"):
        resolve_input(3)
    with pytest.raises(TypeError, match=r"input function 'make' must return .*; got int"):

        def make():
            return 3

        resolve_input(make)
    with pytest.raises(TypeError, match=r"label must be a column name or a non-empty list of names; got 3"):
        resolve_input(pd.DataFrame({"a": [1]}), label=3)


def test_result_is_an_input_fn(tiny_frame):
    assert isinstance(resolve_input(tiny_frame, label="label"), InputFn)


def test_csv_path_is_read_whole(tmp_path, tiny_frame):
    path = tmp_path / "data.csv"
    tiny_frame.to_csv(path, index=False)
    fn = resolve_input(path, label="label", shuffle=False)
    assert isinstance(fn, InputFn)
    assert fn.labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert fn.features["hours"].tolist() == tiny_frame["hours"].tolist()


def test_parquet_path_streams_and_streaming_input_passes_through(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": np.arange(5.0), "y": [0, 1, 0, 1, 1]}).to_parquet(path, row_group_size=2)
    source = resolve_input(str(path), label="y", batch_size=2, num_epochs=1, shuffle=False)
    assert isinstance(source, StreamingInput)
    assert [labels.tolist() for _, labels in source()] == [[0, 1], [0, 1], [1]]
    assert resolve_input(source) is source
    assert resolve_input(lambda: source) is source


def test_unknown_path_kind():
    with pytest.raises(ValueError, match=r"input path 'data.txt' is neither a .parquet file"):
        resolve_input("data.txt")
