"""estlab.inputs: TF-style input functions over whole in-memory data (batched by index), parquet streams, and
iterables of batches (generators, ``DataLoader``, ``IterableDataset``).

Examples
--------
>>> import pandas as pd
>>> from estlab.inputs import pandas_input_fn
>>> fn = pandas_input_fn(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), shuffle=False, batch_size=2)
>>> [len(features["a"]) for features, _ in fn()]
[2, 1]
"""

from estlab.inputs.batched import BatchedInput, iterable_input_fn
from estlab.inputs.batching import IndexBatcher, epoch_permutation, iter_batches
from estlab.inputs.input_fn import InputFn
from estlab.inputs.numpy_io import numpy_input_fn
from estlab.inputs.pandas_io import pandas_input_fn
from estlab.inputs.parquet import StreamingInput, parquet_input_fn
from estlab.inputs.resolve import resolve_input

__all__ = [
    "BatchedInput",
    "IndexBatcher",
    "InputFn",
    "StreamingInput",
    "epoch_permutation",
    "iter_batches",
    "iterable_input_fn",
    "numpy_input_fn",
    "pandas_input_fn",
    "parquet_input_fn",
    "resolve_input",
]
