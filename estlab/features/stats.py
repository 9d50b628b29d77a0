"""Streaming statistics for fitting: exact moments and value counts, sampled quantiles.

Examples
--------
>>> import numpy as np
>>> m = Moments(); m.update(np.array([[1.0], [3.0]])); m.mean.tolist()
[2.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: rows kept by the streaming quantile sample (``fit_stream``); ``fit`` keeps every row
STREAM_SAMPLE_SIZE = 200_000


class Moments:
    """Exact count, mean, variance (Chan's parallel merge), min and max per element.

    Examples
    --------
    >>> m = Moments(); m.update(np.array([[1.0], [2.0]])); m.update(np.array([[3.0]])); m.std.tolist()
    [0.816496580927726]
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None
        self.min: np.ndarray | None = None
        self.max: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        n, mean = len(x), x.mean(axis=0)
        m2 = ((x - mean) ** 2).sum(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2, self.min, self.max = n, mean, m2, x.min(axis=0), x.max(axis=0)
            return
        assert self.mean is not None and self.m2 is not None and self.min is not None and self.max is not None
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * n / total
        self.m2 = self.m2 + m2 + delta**2 * self.count * n / total
        self.min = np.minimum(self.min, x.min(axis=0))
        self.max = np.maximum(self.max, x.max(axis=0))
        self.count = total

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (``ddof=0``, as sklearn's StandardScaler)."""
        assert self.m2 is not None, "no rows seen"
        return np.sqrt(self.m2 / self.count)


class ValueCounts:
    """Exact frequency of each non-missing value, merged across chunks.

    Examples
    --------
    >>> c = ValueCounts(); c.update(pd.Series(["a", "b", "a"])); c.counts.to_dict()
    {'a': 2, 'b': 1}
    """

    def __init__(self) -> None:
        self.counts = pd.Series(dtype=np.int64)

    def update(self, values: pd.Series) -> None:
        vc = values.value_counts(dropna=True)
        if vc.index.dtype == object:
            vc.index = vc.index.infer_objects()
        self.counts = vc if self.counts.empty else self.counts.add(vc, fill_value=0).astype(np.int64)

    def vocabulary(self, max_tokens: int | None, min_frequency: int) -> list:
        """Values seen ``>= min_frequency`` times, most frequent first, ties by value; at most ``max_tokens``."""
        counts = self.counts.loc[self.counts >= min_frequency]
        frame = pd.DataFrame({"value": counts.index, "count": counts.to_numpy()})
        frame = frame.sort_values(["count", "value"], ascending=[False, True], kind="stable")
        values = frame["value"].tolist()
        return values[:max_tokens] if max_tokens is not None else values


class RowSample:
    """Uniform sample of rows without replacement, mergeable across chunks (smallest random keys).

    With ``capacity=None`` every row is kept (exact quantiles). With a capacity ``m`` and a stream of
    ``n > m`` rows, each quantile is within rank error ``eps = sqrt(ln(2/delta) / (2 m))`` with probability
    ``1 - delta`` (Dvoretzky-Kiefer-Wolfowitz); for ``m = 200_000``, ``eps < 0.0063`` at ``delta = 1e-6``.

    Examples
    --------
    >>> s = RowSample(capacity=2, seed=0); s.update(np.arange(10.0).reshape(5, 2)); s.rows.shape
    (2, 2)
    """

    def __init__(self, capacity: int | None, seed: int = 0) -> None:
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self.rows: np.ndarray | None = None
        self.keys: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        if self.capacity is None:
            self.rows = x if self.rows is None else np.concatenate([self.rows, x])
            return
        keys = self.rng.random(len(x))
        rows = x if self.rows is None else np.concatenate([self.rows, x])
        keys = keys if self.keys is None else np.concatenate([self.keys, keys])
        if len(keys) > self.capacity:
            keep = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            rows, keys = rows[keep], keys[keep]
        self.rows, self.keys = rows, keys
