"""Seeds and random-number-generator state (saved in checkpoints so a resumed run continues the same way)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (all devices).

    Examples
    --------
    >>> seed_everything(0); a = torch.rand(1); seed_everything(0)
    >>> bool(torch.rand(1) == a)
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> tuple[dict[str, torch.Tensor | list[torch.Tensor]], dict[str, Any]]:
    """``(tensors, json_able)`` of the current RNG states: torch/CUDA as tensors, numpy/python as JSON.

    Examples
    --------
    >>> tensors, plain = rng_state()
    >>> sorted(tensors), sorted(plain)
    (['cuda', 'torch'], ['numpy', 'python'])
    """
    tensors: dict[str, Any] = {"torch": torch.get_rng_state(), "cuda": []}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda"] = torch.cuda.get_rng_state_all()
    legacy = np.random.get_state(legacy=True)
    assert isinstance(legacy, tuple)  # the global RandomState is an MT19937: its legacy state is a tuple
    kind, keys, pos, has_gauss, cached = legacy
    version, state, gauss = random.getstate()
    plain = {"numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "python": [version, list(state), gauss]}
    return tensors, plain


def set_rng_state(tensors: dict[str, Any], plain: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned (missing parts are skipped).

    Examples
    --------
    >>> state = rng_state(); a = torch.rand(1); set_rng_state(*state)
    >>> bool(torch.rand(1) == a)
    True
    """
    if "torch" in tensors:
        torch.set_rng_state(tensors["torch"].cpu())
    if tensors.get("cuda") and torch.cuda.is_available() and len(tensors["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([t.cpu() for t in tensors["cuda"]])
    if "numpy" in plain:
        kind, keys, pos, has_gauss, cached = plain["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "python" in plain:
        version, state, gauss = plain["python"]
        random.setstate((version, tuple(state), gauss))
