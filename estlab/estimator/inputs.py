"""``estlab.estimator.inputs``: TF's ``tf.compat.v1.estimator.inputs`` names (alias of ``estlab.inputs``).

Examples
--------
>>> import numpy as np
>>> from estlab.estimator.inputs import numpy_input_fn
>>> numpy_input_fn({"x": np.arange(3.0)}, shuffle=False).batch_size
128
"""

from __future__ import annotations

from typing import Any

import estlab.inputs as _inputs
from estlab.inputs import InputFn, numpy_input_fn, pandas_input_fn, resolve_input

__all__ = ["InputFn", "numpy_input_fn", "pandas_input_fn", "resolve_input"]


def __getattr__(name: str) -> Any:
    """Serve the rest of ``estlab.inputs``."""
    try:
        return getattr(_inputs, name)
    except AttributeError:
        raise AttributeError(f"module 'estlab.estimator.inputs' has no attribute {name!r}") from None
