"""Numeric and bucketized columns.

Examples
--------
>>> age = numeric_column("age", normalizer="zscore")
>>> bucketized_column(numeric_column("age"), [18, 65]).name
'age_bucketized'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from estlab.features._base import (
    CategoricalColumn,
    DenseColumn,
    RawInputSpec,
    changed,
    check_key,
    source_call,
)
from estlab.features.dtypes import FLOAT_KINDS, check_dtype
from estlab.features.encode import EncodeContext, Encoded, Fitted
from estlab.features.errors import FeatureColumnError
from estlab.features.raw import get_values, to_float
from estlab.features.shorthands import resolve_boundaries, resolve_normalizer
from estlab.features.stats import Moments, RowSample

#: dtypes ``numeric_column`` accepts (by name; torch and numpy dtypes are read by name)
NUMERIC_DTYPES = (*FLOAT_KINDS, "int8", "int16", "int32", "int64", "uint8")
#: what ``numeric_column(non_finite=...)`` does with inf, -inf and values beyond float32's range
NON_FINITE = ("error", "default")
#: the largest float32 magnitude: a larger input value would be encoded as inf
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class NumericColumn(DenseColumn):
    """Spec of :func:`numeric_column`; encodes to float32 ``(N, *shape)``.

    Examples
    --------
    >>> numeric_column("age", shape=2).num_elements
    2
    """

    kind: ClassVar[str] = "numeric"
    layer_role: ClassVar[str] = "values"
    state_section: ClassVar[str | None] = "numeric"

    key: str
    shape: tuple[int, ...] = (1,)
    default_value: float | tuple[float, ...] | None = None
    dtype: str = "float32"
    normalizer_fn: Callable[[Any], Any] | None = None
    normalizer: str | None = None
    # not stored while "error" (serialize.column_to_dict): specs, fingerprints and checkpoints stay as they were
    non_finite: str = field(default="error", metadata={"omit_if_default": True})

    @property
    def name(self) -> str:
        return self.key

    @property
    def parents(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def needs_fit(self) -> bool:
        return self.normalizer is not None

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    # ----- per-kind behaviour -----
    def filled(self, data: Any, memo: dict[Any, Any] | None = None) -> np.ndarray:
        """Raw values -> float64 ``(N, k)`` with ``default_value`` filled; missing without default raises.

        Non-finite values (inf, -inf, magnitudes beyond float32's range, which the float32 encoding would
        turn into inf) raise naming the column, or take ``default_value`` with ``non_finite="default"``.
        """
        if memo is not None and (self, "filled") in memo:
            return memo[(self, "filled")]
        x = to_float(get_values(data, self.key), self.key, self.num_elements)
        missing = np.isnan(x)
        with np.errstate(invalid="ignore"):
            overflow = ~(np.abs(x) <= FLOAT32_MAX) & ~missing
        if overflow.any():
            x = self._non_finite(x, overflow)
        if missing.any():
            if self.default_value is None:
                row = int(np.flatnonzero(missing.any(axis=1))[0])
                raise FeatureColumnError(
                    f"numeric column {self.key!r} has {int(missing.sum())} missing value(s) (first at row {row}) "
                    f"and no default_value. Pass numeric_column({self.key!r}, default_value=...) or fill the "
                    "missing values first."
                )
            default = np.broadcast_to(np.asarray(self.default_value, dtype=np.float64), x.shape[1:])
            x = np.where(missing, default, x)
        if memo is not None:
            memo[(self, "filled")] = x
        return x

    def _non_finite(self, x: np.ndarray, overflow: np.ndarray) -> np.ndarray:
        if self.non_finite == "default" and self.default_value is not None:
            default = np.broadcast_to(np.asarray(self.default_value, dtype=np.float64), x.shape[1:])
            return np.where(overflow, default, x)
        row = int(np.flatnonzero(overflow.any(axis=1))[0])
        value = float(x[row][overflow[row]][0])
        raise FeatureColumnError(
            f"numeric column {self.key!r} holds {int(overflow.sum())} non-finite value(s) (first: {value!r} at row "
            f"{row}): inf, -inf or a magnitude beyond float32's {FLOAT32_MAX:.4g}, which would be encoded as inf. "
            f"Fix or drop those rows, or pass numeric_column({self.key!r}, default_value=..., non_finite='default') "
            "to replace them with the default value."
        )

    def normalize(self, x: np.ndarray, fitted: Fitted) -> np.ndarray:
        """Apply the learned affine ``normalizer``; returns float32 ``(N, *shape)`` (``normalizer_fn`` runs later).

        ``normalizer_fn`` is TF's function of tensors: it runs inside the model (:meth:`tensor_stage`, called
        by ``DenseFeatures``/``LinearFeatures``), so an export captures it in its program.
        """
        if self.normalizer is not None:
            params = fitted.learned(self, f"{self.normalizer} normalizer")
            x = (x - np.asarray(params["shift"])) / np.asarray(params["scale"])
        return x.astype(np.float32).reshape((x.shape[0], *self.shape))

    def apply_fn(self, values: np.ndarray) -> np.ndarray:
        """``normalizer_fn`` on numpy values (through a CPU tensor), for the numpy consumers of its output.

        Examples
        --------
        >>> numeric_column("x", normalizer_fn=lambda t: t * 2).apply_fn(np.ones((1, 1), np.float32)).tolist()
        [[2.0]]
        """
        if self.normalizer_fn is None:
            return values
        import torch  # normalizer_fn is TF's: a function of tensors

        out = self.normalizer_fn(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)))
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        return self._fn_shape(np.asarray(out, dtype=np.float32), values.shape[0])

    def _fn_shape(self, out: Any, n: int) -> Any:
        if math.prod(out.shape) != n * self.num_elements:
            raise FeatureColumnError(
                f"numeric column {self.key!r}: normalizer_fn returned shape {tuple(out.shape)} for {n} rows of "
                f"shape {self.shape}; it must keep the shape (an elementwise function of the tensor)."
            )
        return out.reshape((n, *self.shape))

    def tensor_stage(self, value: Any, fitted: Fitted) -> Any:
        """``normalizer_fn`` applied to the encoded float tensor ``(N, *shape)``, inside the model (as in TF).

        Examples
        --------
        >>> import torch
        >>> numeric_column("x", normalizer_fn=lambda t: t - 1).tensor_stage(torch.ones(2, 1), None).tolist()
        [[0.0], [0.0]]
        """
        if self.normalizer_fn is None:
            return value
        n = value.shape[0]
        return self._fn_shape(self.normalizer_fn(value.reshape((n, *self.shape))), n)

    def encode(self, ctx: EncodeContext) -> Encoded:
        return Encoded(self.normalize(self.filled(ctx.data, ctx.memo), ctx.fitted))

    def fitter(self, sample_size: int | None) -> _MomentsFitter | None:
        return _MomentsFitter(self) if self.normalizer is not None else None

    def dense_width(self, fitted: Fitted) -> int:
        return self.num_elements

    def raw_inputs(self, fitted: Fitted) -> dict[str, RawInputSpec]:
        shape = (-1,) if self.shape == (1,) else (-1, *self.shape)
        return {self.key: RawInputSpec(self.key, "float32", shape)}

    def state_text(self, fitted: Fitted) -> str:
        p = fitted.lookup("numeric", self)
        if self.normalizer and p:
            return f"{self.normalizer}: mean {p['mean']}, std {p['std']}, min {p['min']}, max {p['max']}"
        return f"{self.normalizer} (not fitted)" if self.normalizer else "raw"

    def to_source(self) -> str:
        kwargs = changed(self, shape=(1,), default_value=None, dtype="float32", normalizer_fn=None, normalizer=None,
                         non_finite="error")
        if "shape" in kwargs and len(self.shape) == 1:
            kwargs["shape"] = self.shape[0]
        return source_call("numeric_column", self.key, **kwargs)


class _MomentsFitter:
    """Exact mean, std, min and max of a numeric column -> the affine normalizer's shift and scale."""

    def __init__(self, column: NumericColumn) -> None:
        self.column = column
        self.moments = Moments()

    def update(self, chunk: Any, memo: dict[Any, Any]) -> None:
        self.moments.update(self.column.filled(chunk, memo))

    def finish(self, fitted: Fitted, n_rows: int) -> dict[str, list[float]]:
        m = self.moments
        assert m.mean is not None and m.min is not None and m.max is not None  # fit saw rows
        if self.column.normalizer == "zscore":
            shift, scale = m.mean, m.std
        else:
            shift, scale = m.min, m.max - m.min
        scale = np.where(scale > 0, scale, 1.0)
        return {"shift": shift.tolist(), "scale": scale.tolist(), "mean": m.mean.tolist(), "std": m.std.tolist(),
                "min": m.min.tolist(), "max": m.max.tolist()}


def numeric_column(
    key: str,
    shape: int | Sequence[int] = (1,),
    default_value: float | Sequence[float] | None = None,
    dtype: object = "float32",
    normalizer_fn: Callable[[Any], Any] | None = None,
    normalizer: str | None = None,
    non_finite: str = "error",
) -> NumericColumn:
    """Real-valued feature, as ``tf.feature_column.numeric_column``, plus a learned ``normalizer``.

    Parameters
    ----------
    key : str
        Column of the input frame.
    shape : int or tuple of int
        Per-row shape; the encoded tensor is ``(N, *shape)`` float32.
    default_value : float or tuple, optional
        Replaces missing values (NaN/None). Without it a missing value raises an error naming the column.
    dtype : str or dtype
        Accepted for TF compatibility (a floating or integer dtype: its name such as ``"float32"``, a
        numpy or torch dtype, or ``estlab.float32``; stored by name, see :mod:`estlab.features.dtypes`);
        encodings are float32.
    normalizer_fn : callable, optional
        Any function of the float tensor ``(N, *shape)`` (a lambda or closure too), applied after
        ``default_value`` (and after ``normalizer``) inside the model, as in TF; an export captures it in
        its program, so it must be written with torch operations (checked at export, naming the column).
    normalizer : {"zscore", "minmax", None}
        Learned from the training frame by ``FeatureTransformer.fit``.
    non_finite : {"error", "default"}
        What happens to ``inf``, ``-inf`` and values beyond float32's range (``1e308``), in training,
        evaluation and prediction alike: ``"error"`` (the default) raises naming the column and the first
        such value; ``"default"`` replaces them with ``default_value`` (which must be given). Missing
        values (NaN/None) are not affected: they follow ``default_value``.

    Examples
    --------
    >>> numeric_column("age", default_value=0.0).name
    'age'
    >>> from estlab.features import FeatureTransformer
    >>> ft = FeatureTransformer([numeric_column("x", default_value=0.0, non_finite="default")])
    >>> ft.transform({"x": [1.0, float("inf"), 1e308]})["x"].ravel().tolist()
    [1.0, 0.0, 0.0]
    """
    key = check_key(key, "numeric_column")
    shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
    if not shape_t or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape_t):
        raise FeatureColumnError(
            f"numeric_column {key!r}: shape must be a positive int or tuple of positive ints, got {shape!r}."
        )
    if default_value is not None and not isinstance(default_value, (int, float)):
        default_value = tuple(float(v) for v in default_value)
        if len(default_value) != math.prod(shape_t):
            raise FeatureColumnError(
                f"numeric_column {key!r}: default_value has {len(default_value)} values but shape {shape_t} "
                f"needs {math.prod(shape_t)}; pass one scalar or a sequence of that length."
            )
    elif default_value is not None:
        default_value = float(default_value)
    dtype = check_dtype(dtype, NUMERIC_DTYPES, f"numeric_column {key!r}")
    if normalizer_fn is not None and not callable(normalizer_fn):
        raise FeatureColumnError(f"numeric_column {key!r}: normalizer_fn must be callable, got {normalizer_fn!r}.")
    normalizer = resolve_normalizer(normalizer, key)
    if non_finite not in NON_FINITE:
        raise FeatureColumnError(
            f"numeric_column {key!r}: non_finite must be one of {list(NON_FINITE)}, got {non_finite!r}."
        )
    if non_finite == "default" and default_value is None:
        raise FeatureColumnError(
            f"numeric_column {key!r}: non_finite='default' replaces inf/-inf with default_value, but "
            "default_value is None; pass default_value=... too, or non_finite='error'."
        )
    if default_value is not None and not all(
        abs(v) <= FLOAT32_MAX for v in (default_value if isinstance(default_value, tuple) else (default_value,))
    ):
        raise FeatureColumnError(
            f"numeric_column {key!r}: default_value must be finite (within float32's range), got {default_value!r}."
        )
    return NumericColumn(key, shape_t, default_value, dtype, normalizer_fn, normalizer, non_finite)


@dataclass(frozen=True)
class BucketizedColumn(DenseColumn, CategoricalColumn):
    """Spec of :func:`bucketized_column`; ids ``(N, num_elements)``, one-hot in ``DenseFeatures``.

    Examples
    --------
    >>> bucketized_column(numeric_column("age"), "quantiles:4").needs_fit
    True
    """

    kind: ClassVar[str] = "bucketized"
    layer_role: ClassVar[str] = "ids"
    state_section: ClassVar[str | None] = "boundaries"

    source_column: NumericColumn
    boundaries: tuple[float, ...] | str

    @property
    def name(self) -> str:
        return f"{self.source_column.name}_bucketized"

    @property
    def parents(self) -> tuple[NumericColumn]:
        return (self.source_column,)

    @property
    def needs_fit(self) -> bool:
        return isinstance(self.boundaries, str)

    # ----- per-kind behaviour -----
    def boundaries_of(self, fitted: Fitted) -> list | tuple:
        if isinstance(self.boundaries, str):
            return fitted.learned(self, f"boundaries ({self.boundaries})")
        return self.boundaries

    @property
    def in_model(self) -> bool:
        """True when the source has a ``normalizer_fn``: then the ids are computed inside the model.

        The encoding holds the source's values (float32 ``(N, num_elements)``), and :meth:`tensor_stage`
        applies ``normalizer_fn`` and bucketizes on tensors, so an export captures both in its program.
        """
        return self.source_column.normalizer_fn is not None

    def _bucketize(self, x: np.ndarray, fitted: Fitted) -> np.ndarray:
        # TF compares float32 values with float32 boundaries: 0.69999999 is 0.7f, in the bucket above 0.7
        bounds = np.asarray(self.boundaries_of(fitted), dtype=np.float32)
        x = np.asarray(x, dtype=np.float32).reshape(x.shape[0], -1)
        ids = np.searchsorted(bounds, x, side="right").astype(np.int64)
        return ids + np.arange(x.shape[1], dtype=np.int64) * (len(bounds) + 1)

    def encode(self, ctx: EncodeContext) -> Encoded:
        x = ctx(self.source_column).values.reshape(-1, self.source_column.num_elements)
        if self.in_model:
            return Encoded(x.astype(np.float32))
        return Encoded(self._bucketize(x, ctx.fitted))

    def ids(self, ctx: EncodeContext) -> np.ndarray:
        x = ctx(self.source_column).values
        return self._bucketize(self.source_column.apply_fn(x), ctx.fitted) if self.in_model else ctx(self).values

    def tensor_stage(self, value: Any, fitted: Fitted) -> Any:
        """Ids from the source values when :attr:`in_model` (``normalizer_fn``, then float32 buckets).

        Examples
        --------
        >>> import torch
        >>> col = bucketized_column(numeric_column("x", normalizer_fn=lambda t: t * 10), [5.0])
        >>> col.tensor_stage(torch.tensor([[0.1], [0.7]]), None).tolist()
        [[0], [1]]
        """
        if not self.in_model or not value.is_floating_point():
            return value
        import torch

        n, k = value.shape[0], self.source_column.num_elements
        x = self.source_column.tensor_stage(value.reshape(n, k), fitted).reshape(n, k).to(torch.float32)
        bounds = torch.tensor([float(b) for b in self.boundaries_of(fitted)], dtype=torch.float32, device=x.device)
        ids = torch.bucketize(x, bounds, right=True)
        offsets = torch.arange(k, dtype=torch.int64, device=x.device) * (len(bounds) + 1)
        return ids.to(torch.int64) + offsets

    def fitter(self, sample_size: int | None) -> _QuantileFitter | None:
        return _QuantileFitter(self, sample_size) if self.needs_fit else None

    def bucket_count(self, fitted: Fitted) -> int:
        return (len(self.boundaries_of(fitted)) + 1) * self.source_column.num_elements

    def dense_width(self, fitted: Fitted) -> int:
        return self.bucket_count(fitted)

    def state_text(self, fitted: Fitted) -> str:
        b = [float(x) for x in self.boundaries_of(fitted)]
        return f"{len(b) + 1} buckets, edges {[round(x, 6) for x in b][:8]}{' ...' if len(b) > 8 else ''}"

    def to_source(self) -> str:
        return source_call("bucketized_column", self.source_column, self.boundaries)


class _QuantileFitter:
    """Quantile edges of the (normalised) source values, from all rows or a uniform sample of them."""

    def __init__(self, column: BucketizedColumn, sample_size: int | None) -> None:
        self.column = column
        self.sample = RowSample(sample_size)

    def update(self, chunk: Any, memo: dict[Any, Any]) -> None:
        self.sample.update(self.column.source_column.filled(chunk, memo))

    def finish(self, fitted: Fitted, n_rows: int) -> list[float]:
        n_buckets = resolve_boundaries(str(self.column.boundaries), self.column.name)
        assert self.sample.rows is not None  # fit saw rows
        source = self.column.source_column
        values = source.apply_fn(source.normalize(self.sample.rows, fitted)).ravel()
        edges = np.quantile(values.astype(np.float64), np.linspace(0.0, 1.0, n_buckets + 1)[1:-1])
        return np.unique(edges).tolist()


def bucketized_column(source_column: NumericColumn, boundaries: Sequence[float] | str) -> BucketizedColumn:
    """Discretise a numeric column with TF's edges ``(-inf, b0), [b0, b1), ..., [bn, +inf)``.

    Parameters
    ----------
    source_column : NumericColumn
        The numeric column to bucketize (its default value and normalizers apply first, as in TF).
    boundaries : sequence of float, or ``"quantiles:N"``
        Strictly increasing edges, or ``"quantiles:N"`` to learn ``N`` buckets from the training frame's
        quantiles (duplicate edges from ties are merged, so fewer buckets may result).

    Examples
    --------
    >>> col = bucketized_column(numeric_column("age"), [18, 35, 65])
    >>> col.name
    'age_bucketized'
    """
    if not isinstance(source_column, NumericColumn):
        raise FeatureColumnError(
            f"bucketized_column: source_column must be a numeric_column, got {source_column!r}. "
            "Wrap the key first: bucketized_column(numeric_column('age'), [18, 65])."
        )
    name = source_column.name
    if isinstance(boundaries, str):
        resolve_boundaries(boundaries, name)
        return BucketizedColumn(source_column, boundaries)
    try:
        bounds = tuple(float(b) for b in boundaries)
    except (TypeError, ValueError):
        raise FeatureColumnError(
            f"bucketized_column {name!r}: boundaries must be a sorted list of numbers or 'quantiles:N', "
            f"got {boundaries!r}."
        ) from None
    if not bounds:
        raise FeatureColumnError(f"bucketized_column {name!r}: boundaries is empty; give at least one edge.")
    for a, b in zip(bounds, bounds[1:]):
        if not a < b:
            what = "duplicate" if a == b else "unsorted"
            raise FeatureColumnError(
                f"bucketized_column {name!r}: boundaries must be strictly increasing, got {what} edges "
                f"{a!r} then {b!r} in {list(bounds)}. Sort them and drop duplicates: sorted(set(boundaries))."
            )
    return BucketizedColumn(source_column, bounds)
