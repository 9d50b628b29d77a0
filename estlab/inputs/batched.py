"""Inputs that arrive in batches: generators, iterables, torch ``DataLoader`` / ``IterableDataset``.

What almost every TF ``input_fn`` built with ``tf.data`` becomes in Python is an iterable of
``(features, labels)`` batches. :class:`BatchedInput` wraps one without materialising it:

* **What a batch may be.** ``(features, labels)`` (a tuple or list of two), or ``features`` alone (for
  prediction, or with ``label=`` naming the label column(s) inside it). ``features`` is a DataFrame, a
  dict of arrays/lists/tensors, or one array/tensor (the feature ``"x"``, as ``numpy_input_fn``); labels
  are an array, Series, tensor, DataFrame or dict. Torch tensors become numpy arrays (CPU) before encoding.
* **Epochs.** One epoch is one pass of the iterable, so by default a ``train`` call runs the input once,
  as TF called ``input_fn`` once per ``train`` call: an iterable that ends ends the call, and ``steps``
  caps it. ``num_epochs=k`` runs it ``k`` times: a callable is called again for each epoch (a generator
  function gives a fresh generator), a re-iterable (list, ``DataLoader``, ``IterableDataset``) is iterated
  again; a generator object can be consumed only once.
* **Bounded memory.** Training encodes one batch at a time (:class:`BatchStream`); columns that learn
  state (vocabularies, moments, quantiles) are fitted on the first ``fit_rows`` rows, which are kept and
  then trained on first; with no such column only the first batch is read before the first step.
* **Resuming.** The position (epoch, batches consumed in it) is saved in checkpoints; resuming calls or
  iterates the input again and skips (replays without training) the batches already consumed. A replay
  gives the same batches only when the input is deterministic (a seeded shuffle, a ``DataLoader`` with a
  seeded ``generator``): TF's checkpoint does not save a dataset's position at all unless you
  checkpoint the iterator yourself.

Examples
--------
>>> import numpy as np
>>> def input_fn():
...     for start in (0, 2):
...         yield {"x": np.arange(start, start + 2.0)}, np.array([0, 1])
>>> data = iterable_input_fn(input_fn)
>>> [batch.features["x"].tolist() for batch in data.batches()]
[[0.0, 1.0], [2.0, 3.0]]
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from estlab.inputs._checks import check_num_epochs
from estlab.inputs.numpy_io import DIRECT_INPUT_KEY
from estlab.inputs.parquet import _LiveMapping, _LiveTensor

__all__ = ["Batch", "BatchStream", "BatchedInput", "ONE_BATCH_PER_PART", "is_batch_iterable", "iterable_input_fn",
           "to_batch"]

logger = logging.getLogger(__name__)

#: Rows per part a :class:`BatchedInput` source reports: each batch of the iterable is one part and one batch.
ONE_BATCH_PER_PART = 2**62

#: Rows the learned state of the feature columns is fitted on by default.
FIT_ROWS = 100_000

LabelSpec = str | Sequence[str] | None


@dataclass(frozen=True)
class Batch:
    """One batch of an iterable input: ``features`` (DataFrame or dict of arrays) and ``labels`` (or None).

    It reads like an ``InputFn`` when encoded (``features``, ``labels``, ``feature_names``).

    Examples
    --------
    >>> Batch({"x": np.zeros(3)}, None).num_rows
    3
    """

    features: pd.DataFrame | dict[str, np.ndarray]
    labels: Any

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns/keys."""
        return [str(k) for k in (self.features.columns if isinstance(self.features, pd.DataFrame)
                                 else self.features)]

    @property
    def num_rows(self) -> int:
        """Rows in the batch."""
        if isinstance(self.features, pd.DataFrame):
            return len(self.features)
        name, first = next(iter(self.features.items()))
        rows = _rows(first)
        if rows is None:
            raise ValueError(f"feature {name!r} of a batch is a scalar; every feature must be an array with one "
                             "row per example")
        return rows


def _array(value: Any) -> Any:
    """A tensor as a CPU numpy array; Series/DataFrames/arrays as they are; anything else through ``np.asarray``."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray | pd.Series | pd.DataFrame):
        return value
    try:
        return np.asarray(value)
    except ValueError:
        if not isinstance(value, list):
            raise
        ragged = np.empty(len(value), dtype=object)  # rows of different lengths: multi-label class ids or names
        ragged[:] = value
        return ragged


def _is_data(value: Any) -> bool:
    return isinstance(value, pd.DataFrame | Mapping | np.ndarray | torch.Tensor | pd.Series)


def _features(value: Any) -> pd.DataFrame | dict[str, np.ndarray]:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("a batch's features are an empty dict; yield at least one feature")
        return {str(k): _array(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | torch.Tensor):
        return {DIRECT_INPUT_KEY: _array(value)}
    raise TypeError(f"a batch's features must be a DataFrame, a dict of arrays or an array; "
                    f"got {type(value).__name__}")


def _labels(value: Any) -> Any:
    if value is None or isinstance(value, pd.Series | pd.DataFrame):
        return value
    if isinstance(value, Mapping):
        return {str(k): _array(v) for k, v in value.items()}
    return _array(value)


def to_batch(raw: Any, label: LabelSpec = None) -> Batch:
    """Read one raw batch: ``(features, labels)``, or ``features`` (labels under ``label`` taken out of it).

    Parameters
    ----------
    raw : tuple, list, DataFrame, dict, array or tensor
        What the iterable yielded.
    label : str, list of str or None
        Label column(s) inside a features-only batch (ignored when the batch is a pair).

    Returns
    -------
    Batch

    Examples
    --------
    >>> b = to_batch({"x": torch.tensor([1.0, 2.0]), "y": [0, 1]}, label="y")
    >>> b.feature_names, b.labels.tolist()
    (['x'], [0, 1])
    """
    if isinstance(raw, tuple | list):
        if len(raw) == 2:
            return _checked(Batch(_features(raw[0]), _labels(raw[1])))
        if len(raw) == 1:
            raw = raw[0]
        else:
            raise ValueError(f"a batch must be (features, labels) or features; got a {type(raw).__name__} of "
                             f"{len(raw)} items")
    features = _features(raw)
    if label is None:
        return _checked(Batch(features, None))
    names = [label] if isinstance(label, str) else list(label)
    missing = [n for n in names if n not in (features.columns if isinstance(features, pd.DataFrame) else features)]
    if missing:  # a features-only batch without its label (prediction on the same kind of input)
        return _checked(Batch(features, None))
    if isinstance(features, pd.DataFrame):
        labels: Any = features[names[0]] if isinstance(label, str) else features[names]
        return _checked(Batch(features.drop(columns=names), labels))
    rest = {k: v for k, v in features.items() if k not in names}
    labels = features[names[0]] if isinstance(label, str) else {n: features[n] for n in names}
    if not rest:
        raise ValueError(f"a batch holds only the label(s) {names}; yield features too")
    return _checked(Batch(rest, labels))


def _rows(value: Any) -> int | None:
    return int(np.shape(value)[0]) if np.ndim(value) else None


def _checked(batch: Batch) -> Batch:
    """``batch`` when every feature and label array has its number of rows, else a ``ValueError``."""
    n = batch.num_rows
    columns = {} if isinstance(batch.features, pd.DataFrame) else dict(batch.features)
    labels = batch.labels
    if isinstance(labels, dict):
        columns.update({f"label {k}": v for k, v in labels.items()})
    elif labels is not None:
        columns["labels"] = labels
    bad = {k: rows for k, v in columns.items() if (rows := _rows(v)) != n}
    if bad:
        raise ValueError(f"a batch's features and labels must have one row per example and the same number of "
                         f"rows ({n}); got {bad}")
    return batch


def is_batch_iterable(value: Any) -> bool:
    """True for what :class:`BatchedInput` takes: an iterator, or an iterable that is not whole data.

    DataFrames, dicts, arrays, tensors, Series and strings are whole data, not batches; a map-style torch
    ``Dataset`` (single examples) raises a ``TypeError`` saying to wrap it in a ``DataLoader``.

    Examples
    --------
    >>> is_batch_iterable(iter([])), is_batch_iterable([({"x": [1]}, [0])]), is_batch_iterable({"x": [1]})
    (True, True, False)
    """
    if isinstance(value, str | bytes | Mapping | pd.DataFrame | pd.Series | np.ndarray | torch.Tensor):
        return False
    if isinstance(value, torch.utils.data.Dataset) and not isinstance(value, torch.utils.data.IterableDataset):
        raise TypeError(f"got a map-style torch Dataset ({type(value).__name__}), which yields single examples; "
                        "wrap it in torch.utils.data.DataLoader(dataset, batch_size=...) to give batches")
    return isinstance(value, Iterable)


def _name_of(value: Any) -> str:
    return str(getattr(value, "__qualname__", None) or type(value).__qualname__)


class BatchedInput:
    """An input of ``(features, labels)`` batches, never materialised; see :func:`iterable_input_fn`.

    Parameters
    ----------
    batches : callable or iterable
        A callable returning an iterable of batches (called again for each epoch), or the iterable itself.
    label : str, list of str or None
        Label column(s) inside features-only batches.
    num_epochs : int or None
        Passes over the input per ``train`` call (``None``: forever).
    fit_rows : int
        Rows that columns with learned state are fitted on (the first rows the input yields).
    first : iterable, optional
        What the callable already returned (``resolve_input`` called it to see its kind): used as the
        first epoch, so the callable is not called twice for it.
    name : str, optional
        The input's name in messages and saved positions (default: the callable's or iterable's qualname).
    """

    def __init__(self, batches: Callable[[], Any] | Iterable[Any], label: LabelSpec = None,
                 num_epochs: int | None = 1, fit_rows: int = FIT_ROWS, first: Iterable[Any] | None = None,
                 name: str | None = None) -> None:
        if isinstance(fit_rows, bool) or not isinstance(fit_rows, int | np.integer) or fit_rows < 1:
            raise ValueError(f"fit_rows must be a positive int, got {fit_rows!r}")
        self.num_epochs = check_num_epochs(num_epochs)
        self.label = label
        self.fit_rows = int(fit_rows)
        self._make: Callable[[], Any] | None = None
        self._first: Iterable[Any] | None = None
        if is_batch_iterable(batches):
            self._first = cast(Iterable[Any], batches)
        elif callable(batches):
            self._make, self._first = batches, first
        else:
            raise TypeError(f"batches must be an iterable of (features, labels) batches or a function returning one; "
                            f"got {type(batches).__name__}")
        self.name = name or _name_of(batches)
        #: batches read ahead (the first, to see the input's keys; the rows the transformer was fitted on),
        #: with the rest of their pass: the next pass starts with them
        self._pending: tuple[deque[Batch], Iterator[Batch]] | None = None

    @property
    def replayable(self) -> bool:
        """True when each pass starts from the beginning (a callable or a re-iterable); False for an iterator."""
        return self._make is not None or not isinstance(self._first, Iterator)

    def _fresh(self) -> Iterator[Any]:
        if self._first is not None:
            first = self._first
            if self._make is not None:  # the callable's first result serves one pass; later passes call it again
                self._first = None
            return iter(first)
        assert self._make is not None
        result = self._make()
        if not is_batch_iterable(result):
            raise TypeError(f"input function {self.name!r} returned {type(result).__name__} after returning "
                            "batches before; return an iterable of (features, labels) batches on every call")
        return iter(result)

    def open(self) -> Iterator[Batch]:
        """Start a pass over the input (read-ahead batches first), yielding :class:`Batch` objects."""
        if self._pending is not None:
            buffered, live = self._pending
            self._pending = None
            return _drain(buffered, live)
        label = self.label
        return (to_batch(raw, label) for raw in self._fresh())

    def batches(self) -> Iterator[Batch]:
        """One pass over the input, batch by batch (evaluation and prediction).

        Examples
        --------
        >>> [b.num_rows for b in iterable_input_fn([{"x": np.zeros(2)}, {"x": np.zeros(1)}]).batches()]
        [2, 1]
        """
        return self.open()

    def _read_ahead(self, rows: int) -> list[Batch]:
        """Read batches ahead until they hold ``rows`` rows or the pass ends; they stay for the next pass."""
        if self._pending is None:
            self._pending = (deque(), self.open())
        buffered, live = self._pending
        held = sum(b.num_rows for b in buffered)
        while held < rows:
            batch = next(live, None)
            if batch is None:
                break
            buffered.append(batch)
            held += batch.num_rows
        return list(buffered)

    def first_batch(self) -> Batch:
        """The first batch (read ahead and kept for the next pass); ``ValueError`` when the input is empty.

        Examples
        --------
        >>> iterable_input_fn([({"x": np.zeros(2)}, np.zeros(2))]).first_batch().num_rows
        2
        """
        ahead = self._read_ahead(1)
        if not ahead:
            raise ValueError(f"the input {self.name!r} yielded no batches"
                             + ("" if self.replayable else " (a generator can be consumed only once; pass the "
                                "function that makes it to run it again)"))
        return ahead[0]

    def _fit_taken(self, rows: int) -> list[Batch]:
        """Whole batches from the start until they hold ``rows`` rows (the one crossing ``rows`` included); read
        ahead and kept for the next pass."""
        ahead = self._read_ahead(rows)
        if not ahead:
            self.first_batch()  # the clear error
        taken, held = [], 0
        for batch in ahead:
            if held >= rows:
                break
            taken.append(batch)
            held += batch.num_rows
        return taken

    def _is_whole(self, taken: list[Batch]) -> bool:
        """Whether ``taken`` (from :meth:`_fit_taken`) is the whole input (reads one more batch ahead to know)."""
        assert self._pending is not None
        return len(taken) == len(self._pending[0]) and not self._has_more()

    def fit_sample(self) -> tuple[Batch, bool]:
        """The rows that columns with learned state are fitted on, as one batch, and whether they are all the input.

        They are whole batches from the start of the input until they hold ``fit_rows`` rows (the batch that
        crosses ``fit_rows`` is taken whole), or the whole input when it is shorter: the rows
        :meth:`fit_transformer` learns from. They are read ahead and kept for the next pass (trained on first),
        so a generator is not consumed twice. Regressors' ``normalize_labels`` reads its label statistics here.

        Examples
        --------
        >>> data = iterable_input_fn([({"x": np.zeros(2)}, np.array([1.0, 2.0])), ({"x": np.ones(2)}, [3.0, 4.0])],
        ...                          fit_rows=2)
        >>> batch, complete = data.fit_sample()
        >>> batch.labels.tolist(), complete
        ([1.0, 2.0], False)
        """
        taken = self._fit_taken(self.fit_rows)
        complete = self._is_whole(taken)
        labels = [b.labels for b in taken]
        joined = None if any(y is None for y in labels) else concat_labels(labels)
        return Batch(concat_features([b.features for b in taken]), joined), complete

    def fit_transformer(self, transformer: Any) -> Any:
        """Fit ``transformer`` on the first ``fit_rows`` rows (only the first batch when nothing is learned).

        The rows read for fitting are kept and trained on first, so a generator is not consumed twice.
        A transformer with ``fit_stream`` is fitted batch by batch, else ``fit`` on their concatenation.

        Examples
        --------
        >>> from estlab.features import FeatureTransformer, numeric_column
        >>> data = iterable_input_fn([{"x": np.array([1.0, 2.0])}, {"x": np.array([6.0])}])
        >>> data.fit_transformer(FeatureTransformer([numeric_column("x", normalizer="zscore")])).state_[
        ...     "numeric"]["x"]["mean"]
        [3.0]
        """
        learns = not getattr(transformer, "is_fitted", False)
        taken = self._fit_taken(self.fit_rows if learns else 1)
        rows = sum(b.num_rows for b in taken)
        if learns:
            if not self._is_whole(taken):
                logger.warning("Feature columns learned their state (vocabularies, moments, quantiles) from the "
                               "first %d rows of the input %r, not from all of it; pass "
                               "iterable_input_fn(..., fit_rows=N) to read more", rows, self.name)
            else:
                logger.info("Feature columns learned their state from all %d rows of the input %r", rows, self.name)
        frames = [b.features for b in taken]
        if hasattr(transformer, "fit_stream"):
            return transformer.fit_stream(frames)
        return transformer.fit(concat_features(frames))

    def _has_more(self) -> bool:
        """Whether the read-ahead pass has another batch (reads it ahead too)."""
        assert self._pending is not None
        buffered, live = self._pending
        batch = next(live, None)
        if batch is None:
            self._pending = (buffered, iter(()))
            return False
        buffered.append(batch)
        return True

    def whole(self, max_batches: int | None = None) -> Batch:
        """One pass concatenated into one batch (full-batch learners), or its first ``max_batches`` batches:
        what bounds an endless input (without a bound, an endless input never ends).

        Examples
        --------
        >>> data = iterable_input_fn([({"x": np.zeros(2)}, np.zeros(2)), ({"x": np.ones(1)}, np.ones(1))])
        >>> data.whole().num_rows, data.whole(max_batches=1).num_rows
        (3, 2)
        """
        if max_batches is not None and (isinstance(max_batches, bool) or not isinstance(max_batches, int)
                                        or max_batches < 1):
            raise ValueError(f"max_batches must be None or a positive int, got {max_batches!r}")
        parts = list(itertools.islice(self.batches(), max_batches))
        if not parts:
            self.first_batch()  # the clear error
        labels = [b.labels for b in parts]
        joined = None if any(y is None for y in labels) else concat_labels(labels)
        return Batch(concat_features([b.features for b in parts]), joined)

    def __repr__(self) -> str:
        return (f"BatchedInput({self.name!r}, label={self.label!r}, num_epochs={self.num_epochs}, "
                f"fit_rows={self.fit_rows}, replayable={self.replayable})")


def _drain(buffered: deque[Batch], live: Iterator[Batch]) -> Iterator[Batch]:
    while buffered:
        yield buffered.popleft()  # freed as soon as it is used
    yield from live


def concat_features(frames: Sequence[pd.DataFrame | dict[str, np.ndarray]]) -> pd.DataFrame | dict[str, np.ndarray]:
    """Rows of several batches' features as one (DataFrames concatenated, dicts key by key).

    Examples
    --------
    >>> concat_features([{"x": np.array([1])}, {"x": np.array([2])}])["x"].tolist()
    [1, 2]
    """
    dataframes = [f for f in frames if isinstance(f, pd.DataFrame)]
    if len(dataframes) == len(frames):
        return pd.concat(dataframes, ignore_index=True)
    dicts = [{c: f[c].to_numpy() for c in f.columns} if isinstance(f, pd.DataFrame) else f for f in frames]
    return {k: np.concatenate([np.asarray(d[k]) for d in dicts]) for k in dicts[0]}


def concat_labels(labels: Sequence[Any]) -> Any:
    """Labels of several batches as one (Series/DataFrames concatenated, dicts key by key, arrays stacked).

    Examples
    --------
    >>> concat_labels([np.array([0]), np.array([1, 1])]).tolist()
    [0, 1, 1]
    """
    if all(isinstance(y, pd.Series | pd.DataFrame) for y in labels):
        return pd.concat(list(labels), ignore_index=True)
    if all(isinstance(y, dict) for y in labels):
        return {k: np.concatenate([np.asarray(y[k]) for y in labels]) for k in labels[0]}
    return np.concatenate([np.asarray(y) for y in labels])


def iterable_input_fn(batches: Callable[[], Any] | Iterable[Any], label: LabelSpec = None,
                      num_epochs: int | None = 1, fit_rows: int = FIT_ROWS) -> BatchedInput:
    """An input of ``(features, labels)`` batches from a generator, an iterable or a function returning one.

    ``Estimator.train/evaluate/predict`` take the same things directly (``est.train(input_fn)`` with an
    ``input_fn`` that returns a generator or a ``DataLoader``); use this function to set ``fit_rows`` or
    ``num_epochs`` explicitly.

    Parameters
    ----------
    batches : callable or iterable
        A generator function, a function returning an iterable of batches (called again for each epoch and
        on resume), a ``DataLoader`` / ``IterableDataset``, a list of batches, or a generator (read once).
        A batch is ``(features, labels)``, or ``features`` alone (for prediction, or with ``label``).
    label : str, list of str or None
        Label column(s) inside features-only batches.
    num_epochs : int or None
        Passes over the input per ``train`` call; ``None`` repeats forever (TF's ``dataset.repeat()``).
    fit_rows : int
        Feature columns that learn state (vocabularies, moments, quantile boundaries) learn it from the
        first ``fit_rows`` rows of the input (all of it when smaller); those rows are kept in memory until
        trained on.

    Returns
    -------
    BatchedInput

    Examples
    --------
    >>> import numpy as np
    >>> def gen():
    ...     yield {"x": np.array([1.0, 2.0])}, np.array([0, 1])
    >>> data = iterable_input_fn(gen, num_epochs=2)
    >>> data.num_epochs, data.first_batch().labels.tolist()
    (2, [0, 1])
    """
    return BatchedInput(batches, label=label, num_epochs=num_epochs, fit_rows=fit_rows)


class BatchStream:
    """Row-index batches over a :class:`BatchedInput` for an index-batching training loop, one batch at a time.

    Each batch of the input is encoded when it is reached and becomes a chunk of its own: iterating yields
    ``arange(n)`` and :attr:`features` / :attr:`labels` / :attr:`weights` are views of the current batch's
    tensors, so the loop's ``features[rows]`` and ``labels[rows]`` work unchanged; one batch's tensors are
    alive at a time. ``state_dict()`` saves ``(epoch, position)`` (batches consumed in the epoch);
    after ``load_state_dict`` the input is run again and those batches are skipped (replayed unencoded).
    Under torchrun every rank reads every batch and rank ``r`` trains on batch ``i`` with
    ``i % world_size == r``; an epoch ends for all ranks at the first incomplete group, so every rank steps
    the same number of times.

    Parameters
    ----------
    data : BatchedInput
        The input.
    encode : callable
        ``encode(batch) -> (features_dict, labels, weights)``: tensors with one row per example.
    rank, world_size : int
        This process's rank and the number of ranks.

    Examples
    --------
    >>> data = iterable_input_fn([({"x": np.array([1.0, 2.0])}, np.array([0, 1])), ({"x": np.array([3.0])}, [1])])
    >>> encode = lambda b: ({"x": torch.as_tensor(b.features["x"])}, torch.as_tensor(b.labels), None)
    >>> stream = BatchStream(data, encode)
    >>> [stream.features["x"][rows].tolist() for rows in stream], stream.state_dict()["epoch"]
    ([[1.0, 2.0], [3.0]], 1)
    """

    def __init__(self, data: BatchedInput, encode: Callable[[Batch], Any], rank: int = 0,
                 world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.data, self.encode = data, encode
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch, self.position = 0, 0
        self._pass: Iterator[Batch] | None = None
        self._current: tuple[Any, Any, Any] = ({}, None, None)
        self._resumed = False  # loaded from a state and nothing served since
        self._ended = False  # a pass yielded nothing: the input is used up
        self.features: Mapping[str, Any] = _LiveMapping(self)
        self.labels = _LiveTensor(self, 1)
        self.weights = _LiveTensor(self, 2)

    @property
    def num_epochs(self) -> int | None:
        """Passes to serve (``None``: forever)."""
        return self.data.num_epochs

    @property
    def exhausted(self) -> bool:
        """True once all ``num_epochs`` passes have been served (or a pass yielded nothing)."""
        return self._ended or self.num_epochs is not None and self.epoch >= self.num_epochs

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor:
        while not self.exhausted:
            if self._pass is None:
                self._pass = self.data.open()
                if self.position:  # resuming: replay the batches this epoch already consumed, untrained
                    skipped = sum(1 for _ in itertools.islice(self._pass, self.position))
                    if skipped < self.position:
                        logger.info("The input %r ended after %d batches, before the saved position %d; "
                                    "its next pass starts", self.data.name, skipped, self.position)
                        self.position = skipped
            group = list(itertools.islice(self._pass, self.world_size))
            if len(group) < self.world_size:
                self._end_pass()
                continue
            self.position += self.world_size
            self._resumed = False
            self._current = ({}, None, None)  # free the previous batch before encoding the next
            encoded = self.encode(group[self.rank])
            self._current = tuple(encoded) if isinstance(encoded, tuple) else (encoded, None, None)
            rows = self._current[1] if self._current[1] is not None else next(iter(self._current[0].values()))
            return torch.arange(len(rows), dtype=torch.int64)
        raise StopIteration

    def _end_pass(self) -> None:
        empty = self.position == 0
        self._pass, self.epoch, self.position = None, self.epoch + 1, 0
        if self._resumed and self.exhausted:  # resumed exactly at the end: used up, so start again (as IndexBatcher)
            self._resumed, self.epoch = False, 0
        elif empty:
            self._ended = True

    def state_dict(self) -> dict[str, Any]:
        """The position as plain values: ``epoch`` and ``position`` (batches of all ranks consumed in it).

        Examples
        --------
        >>> BatchStream(iterable_input_fn([]), encode=None).state_dict()["position"]
        0
        """
        return {"stream": "batches", "input": self.data.name, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; ``ValueError`` when it was saved for another input.

        Examples
        --------
        >>> stream = BatchStream(iterable_input_fn([]), encode=None)
        >>> stream.load_state_dict({"stream": "batches", "input": "list", "epoch": 0, "position": 3})
        >>> stream.position
        3
        """
        if state.get("stream") != "batches" or state.get("input") != self.data.name:
            raise ValueError(f"saved input position is for {state.get('input', 'another kind of input')!r}, "
                             f"not the input {self.data.name!r}; it starts from the beginning")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        if not self.data.replayable and self.position:
            logger.info("The input %r is an iterator, which cannot be replayed: it continues from where it is, "
                        "not from the saved position", self.data.name)
            self.position = 0
        self._pass, self._resumed, self._ended = None, True, False
