"""``estlab.inputs.batched``: reading batches, passes and epochs, read-ahead, the train stream's position and
resume, torchrun sharding, and the source over it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.inputs import resolve_input
from estlab.inputs.batched import (
    Batch,
    BatchedInput,
    BatchStream,
    is_batch_iterable,
    iterable_input_fn,
    to_batch,
)
from estlab.inputs.source import BatchStreamSource, as_source, training_source


def numbered(n_batches, log=None, size=2):
    """Batches ``{"x": [k*size, ...]}, [k, ...]`` for k in range(n_batches); ``log`` records k when read."""
    for k in range(n_batches):
        if log is not None:
            log.append(k)
        yield {"x": np.arange(k * size, (k + 1) * size, dtype=np.float32)}, np.full(size, k)


def encode(batch):
    return {"x": torch.as_tensor(batch.features["x"])}, torch.as_tensor(np.asarray(batch.labels)), None


def served(stream, n=None):
    """Labels (batch numbers) of the next ``n`` batches (all when None) the stream serves."""
    out = []
    for rows in stream:
        out.append(int(stream.labels[rows][0]))
        if n is not None and len(out) == n:
            break
    return out


# ------------------------------------------------------------------ reading one batch


def test_to_batch_reads_every_batch_form():
    pair = to_batch(({"x": torch.tensor([1.0, 2.0])}, torch.tensor([0, 1])))
    assert isinstance(pair.features["x"], np.ndarray) and pair.labels.tolist() == [0, 1]
    assert to_batch([np.zeros((3, 2)), np.ones(3)]).feature_names == ["x"]  # a TensorDataset's [x, y]
    assert to_batch([torch.zeros(4, 2)]).labels is None  # TensorDataset(x) for prediction
    frame = to_batch(pd.DataFrame({"a": [1, 2], "y": [0, 1]}), label="y")
    assert frame.feature_names == ["a"] and frame.labels.tolist() == [0, 1]
    assert to_batch(pd.DataFrame({"a": [1, 2]}), label="y").labels is None  # prediction input lacks the label
    multi = to_batch({"a": [1, 2], "y1": [0, 1], "y2": [1, 0]}, label=["y1", "y2"])
    assert multi.feature_names == ["a"] and sorted(multi.labels) == ["y1", "y2"]
    assert to_batch(({"a": [1]}, None)).labels is None


def test_to_batch_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"a batch must be \(features, labels\) or features; got a tuple of 3"):
        to_batch((1, 2, 3))
    with pytest.raises(ValueError, match=r"same number of rows \(2\); got \{'labels': 3\}"):
        to_batch(({"a": [1, 2]}, [0, 1, 1]))
    with pytest.raises(ValueError, match=r"same number of rows \(2\); got \{'b': 1\}"):
        to_batch({"a": [1, 2], "b": [1]})
    with pytest.raises(TypeError, match=r"features must be a DataFrame, a dict of arrays or an array; got str"):
        to_batch(("abc", [1]))
    with pytest.raises(ValueError, match=r"feature 'a' of a batch is a scalar"):
        to_batch(({"a": 5}, 1))
    with pytest.raises(ValueError, match=r"holds only the label\(s\) \['y'\]"):
        to_batch({"y": [1]}, label="y")


def test_what_counts_as_batches():
    assert is_batch_iterable(numbered(1)) and is_batch_iterable([]) and is_batch_iterable(x for x in [])
    for whole in ({"x": [1]}, pd.DataFrame({"x": [1]}), np.zeros(3), torch.zeros(3), "a.csv", pd.Series([1])):
        assert not is_batch_iterable(whole)
    dataset = torch.utils.data.TensorDataset(torch.zeros(4, 2))
    with pytest.raises(TypeError, match=r"map-style torch Dataset \(TensorDataset\).*DataLoader\(dataset, batch_size"):
        resolve_input(dataset)


# ------------------------------------------------------------------ passes, epochs and read-ahead


def test_a_callable_is_called_once_per_pass_and_its_first_result_reused():
    calls = []

    def input_fn():
        calls.append(1)
        return numbered(2)

    data = resolve_input(input_fn, num_epochs=None)
    assert isinstance(data, BatchedInput) and data.num_epochs == 1 and len(calls) == 1  # TF: once per train call
    assert [b.labels[0] for b in data.batches()] == [0, 1] and len(calls) == 1
    assert [b.labels[0] for b in data.batches()] == [0, 1] and len(calls) == 2
    assert resolve_input(input_fn, num_epochs=3).num_epochs == 3


def test_read_ahead_batches_start_the_next_pass_and_nothing_more_is_read():
    log: list[int] = []
    data = iterable_input_fn(lambda: numbered(5, log))
    assert data.first_batch().labels.tolist() == [0, 0] and log == [0]
    assert [int(b.labels[0]) for b in data.batches()] == [0, 1, 2, 3, 4] and log == [0, 1, 2, 3, 4]


def test_fit_reads_fit_rows_ahead_and_keeps_them_for_training():
    from estlab.features import FeatureTransformer, numeric_column

    log: list[int] = []
    data = iterable_input_fn(lambda: numbered(6, log, size=2), fit_rows=4)
    fitted = data.fit_transformer(FeatureTransformer([numeric_column("x", normalizer="zscore")]))
    assert fitted.state_["numeric"]["x"]["mean"] == [1.5]  # rows 0..3 of 0..11
    assert log == [0, 1, 2]  # two batches fitted on, one more read to know the input goes on
    assert [int(b.labels[0]) for b in data.batches()] == [0, 1, 2, 3, 4, 5] and log == [0, 1, 2, 3, 4, 5]


def test_fit_with_nothing_to_learn_reads_only_the_first_batch():
    from estlab.features import FeatureTransformer, numeric_column

    log: list[int] = []
    data = iterable_input_fn(lambda: numbered(6, log))
    data.fit_transformer(FeatureTransformer([numeric_column("x")]))
    assert log == [0]


def test_an_empty_input_says_so():
    with pytest.raises(ValueError, match=r"the input 'list' yielded no batches"):
        training_source([], label=None, batch_size=1, num_epochs=None, shuffle=False, seed=0, bounded=False)


def test_whole_concatenates_one_pass():
    frames = [pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}), pd.DataFrame({"a": [3.0], "y": [1]})]
    whole = as_source(iterable_input_fn(frames, label="y")).whole("Baseline")
    assert whole.features["a"].tolist() == [1.0, 2.0, 3.0] and whole.labels.tolist() == [0, 1, 1]


# ------------------------------------------------------------------ the train stream


def test_stream_serves_each_batch_whole_with_live_views():
    stream = BatchStream(iterable_input_fn(lambda: numbered(3), num_epochs=2), encode)
    rows = next(stream)
    assert rows.tolist() == [0, 1] and stream.features["x"][rows].tolist() == [0.0, 1.0]
    assert served(stream) == [1, 2, 0, 1, 2]
    assert stream.state_dict() == {"stream": "batches", "epoch": 2, "position": 0,
                                  "input": "test_stream_serves_each_batch_whole_with_live_views.<locals>.<lambda>"}
    assert stream.exhausted


def test_stream_resumes_by_skipping_the_consumed_batches():
    def input_fn():
        return numbered(4, log)

    log: list[int] = []
    first = BatchStream(iterable_input_fn(input_fn, num_epochs=2), encode)
    assert served(first, 3) == [0, 1, 2]
    state = first.state_dict()
    assert state["epoch"] == 0 and state["position"] == 3
    log.clear()
    resumed = BatchStream(iterable_input_fn(input_fn, num_epochs=2), encode)
    resumed.load_state_dict(state)
    assert served(resumed) == [3, 0, 1, 2, 3]
    assert log == [0, 1, 2, 3, 0, 1, 2, 3]  # 0..2 replayed unencoded


def test_stream_resumed_at_the_end_starts_again_and_another_input_starts_fresh():
    def input_fn():
        return numbered(3)

    stream = BatchStream(iterable_input_fn(input_fn), encode)
    stream.load_state_dict({"stream": "batches", "input": "test_stream_resumed_at_the_end_starts_again_and_another_"
                                                          "input_starts_fresh.<locals>.input_fn",
                            "epoch": 0, "position": 3})
    assert served(stream) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"saved input position is for 'other'"):
        stream.load_state_dict({"stream": "batches", "input": "other", "epoch": 0, "position": 1})
    with pytest.raises(ValueError, match=r"is for 'another kind of input'"):
        stream.load_state_dict({"epoch": 0, "position": 1, "seed": 0, "num_rows": 3, "shuffle": False})


def test_a_pass_that_yields_nothing_ends_an_endless_input():
    data = iterable_input_fn(numbered(2), num_epochs=None)  # a generator: its second pass is empty
    stream = BatchStream(data, encode)
    assert served(stream) == [0, 1] and stream.exhausted


def test_ranks_take_alternate_batches_and_step_equally():
    for world, expected in ((2, [[0, 2], [1, 3]]), (3, [[0], [1], [2]])):
        got = [served(BatchStream(iterable_input_fn(lambda: numbered(5)), encode, rank, world))
               for rank in range(world)]
        assert got == expected  # 5 batches: the incomplete last group is dropped on every rank
    source = BatchStreamSource(iterable_input_fn(lambda: numbered(5)))
    assert [int(b.labels[0]) for b in source.one_pass(1, 2)] == [1, 3]  # evaluation keeps every batch
    assert [int(b.labels[0]) for b in source.one_pass(0, 2)] == [0, 2, 4]


def test_source_reports_labels_keys_and_one_batch_per_part():
    source = as_source(resolve_input(lambda: numbered(3)))
    assert isinstance(source, BatchStreamSource)
    assert source.has_labels and source.feature_keys == ["x"]
    assert [isinstance(p, Batch) and p.num_rows for p in source.one_pass()] == [2, 2, 2]
    assert source.batch_size >= 2**62  # no part is split into smaller evaluation batches
    features_only = as_source(resolve_input({"x": np.zeros(2)} for _ in range(2)))
    assert not features_only.has_labels
    with pytest.raises(ValueError, match=r"train: the input has no labels"):
        training_source(({"x": np.zeros(2)} for _ in range(2)), label=None, batch_size=1, num_epochs=None,
                        shuffle=False, seed=0, bounded=False)
