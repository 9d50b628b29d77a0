"""Base classes of the feature-column specs: the one interface every column kind implements.

A feature column is a frozen dataclass that only *describes* a transform; learned state lives in
:class:`~estlab.features.transformer.FeatureTransformer`. Everything that differs between kinds — what
the kind learns (``fitter``), how it encodes (``encode``), its number of ids (``bucket_count``), its
dense width (``dense_width``), the raw serving inputs it reads (``raw_inputs``), how ``describe()``
shows its state (``state_text``) and its own Python source (``to_source``) — is a method of the
kind's class, so a new kind is one module plus one line in ``estlab.features.serialize.COLUMN_CLASSES``.
Nothing here imports torch. The one part of an encoding that runs on tensors, inside the model
(``numeric_column``'s ``normalizer_fn``, as in TF), is each kind's ``tensor_stage``.

Examples
--------
>>> from estlab.features import numeric_column
>>> isinstance(numeric_column("age"), DenseColumn)
True
>>> numeric_column("age", normalizer="zscore").to_source()
"fc.numeric_column('age', normalizer='zscore')"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from estlab.features.errors import FeatureColumnError

if TYPE_CHECKING:
    from estlab.features.encode import EncodeContext, Encoded, Fitted, Fitter

#: how layers read a column's encoding: float values, ids (multi-hot / linear weights), ids into an embedding table
LAYER_ROLES = ("values", "ids", "table")


@dataclass(frozen=True)
class RawInputSpec:
    """One raw input a column reads: its key, dtype name and shape (``-1`` = the batch dimension).

    Examples
    --------
    >>> RawInputSpec("age", "float32")
    RawInputSpec(name='age', dtype='float32', shape=(-1,))
    """

    name: str
    dtype: str
    shape: tuple[int, ...] = (-1,)


class FeatureColumn:
    """Common interface of every column kind (see the module docstring for the per-kind methods).

    Class attributes: ``kind`` (a short word for ids and tables), ``layer_role`` (one of
    ``LAYER_ROLES``: how ``DenseFeatures``/``LinearFeatures`` read the encoding), ``state_section``
    (the section of ``FeatureTransformer.state_`` holding this kind's learned state, if any).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> numeric_column("age").name, numeric_column("age").kind
    ('age', 'numeric')
    """

    kind: ClassVar[str] = "column"
    layer_role: ClassVar[str] = ""
    state_section: ClassVar[str | None] = None

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

    @property
    def leaf(self) -> FeatureColumn:
        """The column whose encoding this one reads: itself, or the categorical an indicator/embedding wraps."""
        return self

    def fitter(self, sample_size: int | None) -> Fitter | None:
        """A :class:`~estlab.features.encode.Fitter` learning this column's state, or None (stateless)."""
        return None

    def encode(self, ctx: EncodeContext) -> Encoded:
        """Encode ``ctx.data`` (numpy, vectorised); read parents through ``ctx(parent)``."""
        return ctx(self.leaf) if self.leaf is not self else _no_encoding(self)

    def tensor_stage(self, value: Any, fitted: Fitted) -> Any:
        """The part of the encoding that runs inside the model, on the encoded tensor (TF's graph part).

        Default: none (the tensor as it is). ``numeric_column``'s ``normalizer_fn`` runs here, so any
        callable works and an export captures it in its program; layers call it on every column they read.
        """
        return value

    def bucket_count(self, fitted: Fitted) -> int:
        """Number of distinct ids (categorical kinds)."""
        raise FeatureColumnError(f"num_buckets: {self!r} is not a categorical column.")

    def dense_width(self, fitted: Fitted) -> int:
        """Width of this column in ``DenseFeatures`` output (dense kinds)."""
        raise FeatureColumnError(
            f"column {self.name!r} is categorical, not dense; wrap it with indicator_column(...) or "
            "embedding_column(...)."
        )

    def raw_inputs(self, fitted: Fitted) -> dict[str, RawInputSpec]:
        """The raw keys this column reads itself (not through parent columns), with dtype and shape."""
        return {}

    def vocabulary_of(self, fitted: Fitted) -> list | tuple:
        """The vocabulary (index = id) of vocabulary kinds."""
        raise FeatureColumnError(f"vocabulary: column {self.name!r} has no vocabulary ({type(self).__name__}).")

    def boundaries_of(self, fitted: Fitted) -> list | tuple:
        """The bucket edges of bucketized kinds."""
        raise FeatureColumnError(f"boundaries: column {self.name!r} is not a bucketized column.")

    def state_text(self, fitted: Fitted) -> str:
        """Learned or declared state in words, for ``FeatureTransformer.describe()``."""
        return ""

    def to_source(self) -> str:
        """Python source that rebuilds this column, with ``fc`` standing for ``estlab.feature_column``."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        """The column's spec as an HTML table (Jupyter's rich display; see ``estlab._html_repr``)."""
        from estlab._html_repr import column_html

        return column_html(self)


def _no_encoding(column: FeatureColumn) -> Encoded:
    raise FeatureColumnError(f"{column!r} has no encoding of its own.")


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

    layer_role: ClassVar[str] = "ids"

    def ids(self, ctx: EncodeContext) -> Any:
        """int64 ids ``(N, K)`` as numpy, for kinds reading another's ids (crosses, weights).

        The encoding itself except where part of it runs in the model (a bucketized column over a
        ``normalizer_fn``), which is then computed here in numpy too.
        """
        return ctx(self).values

    def cross_entries(self, ctx: EncodeContext) -> tuple[Any, Any]:
        """``(ids, present)``, both ``(N, K)``: what a ``crossed_column`` crosses, as TF's sparse id tensor.

        ``present`` marks the entries TF's id tensor holds. By default, every id ``>= 0`` (``-1`` is
        padding or a missing value: no entry). Vocabulary kinds override it: TF's lookup keeps an
        out-of-vocabulary value as an entry with id ``-1``, and a cross hashes that ``-1`` like any id.
        """
        ids = self.ids(ctx)
        return ids, ids >= 0


# ----- rendering Python source --------------------------------------------------------------------
def source_value(value: Any) -> str:
    """Python source of one argument: columns render themselves, tuples as lists, callables by import path.

    Examples
    --------
    >>> source_value(("a", 1.5))
    "['a', 1.5]"
    """
    if isinstance(value, FeatureColumn):
        return value.to_source()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(source_value(v) for v in value) + "]"
    if callable(value) and not isinstance(value, type):
        return _callable_path(value)
    return repr(value)


def _callable_path(fn: Callable) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname:
        raise FeatureColumnError(
            f"{fn!r} has no importable name, so no source can be written for it; use a module-level "
            "function (def ...) instead of a lambda or a local function."
        )
    return f"{module}.{qualname}"


def source_call(fn: str, *args: Any, **kwargs: Any) -> str:
    """``fc.<fn>(args..., key=value...)`` with each value rendered by :func:`source_value`.

    Examples
    --------
    >>> source_call("numeric_column", "age", normalizer="zscore")
    "fc.numeric_column('age', normalizer='zscore')"
    """
    parts = [source_value(a) for a in args] + [f"{k}={source_value(v)}" for k, v in kwargs.items()]
    return f"fc.{fn}({', '.join(parts)})"


def changed(column: Any, **defaults: Any) -> dict[str, Any]:
    """The fields of ``column`` named in ``defaults`` whose value differs from that default (in order).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> changed(numeric_column("a", normalizer="minmax"), default_value=None, normalizer=None)
    {'normalizer': 'minmax'}
    """
    return {k: getattr(column, k) for k, d in defaults.items() if getattr(column, k) != d}


# ----- argument checks ----------------------------------------------------------------------------
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
