"""parquet_input_fn / StreamingInput: row-group streaming, shuffling, resume, sharding, sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab.inputs.parquet import Chunk, StreamingInput, TensorStream, fit_transformer, parquet_input_fn


@pytest.fixture
def parquet_path(tmp_path):
    """Two files: 23 + 17 rows in row groups of 5 (9 row groups); row_id 0..39, label = row_id % 2."""
    frame = pd.DataFrame(
        {
            "row_id": np.arange(40),
            "x": np.arange(40) * 0.5,
            "color": (["red", "blue", None, "green"] * 10),
            "label": np.arange(40) % 2,
        }
    )
    folder = tmp_path / "data"
    folder.mkdir()
    frame.iloc[:23].to_parquet(folder / "part-0.parquet", row_group_size=5)
    frame.iloc[23:].to_parquet(folder / "part-1.parquet", row_group_size=5)
    return folder


def batch_ids(source, **kwargs):
    return [x["row_id"].tolist() for x, _ in source.batches(**kwargs)]


def test_batches_cover_all_rows_in_order(parquet_path):
    source = parquet_input_fn(parquet_path, label="label", batch_size=6)
    assert source.streaming and source.features is None
    assert source.num_rows == 40 and source.num_row_groups == 9 and source.steps_per_epoch == 7
    batches = list(source())
    assert [len(x) for x, _ in batches] == [6, 6, 6, 6, 6, 6, 4]
    assert sum((x["row_id"].tolist() for x, _ in batches), []) == list(range(40))
    features, labels = batches[1]
    assert features.columns.tolist() == ["row_id", "x", "color"]
    assert labels.tolist() == [i % 2 for i in range(6, 12)]
    assert features["x"].tolist() == [i * 0.5 for i in range(6, 12)]
    assert features["color"].isna().tolist() == [r % 4 == 2 for r in range(6, 12)]


def test_chunks_hold_whole_batches(parquet_path):
    chunks = list(StreamingInput(parquet_path, label="label", batch_size=4, num_epochs=2).chunks())
    assert all(isinstance(c, Chunk) for c in chunks)
    assert all(len(c.features) % 4 == 0 for c in chunks)
    assert [c.epoch for c in chunks].count(0) == [c.epoch for c in chunks].count(1)
    firsts = [c.first_batch for c in chunks if c.epoch == 0]
    sizes = [c.num_batches for c in chunks if c.epoch == 0]
    assert firsts == list(np.cumsum([0, *sizes[:-1]])) and sum(sizes) == 10


def test_chunk_rows_merges_row_groups(parquet_path):
    chunks = list(StreamingInput(parquet_path, batch_size=4, chunk_rows=16).chunks())
    # row groups 5,5,5,5,3 | 5,5,5,2: merged until >= 16 rows, cut at a multiple of 4
    assert [len(c.features) for c in chunks] == [20, 16, 4]
    assert sum((c.features["row_id"].tolist() for c in chunks), []) == list(range(40))


def test_shuffle_is_a_seeded_permutation_per_epoch(parquet_path):
    source = StreamingInput(parquet_path, label="label", batch_size=8, num_epochs=2, shuffle=True, seed=7)
    ids = batch_ids(source)
    first, second = sum(ids[:5], []), sum(ids[5:], [])
    assert sorted(first) == sorted(second) == list(range(40))
    assert first != list(range(40)) and first != second
    assert batch_ids(StreamingInput(parquet_path, label="label", batch_size=8, num_epochs=2, shuffle=True, seed=7)) == ids
    other = StreamingInput(parquet_path, label="label", batch_size=8, num_epochs=2, shuffle=True, seed=8)
    assert batch_ids(other) != ids


@pytest.mark.parametrize("start", [1, 3, 4, 6, 9])
def test_resume_from_any_position_matches_uninterrupted_run(parquet_path, start):
    source = StreamingInput(parquet_path, label="label", batch_size=6, num_epochs=2, shuffle=True, seed=3)
    full = batch_ids(source)
    epoch, batch = divmod(start, source.steps_per_epoch)
    assert batch_ids(source, epoch=epoch, batch=batch) == full[start:]
    assert source.normalize_position(0, start) == (epoch, batch)


def test_shards_are_disjoint_with_equal_steps(parquet_path):
    base = StreamingInput(parquet_path, label="label", batch_size=4)
    shards = [base.shard(r, 3) for r in range(3)]
    # greedy, largest first: 5s go round-robin (15, 10, 10), then 3 -> rank 1, 2 -> rank 2
    assert [s.rank_rows for s in shards] == [15, 13, 12]
    assert {s.steps_per_epoch for s in shards} == {3}  # min over ranks of ceil(rows / 4)
    seen = [sum(batch_ids(s), []) for s in shards]
    assert [len(ids) for ids in seen] == [12, 12, 12]
    assert not set(seen[0]) & set(seen[1]) and not set(seen[1]) & set(seen[2]) and not set(seen[0]) & set(seen[2])
    # fitting reads everything on every rank unless asked otherwise
    assert sum(len(f) for f in shards[1].iter_frames()) == 40
    assert sum(len(f) for f in shards[1].iter_frames(all_ranks=False)) == 13


def test_too_few_row_groups_for_ranks(parquet_path):
    with pytest.raises(ValueError, match=r"world_size=10 but the data has only 9 row groups.*row_group_size"):
        StreamingInput(parquet_path, label="label").shard(0, 10)


def test_sample_is_uniform_without_replacement(parquet_path):
    source = StreamingInput(parquet_path, label="label")
    sample = source.sample(12, seed=1)
    assert len(sample) == 12 and sample["row_id"].is_unique
    assert sample.columns.tolist() == ["row_id", "x", "color", "label"]
    assert (sample["label"] == sample["row_id"] % 2).all()
    assert sorted(source.sample(100)["row_id"]) == list(range(40))
    counts = np.zeros(40)
    for s in range(60):
        counts[source.sample(20, seed=s)["row_id"].to_numpy()] += 1
    # each row is drawn 30 times on average (binomial sd 3.9); a biased sampler misses these bounds
    assert counts.sum() == 1200 and counts.min() >= 12 and counts.max() <= 48


def test_prediction_input_without_label(parquet_path):
    x, y = next(iter(parquet_input_fn(parquet_path, batch_size=3)()))
    assert y is None and x.columns.tolist() == ["row_id", "x", "color", "label"]


def test_errors_name_the_problem(parquet_path, tmp_path):
    with pytest.raises(KeyError, match=r"label 'target' is not a column.*'row_id'"):
        parquet_input_fn(parquet_path, label="target")
    with pytest.raises(KeyError, match=r"columns \['nope'\] are not in the parquet data"):
        parquet_input_fn(parquet_path, label="label", columns=["x", "nope"])
    with pytest.raises(FileNotFoundError, match=r"missing.parquet' does not exist"):
        parquet_input_fn(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match=r"batch_size must be a positive int; got 0"):
        parquet_input_fn(parquet_path, batch_size=0)
    with pytest.raises(ValueError, match=r"n_rows must be a positive int, got 0"):
        StreamingInput(parquet_path).sample(0)


class RecordingTransformer:
    def fit_stream(self, frames):
        self.frames_ = [len(f) for f in frames]
        return self

    def fit(self, frame):
        self.rows_ = len(frame)
        self.columns_ = frame.columns.tolist()
        return self


def test_fit_transformer_stream_or_sample(parquet_path):
    source = StreamingInput(parquet_path, label="label")
    streamed = fit_transformer(RecordingTransformer(), source, how="stream")
    assert streamed.frames_ == [5, 5, 5, 5, 3, 5, 5, 5, 2]
    sampled = fit_transformer(RecordingTransformer(), source, how="sample", sample_rows=11, seed=0)
    assert sampled.rows_ == 11 and sampled.columns_ == ["row_id", "x", "color"]
    with pytest.raises(ValueError, match=r"how must be 'stream' or 'sample', got 'all'"):
        fit_transformer(RecordingTransformer(), source, how="all")
    with pytest.raises(TypeError, match=r"object has none. Use how='sample'"):
        fit_transformer(object(), source)


def encode_chunk(chunk):
    return ({"row_id": torch.tensor(chunk.features["row_id"].to_numpy()),
             "x": torch.tensor(chunk.features["x"].to_numpy(), dtype=torch.float32)},
            torch.tensor(chunk.labels.to_numpy(), dtype=torch.float32), None)


def stream_rows(stream, limit=None):
    seen = []
    for i, rows in enumerate(stream):
        batch = {k: v[rows] for k, v in stream.features.items()}
        assert (stream.labels[rows] == batch["row_id"] % 2).all()
        assert torch.equal(batch["x"], batch["row_id"].float() * 0.5)
        seen.append(batch["row_id"].tolist())
        if limit is not None and i + 1 == limit:
            break
    return seen


def test_tensor_stream_serves_every_row_once_per_epoch(parquet_path):
    source = StreamingInput(parquet_path, label="label", batch_size=6, num_epochs=2, shuffle=True, seed=5)
    stream = TensorStream(source, encode_chunk)
    batches = stream_rows(stream)
    assert batches == batch_ids(source)
    assert sorted(sum(batches[:7], [])) == sorted(sum(batches[7:], [])) == list(range(40))
    assert stream.exhausted and stream.epoch == 2 and next(stream, None) is None


@pytest.mark.parametrize("stop_after", [1, 5, 7, 10])
def test_tensor_stream_resumes_from_state_dict(parquet_path, stop_after):
    make = lambda: StreamingInput(parquet_path, label="label", batch_size=6, num_epochs=2, shuffle=True, seed=5)  # noqa: E731
    full = stream_rows(TensorStream(make(), encode_chunk))
    first = TensorStream(make(), encode_chunk)
    head = stream_rows(first, limit=stop_after)
    state = first.state_dict()
    assert state["epoch"] * 7 + state["position"] == stop_after
    resumed = TensorStream(make(), encode_chunk)
    resumed.load_state_dict(state)
    assert head + stream_rows(resumed) == full


def test_tensor_stream_rejects_state_of_other_data(parquet_path):
    stream = TensorStream(StreamingInput(parquet_path, label="label", batch_size=6, seed=1), encode_chunk)
    state = dict(stream.state_dict(), seed=2)
    with pytest.raises(ValueError, match=r"saved stream state has seed=2 but this input has 1"):
        stream.load_state_dict(state)
    with pytest.raises(ValueError, match=r"saved stream state has world_size=2 but this input has 1"):
        stream.load_state_dict(dict(stream.state_dict(), world_size=2))


def test_tensor_stream_state_from_the_chief_resumes_other_ranks(parquet_path):
    # ranks hold different row counts (15/13/12); the chief's saved position must fit all of them
    base = StreamingInput(parquet_path, label="label", batch_size=4, num_epochs=2)
    chief, other = TensorStream(base.shard(0, 3), encode_chunk), TensorStream(base.shard(2, 3), encode_chunk)
    stream_rows(chief, limit=4)
    full = stream_rows(TensorStream(base.shard(2, 3), encode_chunk))
    other.load_state_dict(chief.state_dict())
    assert (other.epoch, other.position) == (1, 1)
    assert stream_rows(other) == full[4:]


def test_fit_option_on_parquet_input_fn(parquet_path):
    source = parquet_input_fn(parquet_path, label="label", fit="sample", sample_rows=7)
    fitted = source.fit_transformer(RecordingTransformer())
    assert fitted.rows_ == 7
    assert parquet_input_fn(parquet_path, label="label").fit_transformer(RecordingTransformer()).frames_[0] == 5
    with pytest.raises(ValueError, match=r"fit must be one of \['stream', 'sample'\], got 'all'"):
        parquet_input_fn(parquet_path, fit="all")
