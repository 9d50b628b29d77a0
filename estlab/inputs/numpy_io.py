"""``numpy_input_fn``: TF's function of the same name, returning an inspectable ``InputFn``."""

from __future__ import annotations

from typing import Any

import numpy as np

from estlab.inputs._checks import check_num_threads, check_queue_capacity, check_shuffle
from estlab.inputs.input_fn import InputFn

#: Feature key used when ``x`` is a single array rather than a dict.
DIRECT_INPUT_KEY = "x"


def numpy_input_fn(
    x: dict[str, np.ndarray] | np.ndarray,
    y: dict[str, np.ndarray] | np.ndarray | None = None,
    batch_size: int = 128,
    num_epochs: int | None = 1,
    shuffle: bool | None = None,
    queue_capacity: int | None = 1000,
    num_threads: int = 1,
    *,
    seed: int | None = None,
) -> InputFn:
    """Return an input function that feeds a dict of numpy arrays, as ``tf.estimator.inputs.numpy_input_fn``.

    Parameters
    ----------
    x : dict of arrays or array
        Features; every array has one row per example. A single array becomes the feature ``"x"``.
    y : array, dict of arrays or None
        Targets with the same number of rows; a dict gives dict labels. ``None`` for prediction.
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
    seed : int or None
        Seed of the shuffling permutations (an estlab addition).

    Returns
    -------
    InputFn
        Calling it yields ``(features_dict, labels)`` batches of numpy arrays.

    Examples
    --------
    >>> x = {"age": np.arange(4) * 1.0, "height": np.arange(32, 36)}
    >>> fn = numpy_input_fn(x, np.arange(-32, -28), batch_size=2, shuffle=False)
    >>> [f["height"].tolist() for f, _ in fn()]
    [[32, 33], [34, 35]]
    """
    shuffle = check_shuffle(shuffle)
    check_queue_capacity(queue_capacity)
    check_num_threads(num_threads)
    features = _features_dict(x)
    labels: Any = None
    if isinstance(y, dict):
        if not y:
            raise ValueError("y cannot be empty dict, use None instead.")
        duplicate_keys = set(features).intersection(y)
        if duplicate_keys:
            raise ValueError(
                f"{len(duplicate_keys)} duplicate keys are found in both x and y: {duplicate_keys}. "
                "Rename the targets or the features."
            )
        labels = {key: np.asarray(value) for key, value in y.items()}
    elif y is not None:
        labels = np.asarray(y)
    _check_lengths(features, labels)
    return InputFn(
        features=features,
        labels=labels,
        batch_size=batch_size,
        num_epochs=num_epochs,
        shuffle=shuffle,
        seed=seed,
    )


def _features_dict(x: Any) -> dict[str, np.ndarray]:
    if isinstance(x, dict):
        if not x:
            raise ValueError("x cannot be an empty dict")
        return {key: np.asarray(value) for key, value in x.items()}
    if isinstance(x, np.ndarray):
        if x.size == 0:
            raise ValueError("x cannot be an empty array")
        return {DIRECT_INPUT_KEY: x}
    raise TypeError(f"x must be a dict or array; got {type(x).__name__}")


def _check_lengths(features: dict[str, np.ndarray], labels: Any) -> None:
    label_arrays = list(labels.values()) if isinstance(labels, dict) else [] if labels is None else [labels]
    arrays = [*features.values(), *label_arrays]
    lengths = {value.shape[0] if value.ndim else None for value in arrays}
    if len(lengths) != 1 or None in lengths:
        shapes_x = {key: value.shape for key, value in features.items()}
        if labels is None:
            shapes_y = None
        elif isinstance(labels, dict):
            shapes_y = {key: value.shape for key, value in labels.items()}
        else:
            shapes_y = labels.shape
        raise ValueError(
            "Length of tensors in x and y is mismatched. All elements in x and y must have the same length.\n"
            f"Shapes in x: {shapes_x}\nShapes in y: {shapes_y}\n"
        )
