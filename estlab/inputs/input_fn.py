"""``InputFn``: a TF-style input function that is also an inspectable description of its data."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import torch

from estlab.inputs._checks import check_batch_size, check_num_epochs, check_seed, check_shuffle
from estlab.inputs.batching import IndexBatcher

Features: TypeAlias = pd.DataFrame | dict[str, np.ndarray]
Labels: TypeAlias = pd.Series | pd.DataFrame | np.ndarray | dict[str, np.ndarray] | None
RawBatch: TypeAlias = tuple[dict[str, np.ndarray], np.ndarray | dict[str, np.ndarray] | None]
Index: TypeAlias = torch.Tensor | np.ndarray | slice


def _length(value: Any) -> int:
    if isinstance(value, pd.DataFrame | pd.Series):
        return len(value)
    shape = np.shape(value)
    if not shape:
        raise ValueError(
            f"every feature and label must be an array with one row per example; got a scalar {value!r}."
        )
    return int(shape[0])


def _as_arrays(data: pd.DataFrame | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if isinstance(data, pd.DataFrame):
        return {name: data[name].to_numpy() for name in data.columns}
    return {name: np.asarray(value) for name, value in data.items()}


def _to_numpy_index(index: Index) -> np.ndarray | slice:
    if isinstance(index, torch.Tensor):
        return index.detach().cpu().numpy()
    return index


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class InputFn:
    """Whole in-memory data plus batching settings; calling it yields raw batches like TF's input_fn.

    A training loop can skip the raw batches: read ``.features`` / ``.labels`` once, transform them to
    tensors, and batch by index with ``.batcher()``.

    Parameters
    ----------
    features : DataFrame or dict of arrays
        Feature data, one row per example (a DataFrame's columns or the dict's keys are feature names).
    labels : Series, DataFrame, array, dict of arrays or None
        Targets aligned row by row with ``features``; ``None`` for prediction.
    batch_size : int
        Rows per batch.
    num_epochs : int or None
        Passes over the data; ``None`` repeats forever.
    shuffle : bool
        Permute rows in each epoch.
    seed : int or None
        Seed of the permutations (see ``IndexBatcher``).

    Examples
    --------
    >>> fn = InputFn({"x": np.arange(3.0)}, np.array([0, 1, 0]), batch_size=2, shuffle=False)
    >>> [(f["x"].tolist(), y.tolist()) for f, y in fn()]
    [([0.0, 1.0], [0, 1]), ([2.0], [0])]
    """

    features: Features
    labels: Labels = None
    batch_size: int = 128
    num_epochs: int | None = 1
    shuffle: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "batch_size", check_batch_size(self.batch_size))
        set_(self, "num_epochs", check_num_epochs(self.num_epochs))
        set_(self, "shuffle", check_shuffle(self.shuffle))
        set_(self, "seed", check_seed(self.seed))
        if not isinstance(self.features, pd.DataFrame | Mapping):
            raise TypeError(
                f"features must be a pandas DataFrame or a dict of arrays; got {type(self.features).__name__}."
            )
        if isinstance(self.features, Mapping) and not self.features:
            raise ValueError("features cannot be an empty dict; pass at least one feature array.")
        if isinstance(self.features, Mapping):
            lengths = {name: _length(value) for name, value in self.features.items()}
            if len(set(lengths.values())) != 1:
                raise ValueError(
                    f"All feature arrays must have the same length; got lengths {lengths}. "
                    "Trim or align the arrays."
                )
        if self.labels is not None:
            label_values = self.labels.values() if isinstance(self.labels, Mapping) else [self.labels]
            for value in label_values:
                if _length(value) != self.num_rows:
                    raise ValueError(
                        f"labels have {_length(value)} rows but features have {self.num_rows}; "
                        "pass labels aligned row by row with the features."
                    )

    @property
    def num_rows(self) -> int:
        """Number of examples."""
        if isinstance(self.features, pd.DataFrame):
            return len(self.features)
        return _length(next(iter(self.features.values())))

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns/keys, in their given order."""
        return list(self.features.columns if isinstance(self.features, pd.DataFrame) else self.features)

    @cached_property
    def _feature_arrays(self) -> dict[str, np.ndarray]:
        return _as_arrays(self.features)

    @cached_property
    def _label_arrays(self) -> np.ndarray | dict[str, np.ndarray] | None:
        if self.labels is None:
            return None
        if isinstance(self.labels, pd.DataFrame | Mapping):
            return _as_arrays(self.labels)
        if isinstance(self.labels, pd.Series):
            return self.labels.to_numpy()
        return np.asarray(self.labels)

    def batcher(self, seed: int | None = None) -> IndexBatcher:
        """Return a fresh ``IndexBatcher`` with this input's settings.

        Parameters
        ----------
        seed : int or None
            Overrides ``self.seed`` when given (e.g. ``RunConfig.tf_random_seed``).

        Examples
        --------
        >>> InputFn({"x": np.arange(5)}, batch_size=2).batcher().batches_per_epoch
        3
        """
        return IndexBatcher(
            self.num_rows,
            self.batch_size,
            self.num_epochs,
            self.shuffle,
            self.seed if seed is None else seed,
        )

    def gather(self, index: Index) -> RawBatch:
        """Return the raw ``(features, labels)`` batch of the rows in ``index``.

        Parameters
        ----------
        index : LongTensor, integer array or slice
            Rows to take.

        Examples
        --------
        >>> fn = InputFn({"x": np.arange(4)}, np.arange(4) * 10)
        >>> f, y = fn.gather(torch.tensor([3, 0]))
        >>> f["x"].tolist(), y.tolist()
        ([3, 0], [30, 0])
        """
        rows = _to_numpy_index(index)
        features = {name: values[rows] for name, values in self._feature_arrays.items()}
        labels = self._label_arrays
        if isinstance(labels, dict):
            labels = {name: values[rows] for name, values in labels.items()}
        elif labels is not None:
            labels = labels[rows]
        return features, labels

    def __call__(self) -> Iterator[RawBatch]:
        """Iterate raw ``(features, labels)`` batches over ``num_epochs`` epochs (labels None when absent)."""
        batcher = self.batcher()
        return (self.gather(index) for index in batcher)

    def with_options(self, **changes: Any) -> InputFn:
        """Return a copy with some settings changed (e.g. ``num_epochs=1, shuffle=False`` for evaluation).

        Examples
        --------
        >>> InputFn({"x": np.arange(3)}).with_options(batch_size=2).batch_size
        2
        """
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        kind = "DataFrame" if isinstance(self.features, pd.DataFrame) else "dict"
        return (
            f"InputFn({kind}: {self.num_rows} rows x {len(self.feature_names)} features, "
            f"labels={'yes' if self.labels is not None else 'no'}, batch_size={self.batch_size}, "
            f"num_epochs={self.num_epochs}, shuffle={self.shuffle}, seed={self.seed})"
        )
