"""TF-style alias: ``from estlab import feature_column as fc`` gives every ``tf.feature_column`` name.

Every public name of :mod:`estlab.features` is served here (the same objects), so the alias cannot
drift from the package; so is ``make_parse_example_spec`` (TF's ``tf.feature_column.make_parse_example_spec``,
which lives with the serving receivers in :mod:`estlab.estimator.export` and loads on first use).

Examples
--------
>>> from estlab import feature_column as fc
>>> fc.numeric_column("age").name
'age'
>>> from estlab.feature_column import DenseFeatures
>>> DenseFeatures is __import__("estlab.features").features.DenseFeatures
True
>>> fc.make_parse_example_spec([fc.numeric_column("age")])
{'age': TensorSpec(name='age', dtype='float32', shape=(-1,))}
"""

from __future__ import annotations

import importlib
from typing import Any

import estlab.features as _features

#: TF ``tf.feature_column`` names provided outside ``estlab.features``: name → module (imported on first use).
_ELSEWHERE = {"make_parse_example_spec": "estlab.estimator.export"}

__all__ = [*_features.__all__, *_ELSEWHERE]


def __getattr__(name: str) -> Any:
    """Serve ``estlab.features``' public names, and ``make_parse_example_spec``."""
    if name in _features.__all__:
        return getattr(_features, name)
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise _features.missing_name_error("estlab.feature_column", name)


def __dir__() -> list[str]:
    return sorted(__all__)
