"""Stable, vectorised hashing (the same ids in every process, whatever ``PYTHONHASHSEED``).

Strings are hashed with pandas' SipHash-2-4 (``pd.util.hash_array``) under a fixed 16-byte key;
integers are written as decimal strings first (as TF's ``as_string``). Crossing mixes per-feature
hashes with MurmurHash3's 64-bit finaliser in numpy ``uint64`` arithmetic.

Examples
--------
>>> import numpy as np
>>> int(hash_strings(np.array(["a"], dtype=object))[0]) == int(hash_strings(np.array(["a"], dtype=object))[0])
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import pandas.util

HASH_KEY = "estlab.features!"  # 16 bytes, fixed forever: changing it changes every hashed id
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def as_strings(values: object) -> np.ndarray:
    """Object array of ``str`` for hashing: integers as decimal strings, floats holding integers likewise.

    Examples
    --------
    >>> as_strings(np.array([1, 20])).tolist()
    ['1', '20']
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64).astype(str)
    return np.asarray(arr.astype(str), dtype=object)


def hash_strings(values: np.ndarray) -> np.ndarray:
    """SipHash (fixed key) of each string in a 1-D array -> ``uint64`` array of the same length.

    Examples
    --------
    >>> hash_strings(np.array(["x", "y"], dtype=object)).dtype
    dtype('uint64')
    """
    # pandas.util resolves hash_array lazily through a module __getattr__ typed as returning ``object``.
    hash_array = cast("Callable[..., np.ndarray]", pandas.util.hash_array)
    return hash_array(as_strings(values), hash_key=HASH_KEY, categorize=False)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, elementwise on ``uint64``.

    Examples
    --------
    >>> fmix64(np.array([0, 1], dtype=np.uint64)).tolist()[0]
    0
    """
    h = np.asarray(h, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h


def combine(seed: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Order-dependent mix of two ``uint64`` hash arrays (broadcasting), as a fingerprint concatenation.

    Examples
    --------
    >>> a, b = np.array([1], dtype=np.uint64), np.array([2], dtype=np.uint64)
    >>> bool(combine(a, b)[0] != combine(b, a)[0])
    True
    """
    seed = np.asarray(seed, dtype=np.uint64)
    value = np.asarray(value, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = seed ^ (value + _GOLDEN + (seed << np.uint64(6)) + (seed >> np.uint64(2)))
    return fmix64(mixed)


def bucket(h: np.ndarray, size: int) -> np.ndarray:
    """``uint64`` hashes -> int64 ids in ``[0, size)``.

    Examples
    --------
    >>> bucket(np.array([7], dtype=np.uint64), 5).tolist()
    [2]
    """
    return (np.asarray(h, dtype=np.uint64) % np.uint64(size)).astype(np.int64)
