"""Argument checks shared by the input functions (TF's messages where TF had one)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_shuffle(shuffle: Any) -> bool:
    """Return ``shuffle`` if it is a bool, else raise TF's ValueError."""
    if not isinstance(shuffle, bool | np.bool_):
        raise ValueError(
            "shuffle must be provided and explicitly set as boolean "
            "(it is recommended to set it as True for training); "
            f"got {shuffle}"
        )
    return bool(shuffle)


def check_batch_size(batch_size: Any) -> int:
    """Return ``batch_size`` as an int if it is a positive integer."""
    if not _is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}. Use e.g. batch_size=128.")
    return int(batch_size)


def check_num_epochs(num_epochs: Any) -> int | None:
    """Return ``num_epochs`` if it is a positive integer or None (repeat forever)."""
    if num_epochs is None:
        return None
    if not _is_int(num_epochs) or num_epochs <= 0:
        raise ValueError(
            f"num_epochs must be a positive int or None (repeat forever); got {num_epochs!r}. "
            "Use num_epochs=1 for evaluation and prediction."
        )
    return int(num_epochs)


def check_queue_capacity(queue_capacity: Any) -> int | None:
    """Accept TF's ``queue_capacity`` (a positive int or None); it has no effect here."""
    if queue_capacity is not None and (not _is_int(queue_capacity) or queue_capacity <= 0):
        raise ValueError(f"queue_capacity must be a positive int or None; got {queue_capacity!r}.")
    return None if queue_capacity is None else int(queue_capacity)


def check_num_threads(num_threads: Any) -> int:
    """Accept TF's ``num_threads`` (a positive int); batches are always served in a deterministic order."""
    if not _is_int(num_threads) or num_threads <= 0:
        raise ValueError(f"num_threads must be a positive int; got {num_threads!r}. Use num_threads=1.")
    return int(num_threads)


def check_seed(seed: Any) -> int | None:
    """Return ``seed`` if it is an int or None."""
    if seed is not None and not _is_int(seed):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__} {seed!r}.")
    return None if seed is None else int(seed)
