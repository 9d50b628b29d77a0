"""Column specs <-> plain JSON-ready dicts (used by ``FeatureTransformer.to_dict``/``from_dict``).

``COLUMN_CLASSES`` is the one registration of column kinds: a new kind's class is added there.
Dtypes are stored as their names (``"float32"``); estlab 0.1 wrote ``{"dtype": "float32"}``, which
still loads. A function (``normalizer_fn``, ``initializer``) is code, not state: it is stored only as a
description, ``{"function": "module:qualname"}`` (any callable, lambdas and closures included), and loading
never imports it: it comes back as a :class:`StoredFunction` that raises when called. Columns with functions
are rebuilt from the code that made them (``FeatureTransformer.from_dict(spec, feature_columns=...)``); an
export runs ``normalizer_fn`` inside its program. estlab 0.1's ``{"callable": "module:qualname"}`` entries load
the same way (``legacy=True``), never imported.

Examples
--------
>>> from estlab.features import numeric_column
>>> column_from_dict(column_to_dict(numeric_column("age"))) == numeric_column("age")
True
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

from estlab.features._base import FeatureColumn
from estlab.features.categorical import (
    HashedColumn,
    IdentityColumn,
    LearnedVocabularyColumn,
    VocabularyFileColumn,
    VocabularyListColumn,
    WeightedCategoricalColumn,
)
from estlab.features.crossed import CrossedColumn
from estlab.features.dense import EmbeddingColumn, IndicatorColumn, SharedEmbeddingColumn
from estlab.features.errors import FeatureColumnError
from estlab.features.numeric import BucketizedColumn, NumericColumn

COLUMN_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        NumericColumn, BucketizedColumn, VocabularyListColumn, VocabularyFileColumn, LearnedVocabularyColumn,
        IdentityColumn, HashedColumn, WeightedCategoricalColumn, CrossedColumn, IndicatorColumn,
        EmbeddingColumn, SharedEmbeddingColumn,
    )
}


@dataclasses.dataclass(frozen=True)
class StoredFunction:
    """A function read from a file: only its description (``module:qualname``); calling it raises.

    Files never hold code, so a column loaded from one has this in place of its ``normalizer_fn`` or
    ``initializer``; pass the columns from your code to use them (``from_dict(spec, feature_columns=...)``).
    ``legacy`` marks estlab 0.1's ``{"callable": ...}`` entries (written when exports ran ``normalizer_fn``
    outside their program).

    Examples
    --------
    >>> StoredFunction("__main__:<lambda>")
    StoredFunction('__main__:<lambda>')
    """

    description: str
    legacy: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise FeatureColumnError(
            f"the function {self.description!r} was read from a file, which holds no code; build the feature "
            "columns in code and load the saved state into them: FeatureTransformer.from_dict(spec, "
            "feature_columns=columns)."
        )

    def __repr__(self) -> str:
        return f"StoredFunction({self.description!r})"


def describe_function(fn: Any) -> str:
    """``module:qualname`` of a callable, for people to read (lambdas and closures included).

    Examples
    --------
    >>> describe_function(len)
    'builtins:len'
    """
    if isinstance(fn, StoredFunction):
        return fn.description
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{qualname}"


def _encode(value: Any) -> Any:
    if isinstance(value, FeatureColumn):
        return column_to_dict(value)
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if callable(value):
        return {"function": describe_function(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        if "class" in value:
            return column_from_dict(value)
        if "dtype" in value:  # estlab 0.1 stored torch dtypes as {"dtype": name}
            return value["dtype"]
        if "function" in value:
            return StoredFunction(str(value["function"]))
        if "callable" in value:  # estlab 0.1: an import path, which is never imported
            return StoredFunction(str(value["callable"]), legacy=True)
    return value


def column_to_dict(column: FeatureColumn) -> dict[str, Any]:
    """A column spec as a JSON-ready dict ``{"class": ..., field: value, ...}``.

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> column_to_dict(numeric_column("age"))["class"]
    'NumericColumn'
    """
    out: dict[str, Any] = {"class": type(column).__name__}
    for field in dataclasses.fields(column):  # type: ignore[arg-type]
        if field.metadata.get("omit_if_default") and getattr(column, field.name) == field.default:
            continue  # a field added later, at its default: specs written before it stay identical
        out[field.name] = _encode(getattr(column, field.name))
    return out


def column_from_dict(spec: dict[str, Any]) -> FeatureColumn:
    """Rebuild a column spec from :func:`column_to_dict`'s output.

    Examples
    --------
    >>> column_from_dict({"class": "IdentityColumn", "key": "h", "num_buckets": 3, "default_value": None}).name
    'h'
    """
    cls = COLUMN_CLASSES.get(spec.get("class", ""))
    if cls is None:
        raise FeatureColumnError(f"unknown column class {spec.get('class')!r}; valid: {sorted(COLUMN_CLASSES)}.")
    return cls(**{k: _decode(v) for k, v in spec.items() if k != "class"})


def comparable(spec: Any) -> Any:
    """A column dict with each function reduced to ``"<function>"`` (code is not compared, only its presence).

    Two column sets "fit" each other when these agree: saved state can then be loaded into the columns of
    the code. The path of a vocabulary file is not compared (its lines are).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> comparable(column_to_dict(numeric_column("x", normalizer_fn=abs)))["normalizer_fn"]
    '<function>'
    """
    if isinstance(spec, list):
        return [comparable(v) for v in spec]
    if isinstance(spec, dict):
        if set(spec) in ({"function"}, {"callable"}):
            return "<function>"
        return {k: comparable(v) for k, v in spec.items() if k != "vocabulary_file"}
    return spec
