"""``infer_columns``: propose a feature-column set from a frame's dtypes and cardinalities.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"age": [30.0, 40.0, 50.0], "color": ["a", "b", "a"], "y": [0, 1, 0]})
>>> [c.name for c in infer_columns(df, label="y").feature_columns]
['age', 'color_indicator']
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from estlab._util import frame_column
from estlab.features._base import FeatureColumn
from estlab.features.categorical import categorical_column_with_learned_vocabulary
from estlab.features.dense import embedding_column, indicator_column
from estlab.features.errors import FeatureColumnError, MissingColumnError, close_names
from estlab.features.numeric import FLOAT32_MAX, numeric_column

ID_NAME = re.compile(r"(^id$|_id$|^id_|Id$|ID$|uuid|guid)", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnChoice:
    """What :func:`infer_columns` chose for one frame column, and why.

    Examples
    --------
    >>> ColumnChoice("id", "int64", 3, 0, None, "name looks like an identifier").choice
    'left out'
    """

    key: str
    dtype: str
    distinct: int
    missing: int
    column: FeatureColumn | None
    reason: str

    @property
    def choice(self) -> str:
        return "left out" if self.column is None else self.column.kind


@dataclass(frozen=True)
class InferredColumns:
    """Proposed columns with a per-column explanation (``summary()``, HTML in notebooks).

    Examples
    --------
    >>> import pandas as pd
    >>> inferred = infer_columns(pd.DataFrame({"x": [1.0, 2.0]}))
    >>> print(inferred.summary().splitlines()[0])
    infer_columns: 1 feature column(s) from 1 frame column(s)
    """

    choices: tuple[ColumnChoice, ...]

    @property
    def feature_columns(self) -> list[FeatureColumn]:
        """The proposed feature columns, in frame order."""
        return [c.column for c in self.choices if c.column is not None]

    def to_frame(self) -> pd.DataFrame:
        """One row per frame column: dtype, distinct, missing, choice, feature column name, reason."""
        return pd.DataFrame(
            {
                "column": [c.key for c in self.choices],
                "dtype": [c.dtype for c in self.choices],
                "distinct": [c.distinct for c in self.choices],
                "missing": [c.missing for c in self.choices],
                "choice": [c.choice for c in self.choices],
                "feature": ["" if c.column is None else c.column.name for c in self.choices],
                "reason": [c.reason for c in self.choices],
            }
        )

    def summary(self) -> str:
        """Readable text: one line per frame column with what was chosen and why."""
        head = (f"infer_columns: {len(self.feature_columns)} feature column(s) from {len(self.choices)} "
                "frame column(s)")
        return head + "\n" + self.to_frame().to_string(index=False)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = html.escape(self.summary().splitlines()[0])
        return f"<div><b>{head}</b>{self.to_frame().to_html(index=False, escape=True)}</div>"


def _embedding_dimension(n: int) -> int:
    return int(min(50, max(2, round(1.6 * n**0.56))))


def _choose(key: str, s: pd.Series, max_indicator: int, n: int) -> ColumnChoice:
    dtype = str(s.dtype)
    missing = int(s.isna().sum())
    nonnull = s.dropna()
    distinct = int(nonnull.nunique())

    def pick(column: FeatureColumn | None, reason: str) -> ColumnChoice:
        return ColumnChoice(key, dtype, distinct, missing, column, reason)

    if len(nonnull) == 0:
        return pick(None, "all values are missing")
    if distinct <= 1:
        return pick(None, f"constant (only {nonnull.iloc[0]!r}): carries no information")
    if ID_NAME.search(key):
        return pick(None, "name looks like an identifier")
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        return pick(None, "date/time: derive numeric parts (year, weekday, age) first")
    if pd.api.types.is_bool_dtype(s):
        return pick(numeric_column(key, default_value=0.0 if missing else None), "boolean -> 0/1 numeric")
    if pd.api.types.is_numeric_dtype(s):
        if pd.api.types.is_integer_dtype(s) and distinct == len(nonnull) and len(nonnull) > 2:
            return pick(None, "integer unique per row: looks like an ID")
        values = nonnull.astype(float)
        finite = values[values.abs() <= FLOAT32_MAX]  # inf, -inf and 1e308 would be inf in float32
        if len(finite) == 0:
            return pick(None, "no finite values (inf or beyond float32's range)")
        non_finite = len(values) - len(finite)
        default = float(finite.median())
        reason = f"numeric -> z-score normalised; missing -> training median {default:g}"
        if missing:
            reason += f" ({missing} missing here)"
        if non_finite:
            reason += f"; {non_finite} non-finite (inf or beyond float32) -> the median too"
        # pandas is untyped; pyright infers ``Series | float`` for a Series' skew(), a float here
        skew = float(finite.skew()) if len(finite) > 2 else 0.0  # pyright: ignore[reportArgumentType]
        if abs(skew) > 3:
            reason += f"; heavily skewed ({skew:.1f}): consider bucketized_column(..., 'quantiles:10')"
        return pick(numeric_column(key, default_value=default, normalizer="zscore",
                                   non_finite="default" if non_finite else "error"), reason)
    if pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
        if distinct == len(nonnull) and len(nonnull) > 2:
            return pick(None, "string unique per row: looks like an ID or free text")
        vocab = categorical_column_with_learned_vocabulary(key)
        tail = f"; {missing} missing -> unknown slot" if missing else ""
        if distinct <= max_indicator:
            return pick(indicator_column(vocab),
                        f"{distinct} categories <= {max_indicator} -> one-hot of learned vocabulary{tail}")
        if distinct > 0.5 * n:
            return pick(None, f"{distinct} categories in {n} rows: nearly unique, likely an ID or free text")
        dim = _embedding_dimension(distinct)
        return pick(embedding_column(vocab, dim),
                    f"{distinct} categories > {max_indicator} -> embedding, dimension {dim} "
                    f"(round(1.6 * n**0.56), at most 50){tail}")
    return pick(None, f"unsupported dtype {dtype}")


def infer_columns(
    frame: pd.DataFrame, label: str | Sequence[str] | None = None, max_indicator_cardinality: int = 50
) -> InferredColumns:
    """Propose feature columns from dtypes and cardinality (look at ``.summary()``, then adjust).

    Numeric -> ``numeric_column(normalizer="zscore")`` (missing values -> the median as
    ``default_value``); strings/categoricals with at most ``max_indicator_cardinality`` distinct values ->
    indicator of a learned vocabulary, more -> embedding of a learned vocabulary; left out: the label,
    constant or all-missing columns, ID-like names (``*_id``, ``id``, ``uuid``) and values unique per
    row (integers or strings), date/times.

    Examples
    --------
    >>> from estlab.datasets import load_penguins
    >>> train, _ = load_penguins()
    >>> [c.name for c in infer_columns(train, label="species").feature_columns][:2]
    ['island_indicator', 'bill_length_mm']
    """
    if not isinstance(frame, pd.DataFrame):
        raise FeatureColumnError(f"infer_columns: frame must be a pandas DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise FeatureColumnError("infer_columns: the frame is empty (0 rows); pass the training frame.")
    labels = [] if label is None else [label] if isinstance(label, str) else list(label)
    for lab in labels:
        if lab not in frame.columns:
            raise MissingColumnError(f"infer_columns: label {lab!r} is not a column.{close_names(lab, frame.columns)}")
    if not isinstance(max_indicator_cardinality, int) or max_indicator_cardinality < 1:
        raise FeatureColumnError(
            f"infer_columns: max_indicator_cardinality must be a positive int, got {max_indicator_cardinality!r}."
        )
    choices = []
    for key in frame.columns:
        if key in labels:
            s = frame_column(frame, key)
            choices.append(ColumnChoice(str(key), str(s.dtype), int(s.nunique()), int(s.isna().sum()), None, "label"))
            continue
        choices.append(_choose(str(key), frame_column(frame, key), max_indicator_cardinality, len(frame)))
    return InferredColumns(tuple(choices))


