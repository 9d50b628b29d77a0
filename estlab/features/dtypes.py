"""Dtypes of the column constructors: one normaliser, and TF's dtype names as plain numpy types.

Every column constructor with a ``dtype`` argument (``numeric_column``, the vocabulary and hash-bucket
columns, ``weighted_categorical_column``) reads it through :func:`dtype_kind`, so the same spellings work
everywhere: a name (``"int64"``, ``"string"``, ``"float"``), a Python type (``str``, ``int``, ``float``),
a numpy type or dtype (``np.int64``, ``np.dtype("int64")``), a torch dtype (``torch.int64``, read by name
without importing torch), or any object with a ``name`` such as TF's ``tf.int64``.

TF programs write ``dtype=tf.float32`` or ``dtype=tf.string``; after ``import estlab as tf`` those are
``estlab.float32`` and ``estlab.string``: the plain numpy scalar types (``np.float32``) and ``str``, so
they also work in numpy and pandas (``np.zeros(3, tf.float32)``, ``df.astype(tf.float32)``). Torch
functions want torch dtypes: pass ``torch.float32`` there.

Examples
--------
>>> import numpy as np
>>> dtype_kind(np.int64), dtype_kind("int"), dtype_kind(str), dtype_kind(float32)
('int64', 'int64', 'string', 'float32')
>>> string is str, float32 is np.float32
(True, True)
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from estlab.features.errors import FeatureColumnError

#: TF's dtype names, as plain types (served as ``estlab.<name>``: ``tf.float32`` after ``import estlab as tf``).
float16 = np.float16
float32 = np.float32
float64 = np.float64
double = np.float64
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
uint8 = np.uint8
bool = np.bool_  # noqa: A001 - TF's name (tf.bool); a module attribute, the builtin is untouched elsewhere
string = str

#: the names above, in the order ``estlab`` lists them
TF_DTYPE_NAMES = (
    "float16",
    "float32",
    "float64",
    "double",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "string",
)

#: every dtype name :func:`dtype_kind` returns
KINDS = (
    "string",
    "bool",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
)
#: integer kinds (what vocabulary and hash-bucket columns read as ``"int64"``)
INTEGER_KINDS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
#: floating kinds
FLOAT_KINDS = ("float16", "bfloat16", "float32", "float64")

_ALIASES = {
    "str": "string",
    "unicode": "string",
    "bytes": "string",
    "object": "string",
    "tf.string": "string",
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "int": "int64",
    "long": "int64",
    "bool_": "bool",
    "boolean": "bool",
}


def _name_of(dtype: object) -> str | None:
    """The lower-case name of ``dtype`` before aliases, or None when it names no dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        return dtype.strip().lower().removeprefix("tf.").removeprefix("torch.").removeprefix("np.")
    if dtype is str or dtype is bytes:
        return "string"
    if dtype is int:
        return "int64"
    if dtype is float:
        return "float32"
    if type(dtype).__module__ == "torch":  # torch.int64 without importing torch
        return str(dtype).removeprefix("torch.")
    try:
        np_dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        name = getattr(dtype, "name", None)  # TF's DType and the like
        return name.lower() if isinstance(name, str) else None
    if np_dtype.kind in "USO":
        return "string"
    return np_dtype.name


def dtype_kind(dtype: object) -> str | None:
    """The canonical name of a dtype (one of :data:`KINDS`), or None when ``dtype`` names none.

    Examples
    --------
    >>> import numpy as np
    >>> [dtype_kind(d) for d in ("int64", np.dtype("float64"), np.str_, "tf.string", int, float, object())]
    ['int64', 'float64', 'string', 'string', 'int64', 'float32', None]
    """
    name = _name_of(dtype)
    if name is None:
        return None
    name = _ALIASES.get(name, name)
    return name if name in KINDS else None


def check_dtype(dtype: object, allowed: Collection[str], where: str) -> str:
    """``dtype``'s canonical name when it is one of ``allowed``, else a FeatureColumnError naming ``where``.

    Parameters
    ----------
    dtype : object
        What the caller passed (any spelling :func:`dtype_kind` reads).
    allowed : collection of str
        Canonical names the constructor takes.
    where : str
        The constructor and column, e.g. ``"numeric_column 'age'"``.

    Examples
    --------
    >>> check_dtype("int", INTEGER_KINDS, "categorical_column_with_hash_bucket 'x'")
    'int64'
    >>> check_dtype("string", FLOAT_KINDS, "numeric_column 'x'")
    Traceback (most recent call last):
    ...
    estlab.features.errors.FeatureColumnError: numeric_column 'x': dtype must be one of float16, bfloat16, float32, float64 (a name such as 'float32', a numpy or torch dtype, or estlab.float32), got 'string'.
    """
    kind = dtype_kind(dtype)
    if kind is None or kind not in allowed:
        example = next((k for k in ("string", "float32", "int64") if k in allowed), next(iter(allowed)))
        raise FeatureColumnError(
            f"{where}: dtype must be one of {', '.join(allowed)} (a name such as {example!r}, a numpy or torch "
            f"dtype, or estlab.{example}), got {dtype!r}."
        )
    return kind


__all__ = [
    "FLOAT_KINDS",
    "INTEGER_KINDS",
    "KINDS",
    "TF_DTYPE_NAMES",
    "check_dtype",
    "dtype_kind",
    *TF_DTYPE_NAMES,
]
