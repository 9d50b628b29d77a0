"""InputFn: the introspection contract a training loop relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.inputs import InputFn


def test_loop_can_batch_by_index_with_the_same_rows_as_calling(seed):
    frame = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30) % 3})
    fn = InputFn(frame, pd.Series(np.arange(30) * 2), batch_size=7, num_epochs=2, shuffle=True, seed=seed)
    encoded = {name: torch.tensor(frame[name].to_numpy()) for name in frame}
    by_index = [{k: v[idx].tolist() for k, v in encoded.items()} for idx in fn.batcher()]
    by_call = [{k: v.tolist() for k, v in features.items()} for features, _ in fn()]
    assert by_index == by_call
    assert len(by_call) == 10


def test_gather_accepts_tensor_array_and_slice():
    fn = InputFn({"x": np.arange(5)}, {"t": np.arange(5) * 10})
    for index in (torch.tensor([4, 1]), np.array([4, 1])):
        features, labels = fn.gather(index)
        assert features["x"].tolist() == [4, 1] and labels["t"].tolist() == [40, 10]
    features, labels = fn.gather(slice(1, 3))
    assert features["x"].tolist() == [1, 2] and labels["t"].tolist() == [10, 20]


def test_batcher_seed_override_and_with_options(seed):
    fn = InputFn({"x": np.arange(20)}, batch_size=5, shuffle=True, seed=seed)
    assert fn.batcher().seed == seed
    assert fn.batcher(seed=7).seed == 7
    evaluation = fn.with_options(num_epochs=1, shuffle=False)
    assert [f["x"].tolist() for f, _ in evaluation()] == [list(range(i, i + 5)) for i in range(0, 20, 5)]
    assert fn.shuffle is True


def test_each_call_restarts_from_the_beginning(seed):
    fn = InputFn({"x": np.arange(9)}, batch_size=4, shuffle=True, seed=seed)
    assert [f["x"].tolist() for f, _ in fn()] == [f["x"].tolist() for f, _ in fn()]


def test_repr_and_frozen():
    fn = InputFn(pd.DataFrame({"a": [1, 2]}), np.array([0, 1]), batch_size=2, seed=1)
    assert repr(fn) == (
        "InputFn(DataFrame: 2 rows x 1 features, labels=yes, batch_size=2, num_epochs=1, shuffle=False, seed=1)"
    )
    with pytest.raises(AttributeError):
        fn.batch_size = 3


def test_validation_messages():
    with pytest.raises(TypeError, match=r"features must be a pandas DataFrame or a dict of arrays; got list"):
        InputFn([1, 2])
    with pytest.raises(ValueError, match=r"All feature arrays must have the same length; got lengths"):
        InputFn({"a": np.arange(2), "b": np.arange(3)})
    with pytest.raises(ValueError, match=r"labels have 3 rows but features have 2"):
        InputFn({"a": np.arange(2)}, np.arange(3))
    with pytest.raises(ValueError, match=r"got a scalar 5"):
        InputFn({"a": 5})
