"""Single-process behaviour of the distributed helpers (no process group needed)."""

from __future__ import annotations

import pytest
import torch

from estlab.training import distributed
from estlab.training.distributed import DistributedEnv, detect, shard_indices


def test_detect_reads_torchrun_variables():
    env = detect({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4"})
    assert env == DistributedEnv(rank=5, world_size=8, local_rank=1, local_world_size=4)
    assert env.is_distributed and not env.is_chief
    assert env.node_rank == 1


def test_detect_defaults_to_single_process():
    env = detect({})
    assert env == DistributedEnv(0, 1, 0, 1)
    assert env.is_chief and not env.is_distributed


def test_detect_rejects_bad_values():
    with pytest.raises(ValueError, match=r"WORLD_SIZE must be an integer, got 'two'"):
        detect({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match=r"RANK must be in \[0, WORLD_SIZE=2\), got 2"):
        detect({"RANK": "2", "WORLD_SIZE": "2"})


def test_single_process_helpers_are_no_ops(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    env = distributed.init_distributed("cpu")
    assert env.world_size == 1 and not distributed.is_initialized()
    assert distributed.get_rank() == 0 and distributed.get_world_size() == 1 and distributed.is_chief()
    model = torch.nn.Linear(3, 1)
    assert distributed.wrap_model(model, "cpu") is model
    assert distributed.unwrap_model(model) is model
    assert distributed.all_reduce_sums({"b": 2, "a": torch.tensor(1.5)}) == {"b": 2.0, "a": 1.5}
    t = torch.arange(4.0)
    assert distributed.gather_concat(t) is t
    assert distributed.any_rank(True) is True and distributed.any_rank(False) is False
    assert distributed.broadcast_object([1, "x"]) == [1, "x"]
    distributed.barrier()
    distributed.shutdown()


def test_init_without_master_address_explains_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match=r"MASTER_ADDR is not; launch the script with torchrun"):
        distributed.init_distributed("cpu")


def test_all_reduce_sums_rejects_non_scalars():
    with pytest.raises(ValueError, match=r"value 'x' must be a scalar, got a tensor of shape \(2,\)"):
        distributed.all_reduce_sums({"x": torch.ones(2)})


def test_choose_backend_and_device():
    assert distributed.choose_backend("cpu") == "gloo"
    assert distributed.rank_device("cpu", DistributedEnv(1, 2, 1, 2)) == torch.device("cpu")


@pytest.mark.parametrize("n_rows,world_size", [(10, 2), (11, 3), (7, 4), (3, 5), (1000, 8)])
def test_even_shards_cover_all_rows_with_equal_counts(n_rows, world_size):
    shards = [shard_indices(n_rows, r, world_size) for r in range(world_size)]
    expected = -(-n_rows // world_size)
    assert [len(s) for s in shards] == [expected] * world_size
    assert set(torch.cat(shards).tolist()) == set(range(n_rows))
    # padding repeats fewer than world_size rows
    assert expected * world_size - n_rows < world_size


@pytest.mark.parametrize("n_rows,world_size", [(10, 2), (11, 3), (2, 4)])
def test_uneven_shards_partition_rows(n_rows, world_size):
    shards = [shard_indices(n_rows, r, world_size, even=False) for r in range(world_size)]
    assert sorted(torch.cat(shards).tolist()) == list(range(n_rows))


def test_shard_indices_exact_values_and_errors():
    assert shard_indices(7, 2, 3).tolist() == [2, 5, 1]  # padded with rows 0 and 1
    assert shard_indices(7, 0, 3, even=False).tolist() == [0, 3, 6]
    assert shard_indices(4, 0, 1).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=2\), got 3"):
        shard_indices(10, 3, 2)
    assert shard_indices(0, 1, 2).tolist() == []
