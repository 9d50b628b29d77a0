"""numpy_input_fn: TF's argument checks and exact batch contents."""

from __future__ import annotations

import numpy as np
import pytest

from estlab.inputs import numpy_input_fn


def test_tf_docstring_example():
    x = {"age": np.arange(4) * 1.0, "height": np.arange(32, 36)}
    fn = numpy_input_fn(x, np.arange(-32, -28), batch_size=2, shuffle=False, num_epochs=1)
    batches = [({k: v.tolist() for k, v in f.items()}, y.tolist()) for f, y in fn()]
    assert batches == [
        ({"age": [0.0, 1.0], "height": [32, 33]}, [-32, -31]),
        ({"age": [2.0, 3.0], "height": [34, 35]}, [-30, -29]),
    ]


def test_shuffled_rows_stay_aligned_across_keys(seed):
    x = {"a": np.arange(20), "b": np.arange(20) * 2, "img": np.arange(20 * 6).reshape(20, 2, 3)}
    fn = numpy_input_fn(x, {"t": np.arange(20) + 100}, batch_size=6, shuffle=True, seed=seed)
    rows = []
    for features, labels in fn():
        assert np.array_equal(features["b"], features["a"] * 2)
        assert np.array_equal(features["img"], np.arange(120).reshape(20, 2, 3)[features["a"]])
        assert np.array_equal(labels["t"], features["a"] + 100)
        rows.extend(features["a"].tolist())
    assert sorted(rows) == list(range(20))
    assert rows != list(range(20))


def test_single_array_becomes_feature_x():
    fn = numpy_input_fn(np.arange(3), shuffle=False)
    [(features, labels)] = list(fn())
    assert list(features) == ["x"] and features["x"].tolist() == [0, 1, 2]
    assert labels is None


def test_lists_are_converted_to_arrays():
    fn = numpy_input_fn({"a": [1, 2, 3]}, [0, 1, 0], shuffle=False)
    assert isinstance(fn.features["a"], np.ndarray)
    assert fn.labels.tolist() == [0, 1, 0]


def test_shuffle_must_be_explicit():
    with pytest.raises(
        ValueError, match=r"shuffle must be provided and explicitly set as boolean .*; got None"
    ):
        numpy_input_fn({"a": np.arange(3)})


def test_length_mismatch_raises_tf_error():
    with pytest.raises(
        ValueError, match=r"Length of tensors in x and y is mismatched.*\nShapes in x: .*'b': \(2,\)"
    ):
        numpy_input_fn({"a": np.arange(3), "b": np.arange(2)}, shuffle=False)
    with pytest.raises(ValueError, match=r"Shapes in y: \(4,\)"):
        numpy_input_fn({"a": np.arange(3)}, np.arange(4), shuffle=False)


def test_empty_and_wrong_inputs():
    with pytest.raises(ValueError, match=r"x cannot be an empty dict"):
        numpy_input_fn({}, shuffle=False)
    with pytest.raises(ValueError, match=r"x cannot be an empty array"):
        numpy_input_fn(np.array([]), shuffle=False)
    with pytest.raises(TypeError, match=r"x must be a dict or array; got list"):
        numpy_input_fn([1, 2], shuffle=False)
    with pytest.raises(ValueError, match=r"y cannot be empty dict, use None instead."):
        numpy_input_fn({"a": np.arange(3)}, {}, shuffle=False)
    with pytest.raises(ValueError, match=r"1 duplicate keys are found in both x and y: \{'a'\}"):
        numpy_input_fn({"a": np.arange(3)}, {"a": np.arange(3)}, shuffle=False)
    with pytest.raises(ValueError, match=r"Length of tensors in x and y is mismatched"):
        numpy_input_fn({"a": np.float64(1.0)}, shuffle=False)
