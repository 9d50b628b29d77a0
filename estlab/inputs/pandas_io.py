"""``pandas_input_fn``: TF's function of the same name, returning an inspectable ``InputFn``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from estlab.inputs._checks import check_num_threads, check_queue_capacity, check_shuffle
from estlab.inputs.input_fn import InputFn


def pandas_input_fn(
    x: pd.DataFrame,
    y: pd.Series | pd.DataFrame | np.ndarray | None = None,
    batch_size: int = 128,
    num_epochs: int | None = 1,
    shuffle: bool | None = None,
    queue_capacity: int | None = 1000,
    num_threads: int = 1,
    target_column: str = "target",
    *,
    seed: int | None = None,
) -> InputFn:
    """Return an input function that feeds a pandas DataFrame, as ``tf.estimator.inputs.pandas_input_fn``.

    Parameters
    ----------
    x : DataFrame
        Features, one column per feature.
    y : Series, DataFrame, array or None
        Targets. A Series/DataFrame must have exactly ``x``'s index; a plain array must have ``len(x)``
        rows. A DataFrame gives dict labels keyed by its columns. ``None`` for prediction.
    batch_size : int
        Rows per batch; the last batch of an epoch may be smaller.
    num_epochs : int or None
        Passes over the data; ``None`` repeats forever.
    shuffle : bool
        Required, as in TF: ``True`` for training, ``False`` for evaluation and prediction.
    queue_capacity : int or None
        Accepted for compatibility; batches are built by indexing, there is no queue.
    num_threads : int
        Accepted for compatibility; the order is always deterministic.
    target_column : str
        TF's name for the target; it must not clash with a column of ``x`` when ``y`` is given.
    seed : int or None
        Seed of the shuffling permutations (an estlab addition).

    Returns
    -------
    InputFn
        Calling it yields ``(features_dict, labels)`` batches of numpy arrays.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    >>> fn = pandas_input_fn(df, pd.Series([0, 1, 0]), batch_size=2, shuffle=False)
    >>> [y.tolist() for _, y in fn()]
    [[0, 1], [0]]
    """
    shuffle = check_shuffle(shuffle)
    check_queue_capacity(queue_capacity)
    check_num_threads(num_threads)
    if not isinstance(x, pd.DataFrame):
        raise TypeError(
            f"x must be a pandas DataFrame; got {type(x).__name__}. For a dict of arrays use numpy_input_fn."
        )
    if not isinstance(target_column, str):
        raise TypeError("target_column must be a string type")
    if y is not None:
        y = _checked_target(x, y, target_column)
    return InputFn(
        features=x.copy(deep=False),
        labels=y,
        batch_size=batch_size,
        num_epochs=num_epochs,
        shuffle=shuffle,
        seed=seed,
    )


def _checked_target(x: pd.DataFrame, y: Any, target_column: str) -> pd.Series | pd.DataFrame | np.ndarray:
    if target_column in x:
        raise ValueError(
            f"Cannot use name {target_column} for target column: DataFrame already has a column with that "
            f"name: {list(x.columns)}. Pass another target_column=..., or drop the column from x."
        )
    if isinstance(y, pd.Series | pd.DataFrame):
        ranges = isinstance(x.index, pd.RangeIndex) and isinstance(y.index, pd.RangeIndex)
        if not (x.index.equals(y.index) if ranges else np.array_equal(x.index, y.index)):  # ranges: O(1)
            raise ValueError(
                f"Index for x and y are mismatched.\nIndex for x: {x.index}\nIndex for y: {y.index}\n"
                "Align them, e.g. y = y.loc[x.index], or reset_index(drop=True) on both."
            )
        return y.copy(deep=False)
    values = np.asarray(y)
    if values.ndim == 0 or len(values) != len(x):
        raise ValueError(
            f"y must have one row per row of x ({len(x)}); got shape {values.shape}. "
            "Pass a Series indexed like x or an array of len(x)."
        )
    return values
