"""IndexBatcher and iter_batches: sizes, permutations, determinism and exact resumption."""

from __future__ import annotations

import pytest
import torch

from estlab.inputs import IndexBatcher, epoch_permutation, iter_batches


def _lists(batcher):
    return [batch.tolist() for batch in batcher]


def test_batch_sizes_keep_last_partial_batch():
    batches = list(IndexBatcher(300, batch_size=128, num_epochs=1, shuffle=False))
    assert [len(b) for b in batches] == [128, 128, 44]
    assert torch.equal(torch.cat(batches), torch.arange(300))
    assert all(b.dtype == torch.long for b in batches)


def test_unshuffled_epochs_repeat_in_order():
    assert _lists(IndexBatcher(5, batch_size=2, num_epochs=2, shuffle=False)) == [
        [0, 1], [2, 3], [4], [0, 1], [2, 3], [4],
    ]  # fmt: skip


def test_shuffled_epoch_is_a_permutation_and_epochs_differ(seed):
    batcher = IndexBatcher(50, batch_size=16, num_epochs=2, shuffle=True, seed=seed)
    batches = list(batcher)
    assert [len(b) for b in batches] == [16, 16, 16, 2] * 2
    first, second = torch.cat(batches[:4]), torch.cat(batches[4:])
    assert sorted(first.tolist()) == list(range(50))
    assert sorted(second.tolist()) == list(range(50))
    assert first.tolist() != second.tolist()
    assert first.tolist() != list(range(50))


def test_same_seed_same_order_other_seed_other_order(seed):
    def run(s):
        return _lists(IndexBatcher(40, batch_size=8, num_epochs=3, shuffle=True, seed=s))

    assert run(seed) == run(seed)
    assert run(seed) != run(seed + 1)


def test_epoch_permutation_depends_only_on_seed_and_epoch(seed):
    batcher = IndexBatcher(30, batch_size=7, num_epochs=3, shuffle=True, seed=seed)
    order = torch.cat(list(batcher))
    expected = torch.cat([epoch_permutation(30, seed, epoch) for epoch in range(3)])
    assert torch.equal(order, expected)


def test_none_seed_is_drawn_from_torch_global_generator():
    torch.manual_seed(0)
    a = IndexBatcher(20, batch_size=5, num_epochs=1, shuffle=True)
    torch.manual_seed(0)
    b = IndexBatcher(20, batch_size=5, num_epochs=1, shuffle=True)
    assert a.seed == b.seed
    assert _lists(a) == _lists(b)


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4, 7])
def test_resume_continues_exactly(seed, stop_after):
    reference = _lists(IndexBatcher(50, batch_size=16, num_epochs=3, shuffle=True, seed=seed))
    first = IndexBatcher(50, batch_size=16, num_epochs=3, shuffle=True, seed=seed)
    taken = [next(first).tolist() for _ in range(stop_after)]
    state = first.state_dict()
    resumed = IndexBatcher(50, batch_size=16, num_epochs=3, shuffle=True, seed=None)
    resumed.load_state_dict(state)
    assert taken + _lists(resumed) == reference


def test_state_dict_is_plain_and_survives_torch_save(tmp_path, seed):
    batcher = IndexBatcher(10, batch_size=4, num_epochs=None, shuffle=True, seed=seed)
    for _ in range(4):
        next(batcher)
    state = batcher.state_dict()
    assert state == {"epoch": 1, "position": 4, "seed": seed, "num_rows": 10, "shuffle": True}
    torch.save(state, tmp_path / "state.pt")
    loaded = torch.load(tmp_path / "state.pt", weights_only=True)
    other = IndexBatcher(10, batch_size=4, num_epochs=None, shuffle=True)
    other.load_state_dict(loaded)
    assert next(other).tolist() == next(batcher).tolist()


def test_forever_never_stops_and_counts_epochs():
    batcher = IndexBatcher(3, batch_size=2, num_epochs=None, shuffle=False)
    assert batcher.num_batches is None
    assert [next(batcher).tolist() for _ in range(5)] == [[0, 1], [2], [0, 1], [2], [0, 1]]
    assert (batcher.epoch, batcher.position) == (2, 2)


def test_counts():
    batcher = IndexBatcher(300, batch_size=128, num_epochs=2, shuffle=False)
    assert batcher.batches_per_epoch == 3
    assert batcher.num_batches == 6
    assert len(list(batcher)) == 6
    assert batcher.exhausted


def test_load_state_dict_rejects_other_data():
    batcher = IndexBatcher(10, batch_size=4, shuffle=False)
    state = IndexBatcher(11, batch_size=4, shuffle=False).state_dict()
    with pytest.raises(ValueError, match=r"num_rows=11 but this batcher has num_rows=10"):
        batcher.load_state_dict(state)
    with pytest.raises(ValueError, match=r"shuffle=True but this batcher has shuffle=False"):
        batcher.load_state_dict(IndexBatcher(10, batch_size=4, shuffle=True, seed=1).state_dict())
    with pytest.raises(KeyError, match=r"missing \['epoch'"):
        batcher.load_state_dict({"position": 0})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_rows": 0}, r"num_rows must be a positive int; got 0"),
        ({"batch_size": 0}, r"batch_size must be a positive int; got 0"),
        ({"batch_size": True}, r"batch_size must be a positive int; got True"),
        ({"num_epochs": 0}, r"num_epochs must be a positive int or None \(repeat forever\); got 0"),
        ({"shuffle": None}, r"shuffle must be provided and explicitly set as boolean"),
    ],
)
def test_argument_errors(kwargs, message):
    arguments = {"num_rows": 10, "batch_size": 4, "num_epochs": 1, "shuffle": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        IndexBatcher(**arguments)


def test_seed_must_be_int():
    with pytest.raises(TypeError, match=r"seed must be an int or None; got str '1'"):
        IndexBatcher(10, 4, 1, True, seed="1")


def test_iter_batches_ordered_slices():
    assert list(iter_batches(300, 128)) == [slice(0, 128), slice(128, 256), slice(256, 300)]
    assert list(iter_batches(0, 128)) == []
    data = torch.arange(5)
    assert [data[s].tolist() for s in iter_batches(5, 2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match=r"batch_size must be a positive int; got -1"):
        list(iter_batches(5, -1))


def test_resume_with_another_batch_size_serves_the_remaining_rows(seed):
    first = IndexBatcher(20, batch_size=6, num_epochs=1, shuffle=True, seed=seed)
    taken = next(first).tolist()
    resumed = IndexBatcher(20, batch_size=4, num_epochs=1, shuffle=True)
    resumed.load_state_dict(first.state_dict())
    rest = _lists(resumed)
    assert [len(b) for b in rest] == [4, 4, 4, 2]
    assert taken + sum(rest, []) == epoch_permutation(20, seed, 0).tolist()


@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_made_on_another_device_follow_the_cpu_batchers_sizes_and_state(seed, shuffle):
    # "meta" stands in for an accelerator here (tensors without data); tests/estimators/test_cuda.py compares values
    on_cpu = IndexBatcher(10, batch_size=4, num_epochs=2, shuffle=shuffle, seed=seed)
    elsewhere = IndexBatcher(10, batch_size=4, num_epochs=2, shuffle=shuffle, seed=seed, device="meta")
    for reference in on_cpu:
        batch = next(elsewhere)
        assert batch.device.type == "meta" and batch.dtype == torch.long and batch.shape == reference.shape
        assert elsewhere.state_dict() == on_cpu.state_dict()
    assert elsewhere.exhausted and next(elsewhere, None) is None
    assert repr(elsewhere).endswith("epoch=2, position=0, device='meta')")


def test_a_cpu_batch_is_a_copy_so_changing_it_leaves_the_epoch_order_intact(seed):
    expected_rest = _lists(IndexBatcher(50, batch_size=5, num_epochs=1, shuffle=True, seed=seed))[1:]
    batcher = IndexBatcher(50, batch_size=5, num_epochs=1, shuffle=True, seed=seed, device="cpu")
    next(batcher).fill_(-1)
    assert _lists(batcher) == expected_rest
