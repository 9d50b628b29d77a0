"""TF's ``tf.losses.Reduction`` names, so ``loss_reduction=tf.losses.Reduction.SUM`` runs after ``import estlab as tf``.

The values are the strings estlab's heads take as ``loss_reduction`` (TF 2's own values, ``tf.keras.losses.
Reduction``). The premade estimators and heads accept ``SUM_OVER_BATCH_SIZE`` (the default) and ``SUM``, and
``AUTO``, which TF's estimator heads treat as ``SUM_OVER_BATCH_SIZE`` (so here it is that value). ``NONE`` is
refused by every head, as in TF. TF 1's ``MEAN``, ``SUM_BY_NONZERO_WEIGHTS`` and ``SUM_OVER_NONZERO_WEIGHTS``
(``tf.compat.v1.losses.Reduction``: divide by the weights' sum or their non-zero count) have no estlab
equivalent; asking for one raises an ``AttributeError`` saying so. Torch-free.

Examples
--------
>>> import estlab as tf
>>> tf.losses.Reduction.SUM, tf.losses.Reduction.SUM_OVER_BATCH_SIZE
('sum', 'sum_over_batch_size')
>>> tf.losses.Reduction.all()
('none', 'sum', 'sum_over_batch_size')
"""

from __future__ import annotations

from typing import Any, ClassVar

#: TF 1's reductions with no estlab equivalent → what each one divides the weighted sum by.
_V1_ONLY = {
    "MEAN": "the sum of the weights",
    "SUM_BY_NONZERO_WEIGHTS": "the number of non-zero weights",
    "SUM_OVER_NONZERO_WEIGHTS": "the number of non-zero weights",
}


class _ReductionType(type):
    """Metaclass of :class:`Reduction`: a TF 1-only name raises an ``AttributeError`` that says what to use."""

    def __getattr__(cls, name: str) -> Any:
        if name in _V1_ONLY:
            raise AttributeError(
                f"Reduction.{name} (TF 1's tf.compat.v1.losses.Reduction: the weighted sum divided by "
                f"{_V1_ONLY[name]}) has no estlab equivalent; estlab's heads take Reduction.SUM_OVER_BATCH_SIZE "
                "(the weighted sum divided by the number of examples) or Reduction.SUM."
            )
        raise AttributeError(
            f"type object 'Reduction' has no attribute {name!r}; TF's names are "
            "AUTO, NONE, SUM and SUM_OVER_BATCH_SIZE."
        )


class Reduction(metaclass=_ReductionType):
    """TF's loss reductions (``tf.losses.Reduction`` / ``tf.keras.losses.Reduction``) as plain strings.

    ``SUM_OVER_BATCH_SIZE``: ``sum(w * loss) / number of examples`` (estlab's and TF 2's default). ``SUM``:
    ``sum(w * loss)``. ``AUTO``: ``SUM_OVER_BATCH_SIZE``, as TF's estimator heads read it. ``NONE``: per-example
    losses, which no estimator head accepts.

    Examples
    --------
    >>> Reduction.AUTO == Reduction.SUM_OVER_BATCH_SIZE
    True
    >>> Reduction.validate("sum")
    """

    AUTO: ClassVar[str] = "sum_over_batch_size"
    NONE: ClassVar[str] = "none"
    SUM: ClassVar[str] = "sum"
    SUM_OVER_BATCH_SIZE: ClassVar[str] = "sum_over_batch_size"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """The reduction values (``Reduction.all()`` as in TF; ``AUTO`` is ``SUM_OVER_BATCH_SIZE``'s value).

        Examples
        --------
        >>> "sum" in Reduction.all()
        True
        """
        return (cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key: str) -> None:
        """Raise ``ValueError`` unless ``key`` is a reduction value (TF's ``Reduction.validate``).

        Examples
        --------
        >>> Reduction.validate("mean")
        Traceback (most recent call last):
        ...
        ValueError: Invalid Reduction key 'mean'; expected one of ('none', 'sum', 'sum_over_batch_size').
        """
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction key {key!r}; expected one of {cls.all()}.")


__all__ = ["Reduction"]
