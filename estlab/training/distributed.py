"""torch.distributed helpers the training loop calls: ``torchrun`` + DistributedDataParallel.

The same training script runs alone or under ``torchrun --nproc_per_node=N``. Outside torchrun
every helper is a cheap no-op (rank 0 of 1), so the loop calls them unconditionally:

* :func:`detect` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...).
* :func:`init_distributed` starts the process group once, ``nccl`` on CUDA and ``gloo`` on CPU.
* :func:`rank_device` gives each rank its own GPU (``cuda:LOCAL_RANK``).
* :func:`wrap_model` / :func:`unwrap_model` add and remove the DDP wrapper.
* :func:`shard_indices` gives each rank its own rows (equal counts for training).
* :func:`is_chief` gates checkpoints, summaries and exports.
* :func:`all_reduce_sums`, :func:`gather_concat` and :func:`any_rank` combine evaluation sums,
  predictions and stop flags across ranks.

Examples
--------
>>> from estlab.training import distributed
>>> env = distributed.init_distributed("cpu")   # no-op outside torchrun
>>> env.world_size, distributed.is_chief()
(1, True)
>>> distributed.shard_indices(5, rank=1, world_size=2).tolist()
[1, 3, 0]
"""

from __future__ import annotations

import datetime
import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from estlab.inputs import sharding

__all__ = [
    "DistributedEnv",
    "all_reduce_sums",
    "any_rank",
    "barrier",
    "broadcast_object",
    "choose_backend",
    "detect",
    "gather_concat",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_chief",
    "is_initialized",
    "rank_device",
    "shard_indices",
    "shutdown",
    "unwrap_model",
    "wrap_model",
]


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process sits in a torchrun job (rank 0 of 1 when run alone).

    Examples
    --------
    >>> env = DistributedEnv(rank=1, world_size=4, local_rank=1, local_world_size=2)
    >>> env.is_distributed, env.is_chief, env.node_rank
    (True, False, 0)
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1

    @property
    def is_chief(self) -> bool:
        """True on global rank 0, the only rank that writes checkpoints, summaries and exports."""
        return self.rank == 0

    @property
    def node_rank(self) -> int:
        """Index of this machine in a multi-node job."""
        return self.rank // max(self.local_world_size, 1)


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an integer, got {raw!r}; "
            f"unset it or launch the script with torchrun, which sets it"
        ) from None


def detect(environ: Mapping[str, str] | None = None) -> DistributedEnv:
    """Read rank and world size from torchrun's environment variables.

    Parameters
    ----------
    environ : mapping, optional
        Defaults to ``os.environ``.

    Examples
    --------
    >>> detect({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}).rank
    3
    >>> detect({}).world_size
    1
    """
    environ = os.environ if environ is None else environ
    world_size = _env_int(environ, "WORLD_SIZE", 1)
    rank = _env_int(environ, "RANK", 0)
    local_rank = _env_int(environ, "LOCAL_RANK", rank)
    local_world_size = _env_int(environ, "LOCAL_WORLD_SIZE", world_size)
    if world_size < 1:
        raise ValueError(f"environment variable WORLD_SIZE must be >= 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(
            f"environment variable RANK must be in [0, WORLD_SIZE={world_size}), got {rank}; "
            f"launch with torchrun so both are set consistently"
        )
    return DistributedEnv(rank, world_size, local_rank, local_world_size)


def is_initialized() -> bool:
    """True once a process group is running in this process.

    Examples
    --------
    >>> is_initialized()
    False
    """
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank: from the process group when running, else from the environment.

    Examples
    --------
    >>> get_rank()
    0
    """
    return dist.get_rank() if is_initialized() else detect().rank


def get_world_size() -> int:
    """Number of processes: from the process group when running, else from the environment.

    Examples
    --------
    >>> get_world_size()
    1
    """
    return dist.get_world_size() if is_initialized() else detect().world_size


def is_chief() -> bool:
    """True on global rank 0 (and always when not distributed).

    Examples
    --------
    >>> is_chief()
    True
    """
    return get_rank() == 0


def choose_backend(device: str | torch.device | None = None) -> str:
    """``"nccl"`` for CUDA devices when NCCL is built in, else ``"gloo"``.

    Examples
    --------
    >>> choose_backend("cpu")
    'gloo'
    """
    device = torch.device(device) if device is not None else None
    on_cuda = device.type == "cuda" if device is not None else torch.cuda.is_available()
    if on_cuda and dist.is_nccl_available():
        return "nccl"
    return "gloo"


def rank_device(device: str | torch.device | None = None, env: DistributedEnv | None = None) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for CUDA under torchrun.

    Parameters
    ----------
    device : str or torch.device, optional
        The requested device (``"cuda"``, ``"cpu"``, ...). ``None`` picks CUDA when available.
        An explicit index (``"cuda:1"``) is kept as given.

    Examples
    --------
    >>> rank_device("cpu")
    device(type='cpu')
    """
    env = detect() if env is None else env
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        if env.is_distributed:
            count = torch.cuda.device_count()
            if count and env.local_rank >= count:
                raise ValueError(
                    f"LOCAL_RANK={env.local_rank} but this machine has {count} CUDA device(s); "
                    f"use torchrun --nproc_per_node={count} or fewer"
                )
            return torch.device("cuda", env.local_rank)
        return torch.device("cuda", torch.cuda.current_device())
    return device


def init_distributed(
    device: str | torch.device | None = None,
    backend: str | None = None,
    timeout_s: float = 1800.0,
) -> DistributedEnv:
    """Start the process group when launched by torchrun; a no-op otherwise or when already started.

    Parameters
    ----------
    device : str or torch.device, optional
        Device the rank trains on; selects the backend (``nccl`` for CUDA, ``gloo`` for CPU)
        and, for CUDA, makes ``cuda:LOCAL_RANK`` the current device.
    backend : str, optional
        Force a backend (``"gloo"``, ``"nccl"``).
    timeout_s : float
        Seconds a collective may wait before failing.

    Returns
    -------
    DistributedEnv
        This process's rank and world size.

    Examples
    --------
    >>> init_distributed("cpu").is_chief
    True
    """
    env = detect()
    if not env.is_distributed:
        return env
    if is_initialized():
        return DistributedEnv(dist.get_rank(), dist.get_world_size(), env.local_rank, env.local_world_size)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(
                f"WORLD_SIZE={env.world_size} is set but {name} is not; launch the script with "
                f"torchrun (e.g. torchrun --nproc_per_node={env.world_size} train.py), which sets it"
            )
    target = rank_device(device, env)
    backend = backend or choose_backend(target)
    if target.type == "cuda":
        torch.cuda.set_device(target)
    dist.init_process_group(
        backend=backend,
        init_method="env://",
        rank=env.rank,
        world_size=env.world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    return env


def shutdown() -> None:
    """Destroy the process group if one is running.

    Release DDP-wrapped models first (``estimator.close()``, or drop the last reference): a
    DistributedDataParallel wrapper that outlives its process group makes gloo abort the process at exit.

    Examples
    --------
    >>> shutdown()  # no-op outside torchrun
    """
    global _CPU_GROUP
    if is_initialized():
        gc.collect()  # DDP wrappers often sit in reference cycles: free them while their group is alive
        dist.destroy_process_group()
    _CPU_GROUP = None


def barrier() -> None:
    """Wait for all ranks (no-op when not distributed).

    Examples
    --------
    >>> barrier()
    """
    if is_initialized():
        dist.barrier()


def wrap_model(module: nn.Module, device: str | torch.device | None = None, **ddp_kwargs: Any) -> nn.Module:
    """Wrap ``module`` in DistributedDataParallel when the process group runs; else return it unchanged.

    The module must already live on ``device``. Extra keyword arguments go to DDP
    (e.g. ``find_unused_parameters=True`` for models with branches not used every step).

    Examples
    --------
    >>> m = torch.nn.Linear(2, 1)
    >>> wrap_model(m) is m
    True
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return module
    if isinstance(module, DistributedDataParallel):
        return module
    if not any(p.requires_grad for p in module.parameters()):
        return module  # nothing to synchronise (e.g. a model fitted outside gradient descent)
    device = torch.device(device) if device is not None else next(module.parameters()).device
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] if (
        device.type == "cuda"
    ) else None
    return DistributedDataParallel(module, device_ids=device_ids, **ddp_kwargs)


def unwrap_model(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (what checkpoints and exports save).

    Examples
    --------
    >>> m = torch.nn.Linear(2, 1)
    >>> unwrap_model(m) is m
    True
    """
    return module.module if isinstance(module, DistributedDataParallel) else module


def shard_indices(
    n_rows: int,
    rank: int | None = None,
    world_size: int | None = None,
    *,
    even: bool = True,
) -> torch.Tensor:
    """Row ids this rank reads: every ``world_size``-th row starting at ``rank``.

    Parameters
    ----------
    n_rows : int
        Rows in the whole data set.
    rank, world_size : int, optional
        Default to this process's (``0`` and ``1`` outside torchrun).
    even : bool
        ``True`` (training): every rank gets ``ceil(n_rows / world_size)`` rows, the shortfall
        padded with rows from the start, so all ranks take the same number of steps (DDP
        requires it). ``False`` (evaluation): disjoint shards that cover each row exactly once.

    Returns
    -------
    torch.Tensor
        int64 row ids.

    Examples
    --------
    >>> shard_indices(5, rank=0, world_size=2).tolist()
    [0, 2, 4]
    >>> shard_indices(5, rank=1, world_size=2, even=False).tolist()
    [1, 3]
    """
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    return sharding.shard_indices(n_rows, rank, world_size, even=even)


def _reduce_device() -> torch.device:
    if is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


_CPU_GROUP: Any = None


def _cpu_group() -> Any:
    """A gloo group for small host-side collectives (flags, objects), so NCCL jobs need no GPU sync.

    ``None`` (the default group) when the default backend is already gloo. Created on first use;
    every rank reaches it at the same collective, so creation order is the same everywhere.
    """
    global _CPU_GROUP
    if dist.get_backend() != "nccl":
        return None
    if _CPU_GROUP is None:
        _CPU_GROUP = dist.new_group(backend="gloo")
    return _CPU_GROUP


def all_reduce_sums(values: Mapping[str, float | int | torch.Tensor]) -> dict[str, float]:
    """Sum scalar values across ranks in one collective (evaluation loss sums, counts, ...).

    Parameters
    ----------
    values : mapping of str to number or scalar tensor
        The same keys on every rank.

    Returns
    -------
    dict of str to float
        The totals (this rank's values, as floats, when not distributed).

    Examples
    --------
    >>> all_reduce_sums({"loss_sum": torch.tensor(3.5), "count": 7})
    {'loss_sum': 3.5, 'count': 7.0}
    """
    keys = sorted(values)
    parts = []
    for key in keys:
        value = values[key]
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"all_reduce_sums: value {key!r} must be a scalar, got a tensor of shape "
                    f"{tuple(value.shape)}; sum it first or use gather_concat"
                )
            value = value.detach().reshape(()).to("cpu", torch.float64)
        parts.append(torch.as_tensor(value, dtype=torch.float64))
    if not parts:
        return {}
    stacked = torch.stack(parts)
    if is_initialized() and dist.get_world_size() > 1:
        stacked = stacked.to(_reduce_device())
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
    totals = dict(zip(keys, stacked.cpu().tolist()))
    return {key: totals[key] for key in values}


def gather_concat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's tensor along dim 0 (rank order); shards may differ in length.

    Used for metrics that are not sums (AUC needs all predictions). Returns on the input's device.

    Examples
    --------
    >>> gather_concat(torch.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return tensor
    world_size = dist.get_world_size()
    device = _reduce_device()
    local = tensor.detach().to(device)
    size = torch.tensor([local.shape[0]], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    if local.shape[0] < longest:
        padding = local.new_zeros((longest - local.shape[0], *local.shape[1:]))
        local = torch.cat([local, padding])
    pieces = [torch.empty_like(local) for _ in range(world_size)]
    dist.all_gather(pieces, local.contiguous())
    return torch.cat([piece[:count] for piece, count in zip(pieces, counts)]).to(tensor.device)


def any_rank(flag: bool) -> bool:
    """True when ``flag`` is true on any rank (a stop request seen by one rank stops all).

    The flag travels through a gloo (host) group, so under NCCL this does not synchronise the GPU.

    Examples
    --------
    >>> any_rank(False)
    False
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return bool(flag)
    value = torch.tensor([1 if flag else 0], dtype=torch.int32)  # on the host, through a gloo group
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=_cpu_group())
    return bool(value.item())


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Send a picklable object from rank ``src`` to every rank (e.g. the fitted feature spec).

    Examples
    --------
    >>> broadcast_object({"vocab": ["a", "b"]})
    {'vocab': ['a', 'b']}
    """
    if not is_initialized() or dist.get_world_size() == 1:
        return obj
    holder = [obj if dist.get_rank() == src else None]
    dist.broadcast_object_list(holder, src=src, group=_cpu_group(), device=torch.device("cpu"))
    return holder[0]
