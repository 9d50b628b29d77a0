"""TF-style alias: ``from estlab import feature_column as fc`` gives every ``tf.feature_column`` name.

Every public name of :mod:`estlab.features` is served here (the same objects), so the alias cannot
drift from the package.

Examples
--------
>>> from estlab import feature_column as fc
>>> fc.numeric_column("age").name
'age'
>>> from estlab.feature_column import DenseFeatures
>>> DenseFeatures is __import__("estlab.features").features.DenseFeatures
True
"""

from __future__ import annotations

from typing import Any

import estlab.features as _features

__all__ = list(_features.__all__)


def __getattr__(name: str) -> Any:
    """Serve ``estlab.features``' public names."""
    if name in _features.__all__:
        return getattr(_features, name)
    raise AttributeError(f"module 'estlab.feature_column' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
