"""The machinery every column kind encodes and fits with: fitted state, an encoding context, fitters.

Each column kind implements its own behaviour (``encode``, ``fitter``, ``bucket_count``, ...; see
:class:`~estlab.features._base.FeatureColumn`); this module only holds what they share. It is numpy and
pandas only (no torch): tensors are made by ``FeatureTransformer.transform``.

Examples
--------
>>> from estlab.features import numeric_column
>>> EncodeContext({"x": [1.0, 2.0]}, Fitted({}, {}))(numeric_column("x")).values.ravel().tolist()
[1.0, 2.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from estlab.features.errors import NotFittedError

if TYPE_CHECKING:
    from estlab.features._base import FeatureColumn

#: sections of ``FeatureTransformer.state_`` that always exist (a new kind may add its own)
STATE_SECTIONS = ("numeric", "boundaries", "vocabulary")


@dataclass(frozen=True)
class Fitted:
    """Fitted state (a JSON-ready dict keyed by section, then column id) and the column -> id map.

    A column's id is its name unless two different columns share a name (see ``column_ids``).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> Fitted({"numeric": {"x": {"shift": [0.0]}}}, {}).lookup("numeric", numeric_column("x"))
    {'shift': [0.0]}
    """

    state: dict[str, dict[str, Any]]
    ids: dict[FeatureColumn, str]

    def lookup(self, section: str | None, column: FeatureColumn) -> Any:
        """The learned state of ``column`` in ``section`` (None when absent)."""
        if section is None:
            return None
        return self.state.get(section, {}).get(self.ids.get(column, column.name))

    def learned(self, column: FeatureColumn, what: str) -> Any:
        """The learned state of ``column`` (in its ``state_section``), or a :class:`NotFittedError`."""
        value = self.lookup(column.state_section, column)
        if value is None:
            raise not_fitted(column, what)
        return value


class Encoded(NamedTuple):
    """One column's encoding: float32 values ``(N, *shape)`` or int64 ids ``(N, K)``, and optional weights."""

    values: np.ndarray
    weights: np.ndarray | None = None


class EncodeContext:
    """Encodes columns of one input (``data``) with ``fitted`` state, each column once (memoised).

    Column kinds call ``ctx(parent)`` for the columns they read, so shared parents encode once.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident
    >>> EncodeContext({"h": [2, 0]}, Fitted({}, {}))(ident("h", 3)).values.ravel().tolist()
    [2, 0]
    """

    def __init__(self, data: Any, fitted: Fitted) -> None:
        self.data = data
        self.fitted = fitted
        self.memo: dict[Any, Any] = {}

    def __call__(self, column: FeatureColumn) -> Encoded:
        if column not in self.memo:
            self.memo[column] = column.encode(self)
        return self.memo[column]


class Fitter(Protocol):
    """Learns one column's state in one pass over chunks of the training frame.

    ``update(chunk, memo)`` sees each chunk (``memo`` is shared by all fitters for that chunk);
    ``finish(fitted, n_rows)`` returns the JSON-ready state, given the state learned so far (parents
    finish first, so a bucketized column can normalise with its source's statistics).
    """

    def update(self, chunk: Any, memo: dict[Any, Any]) -> None: ...

    def finish(self, fitted: Fitted, n_rows: int) -> Any: ...


def not_fitted(column: FeatureColumn, what: str) -> NotFittedError:
    """The error raised when ``column``'s learned ``what`` is needed before ``fit``.

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> "needs fitting" in str(not_fitted(numeric_column("x"), "mean"))
    True
    """
    return NotFittedError(
        f"column {column.name!r} needs fitting: its {what} is learned from the training frame. "
        "Call FeatureTransformer(feature_columns).fit(train_df) first (and pass the transformer on)."
    )
