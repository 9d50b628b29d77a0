"""Exceptions raised by feature columns and the :class:`FeatureTransformer`.

Every message names the column or parameter, what was received, and how to fix it.

Examples
--------
>>> from estlab.features.errors import FeatureColumnError
>>> issubclass(FeatureColumnError, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Iterable

from estlab._util import did_you_mean


class FeatureColumnError(ValueError):
    """A feature column was given invalid arguments or data.

    Examples
    --------
    >>> raise FeatureColumnError("numeric_column 'age': ...")  # doctest: +SKIP
    """


class MissingColumnError(FeatureColumnError, KeyError):
    """A source key a feature column reads is absent from the input frame or dict.

    Examples
    --------
    >>> str(MissingColumnError("column 'agee' not found"))
    "column 'agee' not found"
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotFittedError(FeatureColumnError, AttributeError):
    """A column with learned state (vocabulary, statistics, quantiles) was used before ``fit``.

    Examples
    --------
    >>> issubclass(NotFittedError, ValueError)
    True
    """


def close_names(name: str, candidates: Iterable[object], n: int = 3) -> str:
    """Return a ``" Did you mean ...?"`` hint listing the candidates closest to ``name`` (or ``""``).

    Examples
    --------
    >>> close_names("agee", ["age", "income"])
    " Did you mean 'age'?"
    """
    return did_you_mean(name, candidates, n=n)
