"""``FeatureTransformer``: learns column state from the training frame and encodes frames to tensors.

Examples
--------
>>> import pandas as pd
>>> from estlab.features import categorical_column_with_learned_vocabulary, indicator_column, numeric_column
>>> df = pd.DataFrame({"age": [20.0, 40.0], "color": ["red", "blue"]})
>>> ft = FeatureTransformer([numeric_column("age", normalizer="zscore"),
...                          indicator_column(categorical_column_with_learned_vocabulary("color"))]).fit(df)
>>> {k: tuple(v.shape) for k, v in ft.transform(df).items()}
{'age': (2, 1), 'color': (2, 1)}
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estlab.features._base import DenseColumn, FeatureColumn, RawInputSpec
from estlab.features.encode import STATE_SECTIONS, EncodeContext, Fitted
from estlab.features.errors import FeatureColumnError, NotFittedError
from estlab.features.fast import FAST_ROWS, FastContext
from estlab.features.parallel import column_map, encode_all
from estlab.features.raw import n_rows
from estlab.features.serialize import column_from_dict, column_to_dict, comparable
from estlab.features.sklearn_api import SklearnTransformerAPI
from estlab.features.stats import STREAM_SAMPLE_SIZE

if TYPE_CHECKING:
    import torch

FORMAT = "estlab.features/1"
WEIGHTS_SUFFIX = "/weights"


def leaf_of(column: FeatureColumn) -> FeatureColumn:
    """The column whose encoding a top-level column reads (indicator/embedding -> their categorical).

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity as ident, indicator_column
    >>> leaf_of(indicator_column(ident("h", 3))).name
    'h'
    """
    return column.leaf


def column_ids(columns: Iterable[FeatureColumn]) -> dict[FeatureColumn, str]:
    """A unique id per column: its name, or ``name_<kind>`` (then ``_2``, ...) when names collide.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_hash_bucket as hashed, numeric_column
    >>> list(column_ids([numeric_column("a"), hashed("a", 5)]).values())
    ['a', 'a_hash']
    """
    ids: dict[FeatureColumn, str] = {}
    taken: set[str] = set()
    for col in columns:
        uid = col.name
        if uid in taken:
            uid = f"{col.name}_{col.kind}"
            n = 2
            while uid in taken:
                uid, n = f"{col.name}_{col.kind}_{n}", n + 1
        ids[col] = uid
        taken.add(uid)
    return ids


def walk(columns: Iterable[FeatureColumn]) -> list[FeatureColumn]:
    """All columns reachable from ``columns`` (parents first, each once).

    Examples
    --------
    >>> from estlab.features import bucketized_column, numeric_column
    >>> [c.name for c in walk([bucketized_column(numeric_column("x"), [1.0])])]
    ['x', 'x_bucketized']
    """
    seen: dict[FeatureColumn, None] = {}

    def visit(col: FeatureColumn) -> None:
        for parent in col.parents:
            if isinstance(parent, FeatureColumn):
                visit(parent)
        seen.setdefault(col, None)

    for c in columns:
        visit(c)
    return list(seen)


def _check_same_columns(saved: list[dict[str, Any]], columns: Sequence[FeatureColumn]) -> None:
    """Raise unless the saved column dicts describe ``columns`` (functions compared by presence only)."""
    ours = [comparable(column_to_dict(c)) for c in columns]
    theirs = [comparable(c) for c in saved]
    key = lambda d: json.dumps(d, sort_keys=True)  # noqa: E731 - a sort key
    if sorted(map(key, ours)) == sorted(map(key, theirs)):
        return
    only_saved = [d for d in theirs if d not in ours]
    only_code = [d for d in ours if d not in theirs]
    raise FeatureColumnError(
        f"the saved state doesn't fit the feature columns: it was fitted for {len(theirs)} column(s), the code "
        f"builds {len(ours)}; only saved: {_describe(only_saved)}; only in the code: {_describe(only_code)}. "
        "Build the estimator with the feature columns it was trained with, or use another model_dir."
    )


def _describe(specs: list[Any]) -> str:
    text = "; ".join(json.dumps(d, sort_keys=True) for d in specs) or "none"
    return text if len(text) <= 600 else text[:600] + " ..."


class FeatureTransformer(SklearnTransformerAPI):
    """Fit feature-column state on a training frame; encode frames or dicts to tensors.

    ``transform`` returns "encoded features": ``dict[str, torch.Tensor]``, every tensor with leading
    dimension N. Numeric columns give float32 ``(N, *shape)`` under the column name; categorical columns
    (including those inside indicator/embedding columns, bucketized and crossed columns) give int64 ids
    ``(N, K)`` (``-1`` = no id) under the column name; weighted columns add float32 ``(N, K)`` weights
    under ``name + "/weights"``. When two different columns share a name (``numeric_column("h")`` and
    ``categorical_column_with_identity("h", 24)``), the later one is keyed ``name_<kind>``
    (``"h_identity"``); the same ids key the fitted state.
    :meth:`encoded_key` gives the key of any column.

    Parameters
    ----------
    feature_columns : sequence of feature columns
        The columns models will use (dense and/or categorical).

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> FeatureTransformer([numeric_column("x")]).transform({"x": [1.0]})["x"]
    tensor([[1.]])
    """

    def __init__(self, feature_columns: Sequence[FeatureColumn]) -> None:
        self._given_columns = feature_columns  # as given, for get_params (sklearn.base.clone checks identity)
        if isinstance(feature_columns, FeatureColumn):
            feature_columns = [feature_columns]
        columns = list(dict.fromkeys(feature_columns))
        for c in columns:
            if not isinstance(c, FeatureColumn):
                hint = f" Wrap raw keys in a column, e.g. numeric_column({c!r})." if isinstance(c, str) else ""
                raise FeatureColumnError(f"feature_columns must hold feature columns, got {c!r}.{hint}")
        if not columns:
            raise FeatureColumnError("feature_columns is empty; give at least one feature column.")
        self.feature_columns: tuple[FeatureColumn, ...] = tuple(columns)
        self._all = walk(columns)
        leaves = list(dict.fromkeys(leaf_of(c) for c in columns))
        self._ids = column_ids([*leaves, *(c for c in self._all if c not in leaves)])
        self._keys = {leaf: self._ids[leaf] for leaf in leaves}
        self.state_: dict[str, dict[str, Any]] = {"numeric": {}, "boundaries": {}, "vocabulary": {}}
        self.n_rows_seen_: int | None = None
        self._fast_tables: dict[Any, Any] = {}  # the fast path's vocabulary dicts and memoised hashes

    # ----- metadata -----------------------------------------------------------------------------
    @property
    def required_keys(self) -> list[str]:
        """Sorted raw keys (frame columns) the transformer reads.

        Examples
        --------
        >>> from estlab.features import crossed_column
        >>> FeatureTransformer([crossed_column(["a", "b"], 10)]).required_keys
        ['a', 'b']
        """
        return sorted({p for c in self._all for p in c.parents if isinstance(p, str)})

    @property
    def is_fitted(self) -> bool:
        """True once fitted, or when no column needs learned state.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer([numeric_column("x", normalizer="zscore")]).is_fitted
        False
        """
        return self.n_rows_seen_ is not None or not any(c.needs_fit for c in self._all)

    def encoded_key(self, column: FeatureColumn) -> str:
        """Key of ``column``'s tensor in the encoded dict (indicator/embedding: their categorical's).

        Examples
        --------
        >>> from estlab.features import categorical_column_with_identity, indicator_column
        >>> FeatureTransformer([indicator_column(categorical_column_with_identity("h", 3))]).encoded_key(
        ...     categorical_column_with_identity("h", 3))
        'h'
        """
        leaf = leaf_of(column)
        if leaf not in self._keys:
            raise FeatureColumnError(
                f"column {column.name!r} is not among this transformer's columns "
                f"({[c.name for c in self.feature_columns]}); build FeatureTransformer with every column "
                "your models use."
            )
        return self._keys[leaf]

    def num_buckets(self, categorical_column: FeatureColumn) -> int:
        """Number of distinct ids of a categorical column (vocabulary + OOV buckets, hash size, ...).

        Examples
        --------
        >>> from estlab.features import categorical_column_with_vocabulary_list as vocab
        >>> col = vocab("c", ["a", "b"], num_oov_buckets=2)
        >>> FeatureTransformer([col]).num_buckets(col)
        4
        """
        return leaf_of(categorical_column).bucket_count(self._fitted)

    def vocabulary(self, column: FeatureColumn) -> list:
        """Vocabulary of a vocabulary column (explicit, file or learned), index = id.

        Examples
        --------
        >>> from estlab.features import categorical_column_with_learned_vocabulary as learned
        >>> FeatureTransformer([learned("c")]).fit({"c": ["b", "a", "b"]}).vocabulary(learned("c"))
        ['b', 'a']
        """
        return list(leaf_of(column).vocabulary_of(self._fitted))

    def boundaries(self, column: FeatureColumn) -> list[float]:
        """Bucket edges of a bucketized column (explicit or learned).

        Examples
        --------
        >>> from estlab.features import bucketized_column, numeric_column
        >>> col = bucketized_column(numeric_column("x"), [1, 2])
        >>> FeatureTransformer([col]).boundaries(col)
        [1.0, 2.0]
        """
        return [float(b) for b in column.boundaries_of(self._fitted)]

    def describe(self) -> pd.DataFrame:
        """One row per column (sources included): id, kind, and learned or declared state in words.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer([numeric_column("x")]).describe()["id"].tolist()
        ['x']
        """
        rows = []
        for c in self._all:
            rows.append({"id": self._ids.get(c, c.name), "column": type(c).__name__, "state": self._state_text(c)})
        return pd.DataFrame(rows)

    def _state_text(self, c: FeatureColumn) -> str:
        try:
            return c.state_text(self._fitted)
        except NotFittedError:
            return "not fitted"

    def _repr_html_(self) -> str:
        return f"<div><b>{html.escape(repr(self))}</b>{self.describe().to_html(index=False, escape=True)}</div>"

    def dense_width(self, columns: Sequence[FeatureColumn] | None = None) -> int:
        """Width of ``DenseFeatures`` output over ``columns`` (default: this transformer's dense columns).

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer([numeric_column("x", shape=3)]).dense_width()
        3
        """
        if columns is None:
            columns = [c for c in self.feature_columns if isinstance(c, DenseColumn)]
        return self.width_of(columns)

    def width_of(self, columns: Sequence[FeatureColumn]) -> int:
        """Width of ``DenseFeatures(columns, self)`` output.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> x, y = numeric_column("x", shape=3), numeric_column("y")
        >>> FeatureTransformer([x, y]).width_of([y])
        1
        """
        return sum(self.column_width(c) for c in columns)

    def column_width(self, column: FeatureColumn) -> int:
        """Width of one dense column in ``DenseFeatures`` output.

        Examples
        --------
        >>> from estlab.features import embedding_column, categorical_column_with_identity as ident
        >>> col = embedding_column(ident("h", 3), 4)
        >>> FeatureTransformer([col]).column_width(col)
        4
        """
        return column.dense_width(self._fitted)

    def raw_input_specs(self) -> dict[str, RawInputSpec]:
        """The raw inputs the columns read: key -> dtype name and shape (``-1`` = the batch dimension).

        Each column kind declares the keys it reads itself (``raw_inputs``); when several columns read
        one key, a numeric dtype wins over ``"string"`` (e.g. a key crossed and also used as numbers).
        Keys are in :attr:`required_keys` order. Learned vocabularies give the type of the values learned
        (``"string"`` before fitting).

        Examples
        --------
        >>> from estlab.features import numeric_column, categorical_column_with_identity as ident
        >>> FeatureTransformer([numeric_column("x", shape=2), ident("h", 3)]).raw_input_specs()["x"]
        RawInputSpec(name='x', dtype='float32', shape=(-1, 2))
        """
        fitted = self._fitted
        found: dict[str, RawInputSpec] = {}
        for column in self._all:
            for key, spec in column.raw_inputs(fitted).items():
                if key not in found or found[key].dtype == "string" and spec.dtype != "string":
                    found[key] = spec
        return {key: found.get(key, RawInputSpec(key, "string")) for key in self.required_keys}

    @property
    def _fitted(self) -> Fitted:
        return Fitted(self.state_, self._ids)

    # ----- fitting ------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame | dict[str, Any], y: Any = None) -> FeatureTransformer:
        """Learn vocabularies, moments and exact quantile boundaries from the training frame.

        ``y`` is ignored (scikit-learn's transformer signature, so the transformer can sit in a ``Pipeline``).

        Examples
        --------
        >>> import pandas as pd
        >>> from estlab.features import numeric_column
        >>> ft = FeatureTransformer([numeric_column("x", normalizer="minmax")]).fit(pd.DataFrame({"x": [0., 4.]}))
        >>> ft.transform({"x": [2.0]})["x"].item()
        0.5
        """
        return self._fit([frame], sample_capacity=None)

    def fit_stream(
        self, chunks: Iterable[pd.DataFrame | dict[str, Any]], sample_size: int = STREAM_SAMPLE_SIZE
    ) -> FeatureTransformer:
        """Fit from an iterable of frames (data larger than memory), one pass.

        Vocabularies, counts, means, standard deviations, minima and maxima are exact (the same as
        :meth:`fit` on the concatenation, up to float rounding). Quantile boundaries come from a uniform
        sample of ``sample_size`` rows (default 200,000): exact when the stream has fewer rows, otherwise
        each boundary's rank is within ``eps = sqrt(ln(2/delta) / (2 * sample_size))`` of its target with
        probability ``1 - delta`` (Dvoretzky-Kiefer-Wolfowitz): ``eps < 0.0063`` at ``delta = 1e-6`` for
        the default. The sample is seeded, so the result is deterministic.

        Examples
        --------
        >>> import pandas as pd
        >>> from estlab.features import numeric_column
        >>> chunks = (pd.DataFrame({"x": [float(i)]}) for i in range(3))
        >>> FeatureTransformer([numeric_column("x", normalizer="zscore")]).fit_stream(chunks).state_["numeric"]
        {'x': {'shift': [1.0], 'scale': [0.816496580927726], 'mean': [1.0], 'std': [0.816496580927726], 'min': [0.0], 'max': [2.0]}}
        """
        if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
            raise FeatureColumnError(f"fit_stream: sample_size must be a positive int, got {sample_size!r}.")
        if isinstance(chunks, (pd.DataFrame, dict)):
            raise FeatureColumnError("fit_stream: chunks must be an iterable of frames; use fit(frame) for one frame.")
        return self._fit(chunks, sample_capacity=sample_size)

    def _fit(self, chunks: Iterable[Any], sample_capacity: int | None) -> FeatureTransformer:
        # each column kind learns its own state; ``walk`` order finishes parents first
        fitters = {c: f for c in self._all if (f := c.fitter(sample_capacity)) is not None}
        total = 0
        for chunk in chunks:
            rows = n_rows(chunk)
            if rows == 0:
                continue
            total += rows
            memo: dict[Any, Any] = {}
            # each fitter learns its own column (value counts, moments: outside the GIL); a shared parent in
            # ``memo`` may be computed twice by two threads (same value)
            column_map(lambda fitter: fitter.update(chunk, memo), list(fitters.values()), rows)  # noqa: B023
            # stateless columns are validated on the first chunk so errors appear at fit time
            if total == rows:
                self._validate(chunk)
        if total == 0:
            raise FeatureColumnError("fit: the training frame is empty (0 rows); pass a frame with data.")
        state: dict[str, dict[str, Any]] = {section: {} for section in STATE_SECTIONS}
        fitted = Fitted(state, self._ids)
        for column, fitter in fitters.items():
            if column.state_section is None:
                raise TypeError(f"{type(column).__name__} has a fitter but no state_section to keep its state in.")
            state.setdefault(column.state_section, {})[self._ids[column]] = fitter.finish(fitted, total)
        self.state_ = state
        self.n_rows_seen_ = total
        return self

    def _validate(self, chunk: Any) -> None:
        head = chunk.iloc[:1000] if isinstance(chunk, pd.DataFrame) else chunk
        ctx = EncodeContext(head, self._fitted)
        for c in self._all:
            if not any(p.needs_fit for p in walk([c])):
                ctx(c.leaf)

    # ----- transform ----------------------------------------------------------------------------
    def transform(self, data: pd.DataFrame | dict[str, Any]) -> dict[str, torch.Tensor]:
        """Encode a DataFrame or a dict of arrays/lists/Series/tensors into tensors (vectorised).

        Examples
        --------
        >>> from estlab.features import categorical_column_with_vocabulary_list as vocab
        >>> FeatureTransformer([vocab("c", ["a", "b"])]).transform({"c": ["b", "z"]})["c"].ravel().tolist()
        [1, -1]
        """
        if not self.is_fitted:
            needing = [c.name for c in self._all if c.needs_fit]
            raise NotFittedError(
                f"FeatureTransformer is not fitted: columns {needing} learn state from the training frame. "
                "Call .fit(train_df) before .transform(...)."
            )
        import torch  # tensors are made here, and only here

        n = n_rows(data)
        if type(data) is dict and n <= FAST_ROWS:  # a request: no pandas objects (estlab/features/fast.py)
            ctx: EncodeContext = FastContext(data, self._fitted, self.__dict__.setdefault("_fast_tables", {}))
        else:
            ctx = EncodeContext(data, self._fitted)
        out: dict[str, torch.Tensor] = {}
        # independent columns encode on threads for large inputs (estlab/features/parallel.py)
        for key, encoded in zip(self._keys.values(), encode_all(ctx, list(self._keys), n), strict=True):
            out[key] = torch.from_numpy(np.ascontiguousarray(encoded.values))
            if encoded.weights is not None:
                out[key + WEIGHTS_SUFFIX] = torch.from_numpy(encoded.weights)
        for key, t in out.items():
            if t.shape[0] != n:
                raise FeatureColumnError(f"encoded {key!r} has {t.shape[0]} rows, expected {n}.")
        output = getattr(self, "_output", "tensors")
        if output != "tensors":
            return self._as_table(out, pandas=output == "pandas", index=getattr(data, "index", None))  # set_output chose a 2-D table
        return out

    def fit_transform(self, frame: pd.DataFrame | dict[str, Any], y: Any = None) -> dict[str, torch.Tensor]:
        """``fit(frame)`` then ``transform(frame)`` (``y`` is ignored, as in :meth:`fit`).

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer([numeric_column("x")]).fit_transform({"x": [3.0]})["x"].item()
        3.0
        """
        return self.fit(frame).transform(frame)

    # ----- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Columns and fitted state as plain JSON-ready values.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer([numeric_column("x")]).to_dict()["format"]
        'estlab.features/1'
        """
        out = {
            "format": FORMAT,
            "columns": [column_to_dict(c) for c in self.feature_columns],
            "state": self.state_,
            "n_rows_seen": self.n_rows_seen_,
        }
        json.dumps(out)  # fail here, not at save time, if anything is not plain JSON
        return out

    @classmethod
    def from_dict(
        cls, spec: dict[str, Any], feature_columns: Sequence[FeatureColumn] | None = None
    ) -> FeatureTransformer:
        """Rebuild a (fitted) transformer from :meth:`to_dict` output; with ``feature_columns``, only its state.

        A file holds no code: a column's function (``normalizer_fn``, ``initializer``) comes back as a
        :class:`~estlab.features.serialize.StoredFunction` that raises when called, and nothing is imported.
        Pass ``feature_columns`` (the columns your code builds, lambdas included, as TF restores a
        checkpoint) to load only the learned state into them; they must be the saved columns (functions
        compared by presence only), else a :class:`FeatureColumnError` says how they differ.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> FeatureTransformer.from_dict(FeatureTransformer([numeric_column("x")]).to_dict()).required_keys
        ['x']
        >>> col = numeric_column("x", normalizer_fn=lambda t: t * 2)
        >>> FeatureTransformer.from_dict(FeatureTransformer([col]).to_dict(), [col]).feature_columns == (col,)
        True
        """
        if spec.get("format") != FORMAT:
            raise FeatureColumnError(f"from_dict: expected format {FORMAT!r}, got {spec.get('format')!r}.")
        if feature_columns is None:
            ft = cls([column_from_dict(c) for c in spec["columns"]])
        else:
            ft = cls(feature_columns)
            _check_same_columns(spec["columns"], ft.feature_columns)
        ft.state_ = {**{k: {} for k in STATE_SECTIONS}, **{k: dict(v) for k, v in spec["state"].items()}}
        ft.n_rows_seen_ = spec.get("n_rows_seen")
        if feature_columns is not None:
            for column in ft._all:
                if column.needs_fit and ft._fitted.lookup(column.state_section, column) is None:
                    raise FeatureColumnError(
                        f"from_dict: the saved state has no {column.state_section} for column {column.name!r}; "
                        "it was saved for other feature columns."
                    )
        return ft

    def __repr__(self) -> str:
        status = "fitted" if self.n_rows_seen_ is not None else "not fitted"
        return f"FeatureTransformer({[c.name for c in self.feature_columns]}, {status})"
