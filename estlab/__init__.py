"""estlab: TensorFlow's Estimator workflow on PyTorch, Jupyter-native.

``import estlab`` is cheap: the subpackages load on first attribute access (PEP 562), so TF's paths work
after the import line alone, as ``tf.estimator`` / ``tf.feature_column`` do after ``import tensorflow as tf``.

Examples
--------
>>> import estlab
>>> estlab.feature_column.numeric_column("age").name
'age'
>>> estlab.estimator.DNNClassifier.__name__
'DNNClassifier'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: subpackages and modules served as attributes of ``estlab``, imported on first use.
_SUBMODULES = (
    "cli", "datasets", "estimator", "estimators", "export", "feature_column", "features", "inputs", "keras",
    "losses", "nn", "training", "viz", "widgets",
)

__all__ = ["__version__", "check", *_SUBMODULES]

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time each loads on first access
    from estlab import (  # noqa: F401
        cli,
        datasets,
        estimator,
        estimators,
        export,
        feature_column,
        features,
        inputs,
        keras,
        losses,
        nn,
        training,
        viz,
        widgets,
    )


#: functions served as attributes of ``estlab``: name → (module, attribute), imported on first use.
_FUNCTIONS = {"check": ("estlab.datacheck", "check")}
#: TF's dtype names (``tf.float32``, ``tf.string`` after ``import estlab as tf``): plain numpy types and ``str``,
#: documented in ``estlab.features.dtypes``.
_DTYPES = ("float16", "float32", "float64", "double", "int8", "int16", "int32", "int64", "uint8", "bool", "string")
_FUNCTIONS.update({name: ("estlab.features.dtypes", name) for name in _DTYPES})


def __getattr__(name: str) -> Any:
    """Import ``estlab.<name>`` on first access (``estlab.estimator``, ``estlab.feature_column``, ``estlab.check``)."""
    if name in _FUNCTIONS:
        module, attribute = _FUNCTIONS[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it in this module too
    raise AttributeError(f"module 'estlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES, *_FUNCTIONS})
