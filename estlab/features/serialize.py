"""Column specs <-> plain JSON-ready dicts (used by ``FeatureTransformer.to_dict``/``from_dict``).

``COLUMN_CLASSES`` is the one registration of column kinds: a new kind's class is added there.
Dtypes are stored as their names (``"float32"``); estlab 0.1 wrote ``{"dtype": "float32"}``, which
still loads. Callables (``normalizer_fn``, ``initializer``) are stored as ``"module:qualname"`` and must be importable
module-level functions; lambdas and local functions can't be saved.

Examples
--------
>>> from estlab.features import numeric_column
>>> column_from_dict(column_to_dict(numeric_column("age"))) == numeric_column("age")
True
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

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


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, FeatureColumn):
        return column_to_dict(value)
    if isinstance(value, tuple):
        return [_encode(v, where) for v in value]
    if callable(value):
        module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
        if not module or "<" in qualname:
            raise FeatureColumnError(
                f"{where} is {value!r}, which can't be saved; use a module-level function (def ...) "
                "instead of a lambda or a local function."
            )
        return {"callable": f"{module}:{qualname}"}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        if "class" in value:
            return column_from_dict(value)
        if "dtype" in value:  # estlab 0.1 stored torch dtypes as {"dtype": name}
            return value["dtype"]
        if "callable" in value:
            module, _, qualname = value["callable"].partition(":")
            obj: Any = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            return obj
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
        out[field.name] = _encode(getattr(column, field.name), f"column {column.name!r}: {field.name}")
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
