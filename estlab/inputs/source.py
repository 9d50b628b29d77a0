"""Data sources: one protocol over in-memory inputs (``InputFn``), streamed parquet (``StreamingInput``) and
iterables of batches (``BatchedInput``: generators, ``DataLoader``, ``IterableDataset``).

Whoever trains, evaluates or predicts asks a source the same questions and never branches on its kind:
does it have labels, which keys does it offer, fit a transformer on it, give every row once (for
evaluation and prediction, sharded across ranks), give training batches resumed from a saved position.

Examples
--------
>>> import pandas as pd
>>> from estlab.inputs import resolve_input
>>> source = as_source(resolve_input(pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}), label="y"))
>>> source.has_labels, source.feature_keys, [len(part.features) for part in source.one_pass()]
(True, ['x'], [2])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from estlab.inputs.batched import ONE_BATCH_PER_PART, BatchedInput, BatchStream
from estlab.inputs.batching import IndexBatcher
from estlab.inputs.input_fn import InputFn
from estlab.inputs.sharding import shard_indices

logger = logging.getLogger(__name__)

#: ``encode(part) -> (features, labels, weights)``: tensors of one part of the input.
Encode = Callable[[Any], tuple[dict[str, Any], Any, Any]]


@dataclass
class TrainFeed:
    """What a training loop steps over: index batches and the tensors they index.

    ``rows`` maps the batcher's indices to this rank's rows (in-memory inputs under torchrun), else None.
    """

    batches: Any
    features: Any
    labels: Any
    weights: Any
    rows: Any = None


class DataSource(Protocol):
    """What training, evaluation and prediction ask of an input."""

    batch_size: int

    @property
    def has_labels(self) -> bool:
        """True when the input carries labels."""
        ...

    @property
    def feature_keys(self) -> list[str]:
        """The keys (columns) the input offers."""
        ...

    def fit(self, transformer: Any) -> Any:
        """Fit ``transformer`` on this input (checks its required keys first) and return it."""
        ...

    def one_pass(self, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        """Every row of this rank once, in order, as parts with ``features``/``labels``/``feature_names``."""
        ...

    def train_feed(self, encode: Encode, state: dict[str, Any] | None, rank: int, world_size: int,
                   device: Any = None) -> TrainFeed:
        """Training batches resumed from ``state`` (a batcher's ``state_dict``), and the tensors they index.

        ``device`` is where the loop trains: an in-memory input makes its index batches there (one copy of each
        epoch's order instead of one per step); streamed inputs give CPU indices into each chunk's tensors.
        """
        ...

    def whole(self, what: str, max_batches: int | None = None) -> Any:
        """The input as one in-memory part (full-batch learners); ``what`` names the caller in the error.

        ``max_batches`` bounds an iterable of batches (its first batches only: an endless generator ends
        there); in-memory and parquet inputs are finite and always whole.
        """
        ...


def check_keys(required: list[str], available: list[str]) -> None:
    """Raise a clear error when feature columns read keys the input does not have.

    Examples
    --------
    >>> check_keys(["age"], ["age", "income"])
    >>> check_keys(["agee"], ["age"])
    Traceback (most recent call last):
    ...
    ValueError: feature column key(s) ['agee'] are missing from the input, which has columns ['age']; add the column(s) to the data or remove the feature column(s) that read them
    """
    missing = [k for k in required if k not in available]
    if missing:
        raise ValueError(
            f"feature column key(s) {missing} are missing from the input, which has columns {available}; "
            "add the column(s) to the data or remove the feature column(s) that read them"
        )


def _required_keys(transformer: Any) -> list[str]:
    required: Iterable[str] | Callable[[], Iterable[str]] = transformer.required_keys
    return list(required() if callable(required) else required)


def _resumed(fresh: Callable[[], Any], state: dict[str, Any] | None) -> Any:
    """A batcher at the saved position; a fresh one when the input changed or was used up (as TF did)."""
    batcher = fresh()
    if state is None:
        return batcher
    try:
        batcher.load_state_dict(state)
    except (ValueError, KeyError):
        logger.info("Training input differs from the saved iterator state; starting it from the beginning")
        return fresh()
    return fresh() if batcher.exhausted else batcher


class MemorySource:
    """An in-memory ``InputFn``: encoded once, batched by index; sharded by rows under torchrun."""

    def __init__(self, data: InputFn) -> None:
        self.data = data
        self.batch_size = data.batch_size

    @property
    def has_labels(self) -> bool:
        return self.data.labels is not None

    @property
    def feature_keys(self) -> list[str]:
        return self.data.feature_names

    def fit(self, transformer: Any) -> Any:
        check_keys(_required_keys(transformer), self.feature_keys)
        return transformer.fit(self.data.features)

    def one_pass(self, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        if world_size == 1:
            yield self.data
            return
        rows = shard_indices(self.data.num_rows, rank, world_size, even=False).numpy()
        features = self.data.features
        features = (features.iloc[rows] if isinstance(features, pd.DataFrame)
                    else {k: v[rows] for k, v in features.items()})
        labels = self.data.labels
        if labels is not None:
            labels = (labels.iloc[rows] if isinstance(labels, pd.Series | pd.DataFrame)
                      else {k: v[rows] for k, v in labels.items()} if isinstance(labels, dict) else labels[rows])
        yield self.data.with_options(features=features, labels=labels)

    def train_feed(self, encode: Encode, state: dict[str, Any] | None, rank: int, world_size: int,
                   device: Any = None) -> TrainFeed:
        rows = None
        if world_size > 1:
            rows = shard_indices(self.data.num_rows, rank, world_size)
        data = self.data
        n_rows = data.num_rows if rows is None else len(rows)
        batcher = _resumed(lambda: IndexBatcher(n_rows, data.batch_size, data.num_epochs, data.shuffle, data.seed,
                                                device=device), state)
        rows = rows if rows is None or device is None else rows.to(device)
        features, labels, weights = encode(data)
        return TrainFeed(batcher, features, labels, weights, rows)

    def whole(self, what: str, max_batches: int | None = None) -> Any:
        return self.data


class StreamSource:
    """A streamed parquet input: encoded chunk by chunk; sharded by row groups under torchrun."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.batch_size = data.batch_size

    @property
    def has_labels(self) -> bool:
        return self.data.label is not None

    @property
    def feature_keys(self) -> list[str]:
        return list(self.data.schema_names)

    def fit(self, transformer: Any) -> Any:
        check_keys(_required_keys(transformer), self.feature_keys)
        return self.data.fit_transformer(transformer)

    def one_pass(self, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        if world_size > 1:  # this rank's row groups, each row once
            yield from self.data.shard(rank, world_size).single_pass()
            return
        for chunk in self.data.chunks(0, 0):
            if chunk.epoch > 0:
                return
            yield chunk

    def train_feed(self, encode: Encode, state: dict[str, Any] | None, rank: int, world_size: int,
                   device: Any = None) -> TrainFeed:
        from estlab.inputs.parquet import TensorStream

        source = self.data.shard(rank, world_size) if world_size > 1 else self.data
        stream = _resumed(lambda: TensorStream(source, encode), state)
        return TrainFeed(stream, stream.features, stream.labels, stream.weights)

    def whole(self, what: str, max_batches: int | None = None) -> Any:
        raise ValueError(f"{what} fits on the whole data at once; pass a DataFrame or an InputFn instead of a "
                         "streamed parquet input")


class BatchStreamSource:
    """An iterable of batches (``BatchedInput``): encoded batch by batch, never materialised.

    Each batch of the iterable is one part of :meth:`one_pass` and one batch of evaluation and prediction
    (``batch_size`` is unbounded so that no part is split). Under torchrun rank ``r`` takes batches
    ``i % world_size == r``. See ``estlab.inputs.batched`` for epochs, fitting and resuming.

    Examples
    --------
    >>> import numpy as np
    >>> from estlab.inputs.batched import iterable_input_fn
    >>> source = BatchStreamSource(iterable_input_fn([({"x": np.zeros(2)}, np.zeros(2)), ({"x": np.ones(1)}, [1])]))
    >>> source.has_labels, source.feature_keys, [part.num_rows for part in source.one_pass()]
    (True, ['x'], [2, 1])
    """

    def __init__(self, data: BatchedInput) -> None:
        self.data = data
        self.batch_size = ONE_BATCH_PER_PART

    @property
    def has_labels(self) -> bool:
        return self.data.first_batch().labels is not None

    @property
    def feature_keys(self) -> list[str]:
        return self.data.first_batch().feature_names

    def fit(self, transformer: Any) -> Any:
        check_keys(_required_keys(transformer), self.feature_keys)
        return self.data.fit_transformer(transformer)

    def one_pass(self, rank: int = 0, world_size: int = 1) -> Iterator[Any]:
        for i, batch in enumerate(self.data.batches()):
            if i % world_size == rank:
                yield batch

    def train_feed(self, encode: Encode, state: dict[str, Any] | None, rank: int, world_size: int,
                   device: Any = None) -> TrainFeed:
        stream = _resumed(lambda: BatchStream(self.data, encode, rank, world_size), state)
        return TrainFeed(stream, stream.features, stream.labels, stream.weights)

    def whole(self, what: str, max_batches: int | None = None) -> Any:
        batch = self.data.whole(max_batches)
        return InputFn(batch.features, batch.labels, batch_size=max(batch.num_rows, 1))


def as_source(data: Any) -> DataSource:
    """Wrap a resolved input (``InputFn``, ``StreamingInput`` or ``BatchedInput``) as a :class:`DataSource`.

    Examples
    --------
    >>> import numpy as np
    >>> type(as_source(InputFn({"x": np.arange(3)}))).__name__
    'MemorySource'
    """
    if isinstance(data, InputFn):
        return MemorySource(data)
    if isinstance(data, BatchedInput):
        return BatchStreamSource(data)
    from estlab.inputs.parquet import StreamingInput

    if isinstance(data, StreamingInput):
        return StreamSource(data)
    raise TypeError(f"expected an InputFn, a StreamingInput or a BatchedInput (see estlab.inputs.resolve_input), "
                    f"got {type(data).__name__}")


def training_source(input_fn: Any, *, label: Any, batch_size: int, num_epochs: int | None, shuffle: bool,
                    seed: int | None, bounded: bool, input_fn_args: dict[str, Any] | None = None) -> DataSource:
    """The training input as a source with labels; a DataFrame or dict with no step bound trains one epoch.

    An iterable of batches (or a function returning one) runs once per call unless ``num_epochs`` says more,
    as TF called ``input_fn`` once per ``train`` call. A callable naming ``mode``/``params``/``config`` gets
    them (``mode="train"`` plus ``input_fn_args``), as TF's Estimator passed them.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    >>> training_source(frame, label="y", batch_size=1, num_epochs=None, shuffle=False, seed=0,
    ...                 bounded=False).data.num_epochs
    1
    """
    from estlab.inputs.resolve import resolve_input

    if num_epochs is None and not bounded and isinstance(input_fn, pd.DataFrame | dict):
        num_epochs = 1  # a frame with no step bound trains one epoch instead of forever
    source = as_source(resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=num_epochs,
                                     shuffle=shuffle, seed=seed, input_fn_args={"mode": "train",
                                                                                **(input_fn_args or {})}))
    if not source.has_labels:
        raise ValueError("train: the input has no labels; pass label='<target column>' with a DataFrame, "
                         "or an input_fn that returns (features, labels)")
    return source
