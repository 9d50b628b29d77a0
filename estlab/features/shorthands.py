"""The one table of string shorthands used by feature columns (``"zscore"``, ``"quantiles:10"``).

Examples
--------
>>> resolve_normalizer("zscore", column="age")
'zscore'
>>> resolve_boundaries("quantiles:4", column="age")
4
"""

from __future__ import annotations

from estlab.features.errors import FeatureColumnError, close_names

#: shorthand name -> what it means. ``quantiles:N`` takes a bucket count after the colon.
SHORTHANDS: dict[str, str] = {
    "zscore": "normalizer: (x - mean) / std, learned from the training frame (std 0 -> 1)",
    "minmax": "normalizer: (x - min) / (max - min), learned from the training frame (range 0 -> 1)",
    "quantiles": "boundaries: 'quantiles:N' -> N buckets with edges at the training frame's quantiles",
}
NORMALIZERS = ("zscore", "minmax")


def _unknown(kind: str, value: object, column: str, valid: tuple[str, ...]) -> FeatureColumnError:
    return FeatureColumnError(
        f"column {column!r}: unknown {kind} {value!r}.{close_names(str(value), valid)} "
        f"Valid names: {', '.join(repr(v) for v in valid)}."
    )


def resolve_normalizer(value: str | None, column: str) -> str | None:
    """Validate a learned-normalizer shorthand and return it (``None`` passes through).

    Examples
    --------
    >>> resolve_normalizer(None, column="age") is None
    True
    """
    if value is None:
        return None
    if not isinstance(value, str) or value not in NORMALIZERS:
        raise _unknown("normalizer", value, column, NORMALIZERS)
    return value


def resolve_boundaries(value: str, column: str) -> int:
    """Parse a learned-boundaries shorthand ``"quantiles:N"`` and return the bucket count ``N``.

    Examples
    --------
    >>> resolve_boundaries("quantiles:10", column="age")
    10
    """
    head, _, tail = value.partition(":")
    if head != "quantiles":
        raise _unknown("boundaries shorthand", value, column, ("quantiles:N",))
    try:
        n = int(tail)
    except ValueError:
        n = 0
    if n < 2:
        raise FeatureColumnError(
            f"column {column!r}: boundaries={value!r} needs a bucket count of at least 2 after the colon, "
            "e.g. boundaries='quantiles:10'."
        )
    return n
