"""How many intra-op threads a training run uses: fit the work and the cores actually free.

torch's default (one intra-op thread per core) loses on small tabular models: a step of a ``[64, 32]`` MLP is
microseconds of arithmetic, so splitting it costs more in synchronisation than it gains, and when another
process holds one of the cores an OpenMP team that waits for its slowest thread collapses (measured 2k ex/s
with 2 threads against 30k+ with one, on two cores with one busy). So while ``Estimator.train`` runs:

1. an explicit setting wins: ``RunConfig(num_threads=N)`` sets N; else ``OMP_NUM_THREADS`` /
   ``MKL_NUM_THREADS`` in the environment, or a ``torch.set_num_threads(n)`` made before ``train`` (any value
   but torch's default of one thread per core), leaves torch as the user set it;
2. otherwise estlab starts with **one** thread, and at the model's first forward sizes the step
   (dense parameters x batch rows); only a step of at least ``PARALLEL_WORK`` multiply-adds gets more threads,
   and never more than the cores free now (``os.sched_getaffinity`` minus the load of other processes), so the
   thread pool never spins against a busy core. With ``RunConfig(compile=True)`` the run stays on one thread
   (a global forward hook would make ``torch.compile`` run hooks twice; compiling is for small, launch-bound
   models anyway): set ``num_threads`` to use more.

The previous setting is restored when ``train`` returns. ``choose_threads`` is the rule as a function.

Examples
--------
>>> choose_threads(work=10_000, cores=2, load=0.0)
1
>>> choose_threads(work=10**10, cores=8, load=3.0)
5
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

#: Multiply-adds per step (dense parameters x rows) from which more than one thread is worth its overhead.
PARALLEL_WORK = 1 << 28

_ENV_KEYS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def other_load() -> float:
    """Runnable processes besides this one (1-minute load average minus one), 0 where unknown."""
    try:
        return max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):
        return 0.0


def choose_threads(work: float, cores: int, load: float) -> int:
    """Threads for a step of ``work`` multiply-adds on ``cores`` cores with ``load`` other runnable processes.

    One thread unless the step is large (``>= PARALLEL_WORK``); then the cores not taken by others.

    Examples
    --------
    >>> choose_threads(work=10**10, cores=2, load=1.2)
    1
    """
    if work < PARALLEL_WORK:
        return 1
    return max(1, min(cores, cores - int(round(load))))


def user_threads(num_threads: int | None) -> int | None:
    """The thread count the user asked for, or None: ``num_threads``, else 0 when the environment or an
    earlier ``torch.set_num_threads`` already decides (leave torch alone).

    Examples
    --------
    >>> user_threads(3)
    3
    """
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"RunConfig: num_threads must be a positive int or None, got {num_threads!r}")
        return num_threads
    if any(os.environ.get(k) for k in _ENV_KEYS):
        return 0
    if torch.get_num_threads() not in {available_cores(), os.cpu_count() or 1}:
        return 0  # torch.set_num_threads(n) was called: the user's choice
    return None


def model_work(module: torch.nn.Module, inputs: Any) -> float:
    """Multiply-adds of one step, roughly: matrix parameters (embedding tables excluded) x batch rows."""
    lazy = torch.nn.parameter.UninitializedParameter  # a LazyModule's, until its first forward
    dense = sum(p.numel() for name, p in module.named_parameters()
                if not isinstance(p, lazy) and p.dim() >= 2 and "embedding" not in name and "weights." not in name)
    rows = 1
    for value in (inputs.values() if isinstance(inputs, dict) else [inputs]):
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            rows = max(rows, value.shape[0])
            break
    return float(dense) * rows


@contextlib.contextmanager
def training_threads(config: Any) -> Iterator[None]:
    """Apply the thread policy (module docstring) for the duration of one ``train`` call; restore after.

    Examples
    --------
    >>> from estlab.training.config import RunConfig
    >>> before = torch.get_num_threads()
    >>> with training_threads(RunConfig(num_threads=1)):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    asked = user_threads(getattr(config, "num_threads", None))
    previous = torch.get_num_threads()
    if asked == 0:  # the environment or the user's torch.set_num_threads decides
        yield
        return
    torch.set_num_threads(asked or 1)
    handle = None
    if asked is None and not getattr(config, "compile", False):  # automatic: more threads only for a large step
        def size_first_step(module: torch.nn.Module, args: tuple) -> None:
            nonlocal handle
            if handle is None:
                return
            handle.remove()
            handle = None
            threads = choose_threads(model_work(module, args[0] if args else None), available_cores(), other_load())
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)

        handle = torch.nn.modules.module.register_module_forward_pre_hook(size_first_step)
    try:
        yield
    finally:
        if handle is not None:
            handle.remove()
        torch.set_num_threads(previous)


__all__ = ["PARALLEL_WORK", "available_cores", "choose_threads", "model_work", "other_load", "training_threads",
           "user_threads"]
