"""``ColumnBuilder``: feature columns from a DataFrame, one row of choices per column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab._util import frame_column
from estlab.features import FeatureColumn, FeatureTransformer, infer_columns
from estlab.widgets._html import esc, message
from estlab.widgets._recipes import (
    CATEGORICAL_TRANSFORMS,
    DEFAULT_SIZE,
    NUMERIC_TRANSFORMS,
    SIZE_MEANING,
    choice_of,
    cross_column,
    make_column,
    resize,
)

_TRANSFORM_LABELS = {
    "zscore": "numeric, z-score", "minmax": "numeric, min-max", "raw": "numeric, raw",
    "bucketized": "bucketized", "indicator": "one-hot", "embedding": "embedding",
    "hash_bucket": "hash buckets", "drop": "drop",
}


def infer_task(labels: pd.Series) -> str:
    """``"classification"`` for strings, booleans and few integer values, else ``"regression"``.

    Examples
    --------
    >>> infer_task(pd.Series([">50K", "<=50K"])), infer_task(pd.Series([1.5, 2.25, 3.0]))
    ('classification', 'regression')
    """
    values = labels.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    integral = bool((values == values.round()).all())
    return "classification" if integral and values.nunique() <= 20 else "regression"


class ColumnBuilder:
    """Choose a transform per DataFrame column, add crosses, pick the label; get feature columns and code.

    Parameters
    ----------
    frame
        The training frame (statistics and the input width come from it).
    label
        The label column (a dropdown lets the user change it).
    max_indicator_cardinality
        Passed to ``estlab.features.infer_columns`` for the pre-selected choices.

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [20.0, 30.0, 40.0], "color": ["a", "b", "a"], "y": [0, 1, 0]})
    >>> builder = ColumnBuilder(frame, label="y")
    >>> builder.transforms()
    {'age': 'zscore', 'color': 'indicator'}
    >>> builder.set_transform("age", "bucketized", 2)
    >>> builder.columns["age"].to_source()
    "fc.bucketized_column(fc.numeric_column('age'), 'quantiles:2')"
    >>> [c.name for c in builder.feature_columns]
    ['age_bucketized', 'color_indicator']
    """

    def __init__(self, frame: pd.DataFrame, label: str | None = None, max_indicator_cardinality: int = 50) -> None:
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            raise ValueError(f"frame: expected a non-empty pandas DataFrame, got {type(frame).__name__}")
        if label is not None and label not in frame.columns:
            raise ValueError(f"label: {label!r} is not a column; columns: {list(frame.columns)}")
        self.frame = frame
        self.max_indicator_cardinality = max_indicator_cardinality
        self.crosses: list[tuple[tuple[str, ...], int]] = []
        self._callbacks: list[Callable[[ColumnBuilder], None]] = []
        self._rows: dict[str, tuple[widgets.Dropdown, widgets.BoundedIntText]] = {}
        self._columns: dict[str, FeatureColumn | None] = {}  # the spec of each frame column (None: dropped)
        self._defaults: dict[str, float | None] = {}
        self._widths: dict[FeatureColumn, int] = {}  # dense width per spec, fitted once
        self.label_picker = widgets.Dropdown(options=list(frame.columns), value=label, description="label",
                                             style={"description_width": "50px"})
        self.label_picker.add_class("estlab-label")
        self.task_html = widgets.HTML("")
        self.rows_box = widgets.VBox([])
        self.rows_box.add_class("estlab-columns")
        self.width_html = widgets.HTML("")
        self.width_html.add_class("estlab-width")
        self.cross_select = widgets.SelectMultiple(options=[], rows=4, description="cross",
                                                   style={"description_width": "50px"})
        self.cross_size = widgets.BoundedIntText(value=1000, min=2, max=10_000_000, description="buckets",
                                                 layout=widgets.Layout(width="180px"))
        self.add_cross_button = widgets.Button(description="Add cross", icon="plus")
        self.add_cross_button.add_class("estlab-add-cross")
        self.clear_cross_button = widgets.Button(description="Clear crosses")
        self.crosses_html = widgets.HTML("")
        self.code_button = widgets.Button(description="Show code", icon="code")
        self.code_button.add_class("estlab-show-code")
        self.code_html = widgets.HTML("")
        self.code_html.add_class("estlab-code")
        self.error_html = widgets.HTML("")
        header = widgets.HTML(
            '<div style="display:flex;font-weight:bold;color:#444;border-bottom:1px solid #ddd">'
            '<span style="width:150px">column</span><span style="width:430px">dtype · distinct · missing · '
            'examples</span><span>transform / size</span></div>')
        crosses = widgets.HBox([self.cross_select, widgets.VBox([self.cross_size, self.add_cross_button,
                                                                 self.clear_cross_button]), self.crosses_html])
        self.box = widgets.VBox([widgets.HBox([self.label_picker, self.task_html]), header, self.rows_box,
                                 crosses, self.width_html, self.error_html,
                                 widgets.HBox([self.code_button]), self.code_html])
        self.box.add_class("estlab-column-builder")
        self.label_picker.observe(self._on_label, names="value")
        self.add_cross_button.on_click(self._on_add_cross)
        self.clear_cross_button.on_click(self._on_clear_crosses)
        self.code_button.on_click(self._on_code)
        self._build_rows()

    # ---- public API ------------------------------------------------------------------------
    @property
    def label(self) -> str | None:
        """The chosen label column."""
        return self.label_picker.value

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``, from the label column."""
        return "classification" if self.label is None else infer_task(frame_column(self.frame, self.label))

    @property
    def columns(self) -> dict[str, FeatureColumn | None]:
        """The feature column spec of every non-label frame column (None when dropped), in frame order."""
        return dict(self._columns)

    def transforms(self) -> dict[str, str]:
        """The transform chosen for every non-label frame column, in frame order."""
        return {key: _chosen(dropdown) for key, (dropdown, _) in self._rows.items()}

    def set_transform(self, key: str, transform: str, size: int | None = None) -> None:
        """Choose ``transform`` (and its size) for column ``key``, as the row's dropdown does."""
        if key not in self._rows:
            raise ValueError(f"key: {key!r} is not a feature column here; columns: {list(self._rows)}")
        dropdown, size_box = self._rows[key]
        valid = [value for _, value in dropdown.options]
        if transform not in valid:
            raise ValueError(f"transform: {transform!r} is not valid for column {key!r}; valid ones are {valid}")
        if size is not None:
            size_box.value = size
        dropdown.value = transform
        self._changed()

    def add_cross(self, keys: list[str] | tuple[str, ...], hash_bucket_size: int = 1000) -> None:
        """Cross two or more categorical columns into ``hash_bucket_size`` buckets."""
        keys = tuple(keys)
        unknown = [k for k in keys if k not in self._rows]
        if len(keys) < 2 or unknown:
            raise ValueError(f"keys: a cross needs two or more feature columns; got {list(keys)}"
                             + (f" ({unknown} not columns)" if unknown else ""))
        if hash_bucket_size < 2:
            raise ValueError(f"hash_bucket_size: must be at least 2, got {hash_bucket_size}")
        self.crosses.append((keys, int(hash_bucket_size)))
        self._changed()

    @property
    def feature_columns(self) -> list[FeatureColumn]:
        """Dense feature columns (numeric, bucketized, one-hot, embeddings, crosses as one-hot)."""
        columns = [c for c in self._columns.values() if c is not None]
        return columns + [cross_column(keys, size, dense=True) for keys, size in self.crosses]

    @property
    def linear_columns(self) -> list[FeatureColumn]:
        """Columns for linear models and the wide part: categorical columns themselves, raw crosses."""
        columns = [c.leaf for c in self._columns.values() if c is not None]
        return columns + [cross_column(keys, size, dense=False) for keys, size in self.crosses]

    def input_width(self) -> int:
        """Width of the dense input (``FeatureTransformer(...).fit(frame).dense_width()``).

        Each column's width is learned once per spec (a changed column refits only itself).
        """
        return sum(self._width(c) for c in self.feature_columns)

    def _width(self, column: FeatureColumn) -> int:
        if column not in self._widths:
            self._widths[column] = FeatureTransformer([column]).fit(self.frame).dense_width()
        return self._widths[column]

    def describe(self) -> str:
        """A short description of the feature set (shown in the leaderboard)."""
        kept = sum(c is not None for c in self._columns.values())
        text = f"{kept} cols"
        if self.crosses:
            text += f" + {len(self.crosses)} cross{'es' if len(self.crosses) > 1 else ''}"
        return f"{text} · width {self.input_width()}"

    def code(self) -> str:
        """Python source that builds the same ``feature_columns`` and ``linear_columns``."""
        lines = ["from estlab import feature_column as fc", "", "feature_columns = ["]
        lines += [f"    {c.to_source()}," for c in self.feature_columns] + ["]", "linear_feature_columns = ["]
        lines += [f"    {c.to_source()}," for c in self.linear_columns] + ["]", f"label = {self.label!r}"]
        return "\n".join(lines) + "\n"

    def on_change(self, callback: Callable[[ColumnBuilder], None]) -> None:
        """Call ``callback(builder)`` whenever a choice or the label changes."""
        self._callbacks.append(callback)

    # ---- widgets -----------------------------------------------------------------------------
    def _build_rows(self) -> None:
        label = self.label
        inferred = {c.key: c for c in infer_columns(self.frame, label=label,
                                                    max_indicator_cardinality=self.max_indicator_cardinality).choices}
        for dropdown, size in self._rows.values():
            dropdown.close()
            size.close()
        self._rows, self._columns, self._defaults, rows = {}, {}, {}, []
        categorical = []
        for key in self.frame.columns:
            if key == label:
                continue
            series = frame_column(self.frame, key)
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            options = NUMERIC_TRANSFORMS if numeric else CATEGORICAL_TRANSFORMS
            proposed = inferred[key].column
            inferred_default = getattr(proposed, "default_value", None)
            transform, size_value = choice_of(proposed, key, inferred_default)
            if transform not in options:
                transform, size_value = ("raw" if numeric else "drop"), None
            # the inferred median fills missing values; columns without any keep no default
            self._defaults[key] = inferred_default if series.isna().any() else None
            size_value = size_value or DEFAULT_SIZE.get(transform, 8)
            self._columns[key] = make_column(transform, key, size_value, self._defaults[key])
            dropdown = widgets.Dropdown(options=[(_TRANSFORM_LABELS[o], o) for o in options],
                                        value=transform, layout=widgets.Layout(width="150px"))
            dropdown.add_class("estlab-transform")
            dropdown.add_class(f"estlab-transform-{key}")
            size = widgets.BoundedIntText(value=size_value, min=2, max=1_000_000, description="size",
                                          style={"description_width": "52px"}, layout=widgets.Layout(width="140px"))
            dropdown.observe(lambda change, key=key: self._on_transform(key), names="value")
            size.observe(lambda change, key=key: self._on_size(key), names="value")
            self._rows[key] = (dropdown, size)
            if not numeric:
                categorical.append(key)
            stats = widgets.HTML(self._stats_html(series, inferred[key].reason),
                                 layout=widgets.Layout(width="430px"))
            name = widgets.HTML(f"<b>{esc(key)}</b>", layout=widgets.Layout(width="150px"))
            rows.append(widgets.HBox([name, stats, dropdown, size]))
        self.rows_box.children = rows
        self.cross_select.options = categorical + [k for k in self._rows if k not in categorical]
        self.crosses = [(keys, size) for keys, size in self.crosses if all(k in self._rows for k in keys)]
        self._changed()

    def _stats_html(self, series: pd.Series, reason: str) -> str:
        missing = float(series.isna().mean())
        examples = ", ".join(str(v) for v in series.value_counts().index[:3])
        examples = examples if len(examples) <= 40 else examples[:39] + "…"
        return (f'<span title="{esc(reason)}" style="font-size:12px"><code>{esc(series.dtype)}</code> · '
                f"{series.nunique():,} distinct · {missing:.1%} missing · "
                f'<span style="color:#666">{esc(examples)}</span></span>')

    def _on_transform(self, key: str) -> None:
        dropdown, size = self._rows[key]
        self._columns[key] = make_column(_chosen(dropdown), key, size.value, self._defaults[key])
        self._changed()

    def _on_size(self, key: str) -> None:
        dropdown, size = self._rows[key]
        self._columns[key] = resize(self._columns[key], _chosen(dropdown), size.value)
        self._changed()

    def _changed(self) -> None:
        for dropdown, size in self._rows.values():
            transform = _chosen(dropdown)
            size.layout.visibility = "visible" if transform in SIZE_MEANING else "hidden"
            size.description = SIZE_MEANING.get(transform, "size")
        self.task_html.value = (f'<span style="color:#555">task: <b>{esc(self.task)}</b></span>'
                                if self.label else message("pick the label column", "warning"))
        self.crosses_html.value = "<br/>".join(
            f"<code>{esc(' × '.join(keys))}</code> ({size} buckets)" for keys, size in self.crosses)
        try:
            width = self.input_width()
            self.width_html.value = (f"<b>input width: {width}</b> "
                                     f"({len(self.feature_columns)} feature columns)")
            self.error_html.value = ""
        except Exception as exc:  # show the feature library's own message
            self.error_html.value = message(f"{type(exc).__name__}: {exc}", "error")
        if self.code_html.value:
            self._on_code()
        for callback in self._callbacks:
            callback(self)

    def _on_label(self, _change: Any) -> None:
        self._build_rows()

    def _on_add_cross(self, _button: Any = None) -> None:
        try:
            self.add_cross(self.cross_select.value, self.cross_size.value)
        except ValueError as exc:
            self.error_html.value = message(str(exc), "error")

    def _on_clear_crosses(self, _button: Any = None) -> None:
        self.crosses = []
        self._changed()

    def _on_code(self, _button: Any = None) -> None:
        self.code_html.value = f'<pre style="font-size:12px">{esc(self.code())}</pre>'

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        from estlab.widgets._html import with_fallback

        return with_fallback(self.box, f"<pre>{esc(self.code())}</pre>", **kwargs)

    def close(self) -> None:
        """Close every widget of the builder."""
        self._callbacks.clear()
        self.box.close()


def _chosen(dropdown: widgets.Dropdown) -> str:
    """The transform a row's dropdown shows (its options are transform names, so its value is never None)."""
    value = dropdown.value
    assert isinstance(value, str)
    return value
