"""Which rows each rank of a distributed run reads (pure: rank and world size are arguments)."""

from __future__ import annotations

import torch


def shard_indices(n_rows: int, rank: int, world_size: int, *, even: bool = True) -> torch.Tensor:
    """Row ids rank ``rank`` reads: every ``world_size``-th row starting at ``rank``.

    ``even=True`` (training): every rank gets ``ceil(n_rows / world_size)`` rows, the shortfall padded with rows
    from the start, so all ranks take the same number of steps (DDP requires it). ``even=False`` (evaluation):
    disjoint shards that cover each row exactly once.

    Examples
    --------
    >>> shard_indices(5, rank=0, world_size=2).tolist()
    [0, 2, 4]
    >>> shard_indices(5, rank=1, world_size=2, even=False).tolist()
    [1, 3]
    """
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
    ids = torch.arange(n_rows, dtype=torch.int64)
    if even and world_size > 1 and n_rows % world_size:
        pad = world_size - n_rows % world_size
        ids = torch.cat([ids, ids[:pad].repeat(pad // n_rows + 1)[:pad]])
    return ids[rank::world_size]
