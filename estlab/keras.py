"""The two ``tf.keras`` paths Estimator code uses: ``tf.keras.losses.Reduction`` and
``tf.keras.estimator.model_to_estimator``, so they run after ``import estlab as tf``.

``keras.losses`` is :mod:`estlab.losses`, ``keras.estimator`` is :mod:`estlab.estimator` (where
``model_to_estimator`` takes a ``torch.nn.Module``). Nothing else of Keras is here: models are ``torch.nn``
modules. Torch-free; each loads on first use.

Examples
--------
>>> import estlab as tf
>>> tf.keras.losses.Reduction.SUM
'sum'
>>> tf.keras.estimator.model_to_estimator.__name__
'model_to_estimator'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time each loads on first access
    from estlab import estimator, losses

#: attribute → the estlab module it is.
_SERVED = {"losses": "estlab.losses", "estimator": "estlab.estimator"}


def __getattr__(name: str) -> Any:
    """Import ``keras.losses`` / ``keras.estimator`` on first access; other Keras names raise naming what to use."""
    if name in _SERVED:
        module = importlib.import_module(_SERVED[name])
        globals()[name] = module
        return module
    raise AttributeError(
        f"module 'estlab.keras' has no attribute {name!r}; estlab serves only tf.keras.losses.Reduction and "
        "tf.keras.estimator.model_to_estimator: build the model as a torch.nn.Module and pass it to "
        "estlab.estimator.model_to_estimator, or use a premade estimator."
    )


def __dir__() -> list[str]:
    return sorted({*globals(), *_SERVED})


__all__ = ["estimator", "losses"]
