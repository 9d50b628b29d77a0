"""Encode (and fit) a frame's columns on several threads: pandas/pyarrow/numpy release the GIL in the heavy parts.

Vocabulary lookups (Arrow ``dictionary_encode``/``factorize``), hashing and numpy arithmetic over whole columns
spend most of their time outside the interpreter, so independent columns encode in parallel on threads.
Measured on 1,000,000 Adult rows (2 shared cores, 14 linear columns): 0.28 s one column after the other,
0.15-0.16 s on two threads. Small inputs (under ``PARALLEL_ROWS`` rows: a serving request, a batch) stay on
the calling thread, where a thread hand-off would cost more than it saves.

Examples
--------
>>> from estlab.features import numeric_column
>>> from estlab.features.encode import EncodeContext, Fitted
>>> ctx = EncodeContext({"x": [1.0, 2.0]}, Fitted({}, {}))
>>> [e.values.ravel().tolist() for e in encode_all(ctx, [numeric_column("x")], rows=2)]
[[1.0, 2.0]]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

#: Inputs with fewer rows encode on the calling thread.
PARALLEL_ROWS = 1 << 14
#: At most this many encoding threads (more columns than cores gain nothing further).
MAX_THREADS = 4

_THREAD_PREFIX = "estlab-encode"
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1


def encode_threads() -> int:
    """Threads the encoder may use: the cores this process may run on, at most ``MAX_THREADS``.

    Examples
    --------
    >>> 1 <= encode_threads() <= MAX_THREADS
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


def _executor(threads: int) -> ThreadPoolExecutor:
    """The process's encoding pool (made again in a forked child, whose copy has no live threads)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=_THREAD_PREFIX)
            _pool_pid = os.getpid()
        return _pool


def column_map(fn: Callable[[Any], Any], items: Sequence[Any], rows: int) -> list[Any]:
    """``[fn(item) for item in items]``, on the encoding threads when the input (``rows``) is large enough.

    Results come back in ``items`` order and the first failing item's error is raised, as one after the
    other. Called from an encoding thread itself, it runs on that thread (no pool waits on itself).

    Examples
    --------
    >>> column_map(len, ["ab", "c"], rows=10)
    [2, 1]
    """
    if rows < PARALLEL_ROWS or len(items) < 2:  # before asking the OS for cores: a request costs nothing more
        return [fn(item) for item in items]
    threads = encode_threads()
    if threads < 2 or threading.current_thread().name.startswith(_THREAD_PREFIX):
        return [fn(item) for item in items]
    return list(_executor(threads).map(fn, items))


def encode_all(ctx: Any, leaves: Sequence[Any], rows: int) -> list[Any]:
    """``[ctx(leaf) for leaf in leaves]``, on the encoding threads when the input is large enough.

    ``ctx`` memoises parents; two threads may encode a shared parent twice (same result, no harm).
    """
    return column_map(ctx, leaves, rows)


__all__ = ["MAX_THREADS", "PARALLEL_ROWS", "column_map", "encode_all", "encode_threads"]
