"""Per-column transform choices → feature columns and the equivalent Python source, from one recipe.

A recipe is a tiny call tree (``Call("numeric_column", "age", normalizer="zscore")``): :func:`build`
turns it into the real feature column (``estlab.feature_column``, imported lazily: it needs torch)
and :func:`source` prints it, so ``ColumnBuilder.code()`` always matches ``feature_columns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NUMERIC_TRANSFORMS = ("zscore", "minmax", "raw", "bucketized", "drop")
CATEGORICAL_TRANSFORMS = ("indicator", "embedding", "hash_bucket", "drop")
#: What the size box means for each transform (None: no size).
SIZE_MEANING = {"bucketized": "buckets", "embedding": "dim", "hash_bucket": "buckets"}
DEFAULT_SIZE = {"bucketized": 10, "embedding": 8, "hash_bucket": 100}


@dataclass(frozen=True)
class Call:
    """A call of a function of ``estlab.feature_column`` with (possibly nested) arguments."""

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, fn: str, *args: Any, **kwargs: Any) -> Call:
        """``Call.of("numeric_column", "age")``."""
        return cls(fn, args, tuple(kwargs.items()))


@dataclass(frozen=True)
class ColumnSetting:
    """The transform chosen for one frame column.

    Examples
    --------
    >>> source(recipe(ColumnSetting("age", "bucketized", 4)))
    "fc.bucketized_column(fc.numeric_column('age'), 'quantiles:4')"
    """

    key: str
    transform: str
    size: int | None = None
    default_value: float | None = None


def recipe(setting: ColumnSetting) -> Call | None:
    """The call tree for one setting (None for ``drop``)."""
    key, size = setting.key, setting.size
    numeric_kwargs = {} if setting.default_value is None else {"default_value": setting.default_value}
    vocab = Call.of("categorical_column_with_learned_vocabulary", key)
    if setting.transform in ("zscore", "minmax"):
        return Call.of("numeric_column", key, **numeric_kwargs, normalizer=setting.transform)
    if setting.transform == "raw":
        return Call.of("numeric_column", key, **numeric_kwargs)
    if setting.transform == "bucketized":
        return Call.of("bucketized_column", Call.of("numeric_column", key, **numeric_kwargs), f"quantiles:{size}")
    if setting.transform == "indicator":
        return Call.of("indicator_column", vocab)
    if setting.transform == "embedding":
        return Call.of("embedding_column", vocab, dimension=size)
    if setting.transform == "hash_bucket":
        return Call.of("indicator_column", Call.of("categorical_column_with_hash_bucket", key, hash_bucket_size=size))
    if setting.transform == "drop":
        return None
    valid = sorted(set(NUMERIC_TRANSFORMS) | set(CATEGORICAL_TRANSFORMS))
    raise ValueError(f"transform: unknown {setting.transform!r} for column {key!r}; valid ones are {valid}")


def cross_recipe(keys: tuple[str, ...], hash_bucket_size: int, dense: bool) -> Call:
    """A crossed column (wrapped in an indicator for dense consumers).

    Examples
    --------
    >>> source(cross_recipe(("a", "b"), 100, dense=False))
    "fc.crossed_column(['a', 'b'], hash_bucket_size=100)"
    """
    cross = Call.of("crossed_column", list(keys), hash_bucket_size=hash_bucket_size)
    return Call.of("indicator_column", cross) if dense else cross


def linear_recipe(call: Call) -> Call:
    """What a linear model reads for a dense recipe: the categorical column itself instead of its
    indicator/embedding (one weight per id, as in TF's wide part).

    Examples
    --------
    >>> source(linear_recipe(recipe(ColumnSetting("c", "embedding", 4))))
    "fc.categorical_column_with_learned_vocabulary('c')"
    """
    if call.fn in ("indicator_column", "embedding_column"):
        return call.args[0]
    return call


def build(call: Call) -> Any:
    """Evaluate a call tree with ``estlab.feature_column`` (imports torch)."""
    from estlab import feature_column as fc

    args = [build(a) if isinstance(a, Call) else a for a in call.args]
    kwargs = {k: build(v) if isinstance(v, Call) else v for k, v in call.kwargs}
    return getattr(fc, call.fn)(*args, **kwargs)


def source(call: Call) -> str:
    """Python source of a call tree, with ``fc`` as ``estlab.feature_column``."""
    args = [source(a) if isinstance(a, Call) else repr(a) for a in call.args]
    args += [f"{k}={source(v) if isinstance(v, Call) else repr(v)}" for k, v in call.kwargs]
    return f"fc.{call.fn}({', '.join(args)})"
