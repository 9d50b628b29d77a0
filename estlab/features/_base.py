"""Base classes of the feature-column specs.

A feature column is a frozen dataclass that only *describes* a transform; learned state lives in
:class:`~estlab.features.transformer.FeatureTransformer`.

Examples
--------
>>> from estlab.features import numeric_column
>>> isinstance(numeric_column("age"), DenseColumn)
True
"""

from __future__ import annotations

from estlab.features.errors import FeatureColumnError


class FeatureColumn:
    """Common interface: a TF-style ``name``, the columns or raw keys it reads (``parents``).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> numeric_column("age").name
    'age'
    """

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def parents(self) -> tuple[FeatureColumn | str, ...]:
        """Raw keys (``str``) or columns this column is computed from."""
        raise NotImplementedError

    @property
    def needs_fit(self) -> bool:
        """True when this column itself learns state from the training frame."""
        return False


class DenseColumn(FeatureColumn):
    """A column that ``DenseFeatures`` can turn into a float block (numeric, bucketized, indicator, embedding).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> isinstance(numeric_column("x"), DenseColumn)
    True
    """


class CategoricalColumn(FeatureColumn):
    """A column that encodes to int64 ids ``(N, K)`` with ``-1`` meaning "no id".

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity
    >>> isinstance(categorical_column_with_identity("x", 3), CategoricalColumn)
    True
    """


def check_key(key: object, fn: str) -> str:
    """Validate a raw feature key (a non-empty string)."""
    if not isinstance(key, str) or not key:
        raise FeatureColumnError(f"{fn}: key must be a non-empty string naming a column, got {key!r}.")
    return key


def check_positive_int(value: object, param: str, column: str, minimum: int = 1) -> int:
    """Validate an integer parameter ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FeatureColumnError(
            f"column {column!r}: {param} must be an integer >= {minimum}, got {value!r}."
        )
    return value


def check_categorical(column: object, fn: str) -> CategoricalColumn:
    """Validate that ``column`` is a categorical column (with a hint when it is a raw key)."""
    if isinstance(column, CategoricalColumn):
        return column
    hint = ""
    if isinstance(column, str):
        hint = f" Wrap the key first, e.g. categorical_column_with_learned_vocabulary({column!r})."
    raise FeatureColumnError(f"{fn}: expected a categorical column, got {column!r}.{hint}")
