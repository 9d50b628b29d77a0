"""Dynamic batching of concurrent predict requests, as TF Serving's batching parameters.

Requests are validated one by one (:mod:`estlab.export.rest_request`) and queued; one collector
task takes the queued requests (waiting up to ``batch_timeout_micros`` after the first for more,
up to ``max_batch_size`` rows), concatenates their columns, encodes and runs the program once on a
model thread, and hands each request its own rows back. While a batch runs, new requests queue up
and form the next batch, so batches grow with the load. A request the feature transformation
refuses fails alone: its batch is split in halves and rerun until the culprit is isolated.

Examples
--------
>>> params = BatchingParameters(max_batch_size=512, batch_timeout_micros=500)
>>> params.max_batch_size, params.enabled
(512, True)
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

Outputs = dict[str, np.ndarray]
#: ``run(columns, n_rows) -> outputs`` (all outputs, leading dimension ``n_rows``; None for 0 rows)
RunFn = Callable[[Mapping[str, np.ndarray], int], "Outputs | None"]


class OverloadedError(Exception):
    """More rows are queued than ``max_enqueued_batches * max_batch_size`` (answered with 503).

    Examples
    --------
    >>> str(OverloadedError("queue full"))
    'queue full'
    """


@dataclass(frozen=True)
class BatchingParameters:
    """How requests are batched (TF Serving's ``--enable_batching`` and batching parameters).

    Parameters
    ----------
    enabled : bool
        Merge concurrent requests into one program call (default). When False, each request runs alone
        (still one at a time on the model thread).
    max_batch_size : int
        Most rows in one merged batch; a single larger request runs alone, unsplit.
    batch_timeout_micros : int
        How long the first request of a batch waits for more (microseconds). 0: take what is already
        queued, which under load is what arrived while the previous batch ran.
    max_enqueued_batches : int
        Rows waiting beyond ``max_enqueued_batches * max_batch_size`` are refused with 503.

    Examples
    --------
    >>> BatchingParameters(batch_timeout_micros=-1)
    Traceback (most recent call last):
    ValueError: batch_timeout_micros must be >= 0 microseconds; got -1
    """

    enabled: bool = True
    max_batch_size: int = 1024
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 64

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1 row; got {self.max_batch_size}")
        if self.batch_timeout_micros < 0:
            raise ValueError(
                f"batch_timeout_micros must be >= 0 microseconds; got {self.batch_timeout_micros}"
            )
        if self.max_enqueued_batches < 1:
            raise ValueError(f"max_enqueued_batches must be >= 1; got {self.max_enqueued_batches}")


class _Item:
    __slots__ = ("run", "key", "columns", "n_rows", "future")

    def __init__(
        self, run: RunFn, key: Any, columns: Mapping[str, np.ndarray], n_rows: int, future: Any
    ) -> None:
        self.run = run
        self.key = key
        self.columns = columns
        self.n_rows = n_rows
        self.future = future


class DynamicBatcher:
    """Queues validated requests and runs them in merged batches on one model thread.

    Use from one event loop: ``await batcher.submit(run, key, columns, n_rows)`` returns this request's
    outputs. ``run`` is the model's ``run_columns``; requests merge only when they share ``run`` and
    ``key`` (their columns' dtypes).

    Examples
    --------
    >>> batcher = DynamicBatcher(BatchingParameters())
    >>> outputs = await batcher.submit(model.run_columns, request.batch_key(), request.columns, 1)  # doctest: +SKIP
    """

    def __init__(self, params: BatchingParameters) -> None:
        self.params = params
        self._queue: collections.deque[_Item] = collections.deque()
        self._queued_rows = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="estlab-model")
        self.batches = 0  # counters, for tests and logs
        self.merged_requests = 0

    async def submit(
        self, run: RunFn, key: Any, columns: Mapping[str, np.ndarray], n_rows: int
    ) -> Outputs | None:
        """This request's outputs (rows of its own), computed in a batch with concurrent requests.

        Raises
        ------
        InvalidInputError
            When the feature transformation refuses this request's values.
        OverloadedError
            When too many rows are already waiting.
        """
        limit = self.params.max_enqueued_batches * self.params.max_batch_size
        if self._queued_rows + n_rows > limit and self._queued_rows > 0:
            raise OverloadedError(
                f"the server has {self._queued_rows} rows waiting (limit {limit}: --max-enqueued-batches x "
                "--max-batch-size); retry shortly"
            )
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._wakeup = asyncio.Event()  # first request, or the app now runs on another loop
            self._task = loop.create_task(self._collect(), name="estlab-batcher")
        future = loop.create_future()
        self._queue.append(_Item(run, key, columns, n_rows, future))
        self._queued_rows += n_rows
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    def close(self) -> None:
        """Stop the collector and the model thread (queued requests are cancelled)."""
        if self._task is not None:
            self._task.cancel()
        for item in self._queue:
            if not item.future.done():
                item.future.cancel()
        self._queue.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = await self._take_batch(loop)
            self._queued_rows -= sum(item.n_rows for item in batch)
            try:
                await loop.run_in_executor(self._executor, _run_batch, batch)
            except Exception as error:  # noqa: BLE001 - the batch's own futures carry errors; this is a bug guard
                logger.exception("batch failed")
                for item in batch:
                    if not item.future.done():
                        _set_exception(item.future, error)

    async def _take_batch(self, loop: asyncio.AbstractEventLoop) -> list[_Item]:
        first = self._queue.popleft()
        batch = [first]
        self.batches += 1
        if not self.params.enabled:
            self.merged_requests += 1
            return batch
        rows = first.n_rows
        deadline = loop.time() + self.params.batch_timeout_micros / 1e6
        assert self._wakeup is not None
        while rows < self.params.max_batch_size:
            if not self._queue:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)  # queued items stay in the deque
                except asyncio.TimeoutError:
                    break
                continue
            item = self._queue[0]
            if item.run != first.run or item.key != first.key:  # bound methods: compare with ==
                break  # another model version or column dtypes: next batch
            if rows + item.n_rows > self.params.max_batch_size:
                break
            batch.append(self._queue.popleft())
            rows += item.n_rows
        self.merged_requests += len(batch)
        return batch


def _deliver(
    loop: asyncio.AbstractEventLoop, setter: Callable[[Any, Any], None], future: Any, value: Any
) -> None:
    try:
        loop.call_soon_threadsafe(setter, future, value)
    except RuntimeError:  # the loop closed (the app shut down): nobody waits for this answer
        pass


def _set_result(future: Any, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: Any, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _run_batch(batch: list[_Item]) -> None:
    """On the model thread: run ``batch`` merged; on a refused value, split it to isolate the request."""
    loop = batch[0].future.get_loop()
    try:
        results = _merged(batch)
    except Exception as error:  # noqa: BLE001 - a refused value (400) or a program failure (500): its request's
        if len(batch) == 1:
            _deliver(loop, _set_exception, batch[0].future, error)
            return
        middle = len(batch) // 2  # the others in the batch still get their answers
        _run_batch(batch[:middle])
        _run_batch(batch[middle:])
        return
    for item, result in zip(batch, results):
        _deliver(loop, _set_result, item.future, result)


def _merged(batch: list[_Item]) -> list[Outputs | None]:
    if len(batch) == 1:
        item = batch[0]
        return [item.run(item.columns, item.n_rows)]
    names = list(batch[0].columns)
    columns = {name: np.concatenate([item.columns[name] for item in batch]) for name in names}
    total = sum(item.n_rows for item in batch)
    outputs = batch[0].run(columns, total)
    results: list[Outputs | None] = []
    start = 0
    for item in batch:
        stop = start + item.n_rows
        results.append(
            None if outputs is None or item.n_rows == 0 else {k: v[start:stop] for k, v in outputs.items()}
        )
        start = stop
    return results
