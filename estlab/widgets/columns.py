"""``ColumnBuilder``: feature columns from a DataFrame, one row of choices per column.

Each frame column gets a row: its statistics, a transform, a size (buckets, embedding dimension) and, in
plain text beside them, why that default was picked. The rows live for the builder's life: changing the label
only hides the new label's row and shows the old one's, so every other choice stays. Wide frames get a
search box, a kind filter, a bulk "apply to the shown columns" and a scrolled list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab._util import frame_column
from estlab.features import FeatureColumn, FeatureTransformer, infer_columns
from estlab.features.infer import ColumnChoice
from estlab.widgets._code_block import CodeBlock
from estlab.widgets._html import esc, message
from estlab.widgets._recipes import (
    DEFAULT_SIZE,
    INT_CATEGORY_MAX,
    SIZE_MEANING,
    TRANSFORMS_BY_KIND,
    choice_of,
    column_kind,
    cross_column,
    embedding_dimension,
    hash_bucket_size,
    make_column,
    resize,
)

_TRANSFORM_LABELS = {
    "zscore": "numeric, z-score", "minmax": "numeric, min-max", "raw": "numeric, raw",
    "bucketized": "bucketized", "indicator": "one-hot", "embedding": "embedding",
    "hash_bucket": "hash buckets", "drop": "drop",
}
#: Labels that read better for one kind of column.
_KIND_LABELS = {
    ("boolean", "raw"): "0/1", ("boolean", "indicator"): "one-hot",
    ("datetime", "zscore"): "timestamp, z-score", ("datetime", "minmax"): "timestamp, min-max",
    ("datetime", "bucketized"): "time buckets",
    ("integer", "indicator"): "one-hot (codes)", ("integer", "embedding"): "embedding (codes)",
    ("integer", "hash_bucket"): "hash buckets (codes)",
}
KIND_FILTERS = (("all columns", "all"), ("numeric", "numeric"), ("integer", "integer"),
                ("categorical", "categorical"), ("boolean", "boolean"), ("date/time", "datetime"),
                ("kept", "kept"), ("dropped", "dropped"), ("changed by you", "changed"))
_MUTED = "color:var(--jp-ui-font-color2,#666)"
_SAFE_CLASS = re.compile(r"^[A-Za-z0-9_-]+$")


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


def transform_label(kind: str, transform: str) -> str:
    """What a row's dropdown says for ``transform`` on a column of ``kind``.

    Examples
    --------
    >>> transform_label("boolean", "raw"), transform_label("numeric", "raw")
    ('0/1', 'numeric, raw')
    """
    return _KIND_LABELS.get((kind, transform), _TRANSFORM_LABELS[transform])


@dataclass
class Default:
    """The pre-selected transform of one column, its sizes and the reason shown beside it."""

    transform: str
    sizes: dict[str, int]
    reason: str
    fill: float | None = None  # fills missing values of numeric transforms


def default_for(key: str, series: pd.Series, inferred: ColumnChoice) -> Default:
    """The lab's default for a column: ``infer_columns``' choice, adjusted per kind, sizes from the data.

    Integer columns with few distinct values are read as category codes (one-hot); booleans are 0/1;
    date/times are their timestamp, z-scored; hash buckets and embedding sizes follow the distinct count.

    Examples
    --------
    >>> from estlab.features import infer_columns
    >>> s = pd.Series([1, 2, 3, 4] * 5)
    >>> d = default_for("grade", s, infer_columns(pd.DataFrame({"grade": s})).choices[0])
    >>> d.transform, d.sizes["hash_bucket"], d.reason.split(";")[0]
    ('indicator', 16, 'integer with 4 distinct values -> read as category codes, one-hot')
    """
    kind = column_kind(series)
    distinct, missing = inferred.distinct, inferred.missing
    sizes = {"bucketized": DEFAULT_SIZE["bucketized"], "embedding": embedding_dimension(distinct),
             "hash_bucket": hash_bucket_size(distinct)}
    fill = None
    if missing and kind in ("numeric", "integer"):
        fill = float(series.dropna().median())
    elif missing and kind == "boolean":
        fill = 0.0
    transform, size = choice_of(inferred.column, key, getattr(inferred.column, "default_value", None))
    if size is not None:
        sizes[transform] = size
    reason = inferred.reason
    if not missing:  # no missing values: the fill value is not worth a mention
        reason = "; ".join(part for part in reason.split("; ") if not part.startswith("missing -> "))
    few = 3 <= distinct <= INT_CATEGORY_MAX and len(series) - missing >= 5 * distinct  # each code seen often
    if kind == "integer" and transform == "zscore" and few:
        transform = "indicator"
        reason = (f"integer with {distinct} distinct values -> read as category codes, one-hot; "
                  "pick z-score if their order matters")
    elif kind == "boolean" and transform == "raw":
        reason = "boolean -> 0/1" + ("; missing -> 0" if missing else "")
    elif kind == "datetime" and distinct > 1:
        duration = pd.api.types.is_timedelta64_dtype(series)
        if missing:
            transform, reason = "drop", (
                f"date/time with {missing:,} missing: fill them first (frame[{key!r}].fillna(...)), then use its "
                "timestamp")
        elif duration:
            transform, reason = "zscore", "duration -> z-scored"
        else:
            transform, reason = "zscore", (
                f"date/time -> elapsed time (its timestamp, z-scored); for date parts add columns to the frame, "
                f"e.g. frame['{key}_month'] = frame[{key!r}].dt.month")
    if transform not in TRANSFORMS_BY_KIND[kind]:
        transform = "drop"
    if transform == "hash_bucket":
        reason += f"; {sizes['hash_bucket']:,} buckets for {distinct:,} values (twice as many: few collisions)"
    return Default(transform, sizes, reason, fill)


@dataclass
class _Row:
    """One frame column's widgets and choices."""

    key: str
    kind: str
    default: Default
    stats: str
    dropdown: widgets.Dropdown
    size: widgets.BoundedIntText
    reason: widgets.HTML
    box: widgets.HBox
    sizes: dict[str, int] = field(default_factory=dict)


class ColumnBuilder:
    """Choose a transform per DataFrame column, add crosses, pick the label; get feature columns and code.

    Parameters
    ----------
    frame
        The training frame (statistics and the input width come from it).
    label
        The label column (a dropdown lets the user change it; the other columns' choices stay).
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
        self._rows: dict[str, _Row] = {}
        self._specs: dict[str, FeatureColumn | None] = {}  # the spec of every frame column (None: dropped)
        self._widths: dict[FeatureColumn, int] = {}  # dense width per spec, fitted once
        self._quiet = False  # set while several rows change at once (one update at the end)
        self._task = ""
        self._notes: list[tuple[str, str]] = []  # the notes shown for the last change
        self.label_picker = widgets.Dropdown(options=list(frame.columns), value=label, description="label",
                                             style={"description_width": "50px"})
        self.label_picker.add_class("estlab-label")
        self.task_html = widgets.HTML("")
        self.notice_html = widgets.HTML("")
        self.notice_html.add_class("estlab-columns-notice")
        self.search = widgets.Text(placeholder="name contains…", description="find", continuous_update=True,
                                   style={"description_width": "40px"}, layout=widgets.Layout(width="220px"))
        self.search.add_class("estlab-column-search")
        self.kind_filter = widgets.Dropdown(options=KIND_FILTERS, value="all", description="show",
                                            style={"description_width": "40px"}, layout=widgets.Layout(width="210px"))
        self.kind_filter.add_class("estlab-column-kind")
        self.bulk_transform = widgets.Dropdown(options=[(_TRANSFORM_LABELS[t], t) for t in _TRANSFORM_LABELS],
                                               value="zscore", description="set to",
                                               style={"description_width": "45px"},
                                               layout=widgets.Layout(width="220px"))
        self.bulk_transform.add_class("estlab-bulk-transform")
        self.bulk_button = widgets.Button(description="Apply to shown", icon="check",
                                          tooltip="Set this transform on every shown column it applies to",
                                          layout=widgets.Layout(width="auto"))
        self.bulk_button.add_class("estlab-bulk-apply")
        self.shown_html = widgets.HTML("")
        self.shown_html.add_class("estlab-shown")
        self.rows_box = widgets.VBox([], layout=widgets.Layout(max_height="460px", overflow="hidden auto",
                                                                 width="100%"))
        self.rows_box.add_class("estlab-columns")
        self.width_html = widgets.HTML("")
        self.width_html.add_class("estlab-width")
        self.cross_select = widgets.SelectMultiple(options=[], rows=5, description="cross",
                                                   style={"description_width": "50px"},
                                                   layout=widgets.Layout(width="280px"))
        self.cross_select.add_class("estlab-cross-select")
        self.cross_size = widgets.BoundedIntText(value=1000, min=2, max=10_000_000, description="buckets",
                                                 layout=widgets.Layout(width="180px"))
        self.add_cross_button = widgets.Button(description="Add cross", icon="plus")
        self.add_cross_button.add_class("estlab-add-cross")
        self.clear_cross_button = widgets.Button(description="Remove all crosses")
        cross_hint = widgets.HTML(
            f'<div style="{_MUTED};font-size:12px;max-width:320px;line-height:1.35">Pick two or more columns '
            "(Ctrl/⌘-click or Shift-click), set the buckets (sized to the combinations seen), then "
            "<b>Add cross</b>. A cross hashes the value combinations; bucketize numeric columns first.</div>")
        self.crosses_box = widgets.VBox([])
        self.crosses_box.add_class("estlab-crosses")
        self.code_toggle = widgets.ToggleButton(value=False, description="Show code", icon="code",
                                                tooltip="Show the Python that builds these columns")
        self.code_toggle.add_class("estlab-show-code")
        self.code_block = CodeBlock(note="copy it into a cell, or run .insert_code() on the builder "
                                         "(lab.columns.insert_code()) to put it in the next cell")
        self.code_block.add_class("estlab-code")
        self.code_block.layout.display = "none"
        self.error_html = widgets.HTML("")
        header = widgets.HBox([widgets.HTML(f"<b>{text}</b>", layout=widgets.Layout(flex=flex))
                               for text, flex in (("column", "0 0 150px"),
                                                  ("dtype · distinct · missing · examples, and why this default",
                                                   "1 1 300px"),
                                                  ("transform · size", "0 0 294px"))],
                              layout=widgets.Layout(border_bottom="1px solid var(--jp-border-color1,#bbb)",
                                                    width="100%"))
        header.add_class("estlab-columns-header")
        filters = widgets.HBox([self.search, self.kind_filter, self.bulk_transform, self.bulk_button,
                                self.shown_html], layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        crosses = widgets.HBox([self.cross_select,
                                widgets.VBox([self.cross_size, self.add_cross_button, self.clear_cross_button]),
                                widgets.VBox([cross_hint, self.crosses_box])],
                               layout=widgets.Layout(flex_flow="row wrap", margin="6px 0 0 0"))
        self.box = widgets.VBox([widgets.HBox([self.label_picker, self.task_html],
                                              layout=widgets.Layout(align_items="center")),
                                 self.notice_html, filters, header, self.rows_box,
                                 widgets.HTML("<b>Crosses</b>"), crosses, self.width_html, self.error_html,
                                 self.code_toggle, self.code_block])
        self.box.add_class("estlab-column-builder")
        self._build_rows()
        self._task = self.task
        self.label_picker.observe(self._on_label, names="value")
        self.search.observe(lambda _c: self._show_rows(), names="value")
        self.kind_filter.observe(lambda _c: self._show_rows(), names="value")
        self.bulk_button.on_click(self._on_bulk)
        self.cross_select.observe(self._on_cross_pick, names="value")
        self.add_cross_button.on_click(self._on_add_cross)
        self.clear_cross_button.on_click(self._on_clear_crosses)
        self.code_toggle.observe(self._on_code_toggle, names="value")
        self._show_rows()
        self._changed()

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
        return {key: spec for key, spec in self._specs.items() if key != self.label}

    def transforms(self) -> dict[str, str]:
        """The transform chosen for every non-label frame column, in frame order."""
        return {key: _chosen(row.dropdown) for key, row in self._rows.items() if key != self.label}

    def reasons(self) -> dict[str, str]:
        """Why each non-label column got its default (what the rows show beside the choice)."""
        return {key: row.default.reason for key, row in self._rows.items() if key != self.label}

    def kinds(self) -> dict[str, str]:
        """The kind of every non-label column (``numeric``, ``integer``, ``boolean``, ``datetime``, ``categorical``)."""
        return {key: row.kind for key, row in self._rows.items() if key != self.label}

    def options(self, key: str) -> tuple[str, ...]:
        """The transforms column ``key`` offers."""
        return TRANSFORMS_BY_KIND[self._row(key).kind]

    def set_transform(self, key: str, transform: str, size: int | None = None) -> None:
        """Choose ``transform`` (and its size) for column ``key``, as the row's dropdown does."""
        row = self._row(key)
        valid = list(TRANSFORMS_BY_KIND[row.kind])
        if transform not in valid:
            raise ValueError(f"transform: {transform!r} is not valid for column {key!r} ({row.kind}); "
                             f"valid ones are {valid}")
        if size is not None:
            if transform not in SIZE_MEANING:
                raise ValueError(f"size: {transform!r} takes no size (column {key!r}); pass size=None")
            if not 2 <= int(size) <= 1_000_000:
                raise ValueError(f"size: must be between 2 and 1,000,000 for column {key!r}, got {size}")
            row.sizes[transform] = int(size)
        self._quiet = True
        try:
            row.dropdown.value = transform
        finally:
            self._quiet = False
        self._apply(row)
        self._changed()

    def bulk_set(self, transform: str, keys: Iterable[str] | None = None,
                 size: int | None = None) -> tuple[list[str], list[str]]:
        """Set ``transform`` on ``keys`` (default: the rows shown); returns ``(changed, skipped)`` keys.

        Columns that do not offer ``transform`` (one-hot on a float, z-score on a string) are skipped.

        Examples
        --------
        >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 7.0], "c": ["x", "y", "x"]})
        >>> ColumnBuilder(frame).bulk_set("minmax")
        (['a', 'b'], ['c'])
        """
        if transform not in _TRANSFORM_LABELS:
            raise ValueError(f"transform: unknown {transform!r}; valid ones are {list(_TRANSFORM_LABELS)}")
        targets = self.visible_keys() if keys is None else list(keys)
        for key in targets:
            self._row(key)
        changed, skipped = [], []
        self._quiet = True
        try:
            with self.box.hold_sync():
                for key in targets:
                    row = self._rows[key]
                    if transform not in TRANSFORMS_BY_KIND[row.kind] or key == self.label:
                        skipped.append(key)
                        continue
                    if size is not None and transform in SIZE_MEANING:
                        row.sizes[transform] = int(size)
                    row.dropdown.value = transform
                    self._apply(row)
                    changed.append(key)
        finally:
            self._quiet = False
        self._changed()
        return changed, skipped

    def visible_keys(self) -> list[str]:
        """The non-label columns the search box and the kind filter let through, in frame order."""
        text = self.search.value.strip().lower()
        kind = self.kind_filter.value
        out = []
        for key, row in self._rows.items():
            if key == self.label or (text and text not in key.lower()):
                continue
            chosen = _chosen(row.dropdown)
            if kind == "all" or kind == row.kind or (kind == "kept" and chosen != "drop") \
                    or (kind == "dropped" and chosen == "drop") \
                    or (kind == "changed" and chosen != row.default.transform):
                out.append(key)
        return out

    def add_cross(self, keys: list[str] | tuple[str, ...], hash_bucket_size: int = 1000) -> None:
        """Cross two or more columns into ``hash_bucket_size`` buckets."""
        keys = tuple(keys)
        unknown = [k for k in keys if k not in self._rows or k == self.label]
        if len(keys) < 2 or unknown:
            raise ValueError(f"keys: a cross needs two or more feature columns; got {list(keys)}"
                             + (f" ({unknown} not feature columns)" if unknown else ""))
        if hash_bucket_size < 2:
            raise ValueError(f"hash_bucket_size: must be at least 2, got {hash_bucket_size}")
        if any(existing == keys for existing, _ in self.crosses):
            raise ValueError(f"keys: the cross {' × '.join(keys)} exists already; remove it first to resize it")
        self.crosses.append((keys, int(hash_bucket_size)))
        self._show_crosses()
        self._changed()

    def remove_cross(self, index: int) -> None:
        """Remove the ``index``-th cross (as its row's remove button)."""
        if not 0 <= index < len(self.crosses):
            raise ValueError(f"index: no cross {index}; there are {len(self.crosses)}")
        del self.crosses[index]
        self._show_crosses()
        self._changed()

    @property
    def feature_columns(self) -> list[FeatureColumn]:
        """Dense feature columns (numeric, bucketized, one-hot, embeddings, crosses as one-hot)."""
        columns = [c for c in self.columns.values() if c is not None]
        return columns + [cross_column(keys, size, dense=True) for keys, size in self.crosses]

    @property
    def linear_columns(self) -> list[FeatureColumn]:
        """Columns for linear models and the wide part: categorical columns themselves, raw crosses."""
        columns = [c.leaf for c in self.columns.values() if c is not None]
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
        kept = sum(c is not None for c in self.columns.values())
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

    def insert_code(self) -> None:
        """Put :meth:`code` into a new cell below the running one (call it from a notebook cell)."""
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError("insert_code: no IPython shell is running; print(builder.code()) instead")
        shell.set_next_input(self.code(), replace=False)

    def notice(self, text: str, level: str = "info") -> None:
        """Show ``text`` above the rows, under the notes of the same change (``""`` clears them)."""
        self._notes = [*self._notes, (text, level)] if text else []
        self.notice_html.value = "".join(message(t, lvl) for t, lvl in self._notes)

    def on_change(self, callback: Callable[[ColumnBuilder], None]) -> None:
        """Call ``callback(builder)`` whenever a choice or the label changes."""
        self._callbacks.append(callback)

    # ---- widgets -----------------------------------------------------------------------------
    def _row(self, key: str) -> _Row:
        if key not in self._rows or key == self.label:
            raise ValueError(f"key: {key!r} is not a feature column here; columns: {list(self.transforms())}")
        return self._rows[key]

    def _build_rows(self) -> None:
        inferred = {c.key: c for c in infer_columns(self.frame, label=None,
                                                    max_indicator_cardinality=self.max_indicator_cardinality).choices}
        for key in self.frame.columns:
            key = str(key)
            series = frame_column(self.frame, key)
            default = default_for(key, series, inferred[key])
            kind = column_kind(series)
            spec = make_column(default.transform, key, default.sizes.get(default.transform), default.fill)
            if spec is not None:
                try:
                    self._width(spec)
                except Exception as exc:  # the feature columns cannot encode it: say so, keep the data check
                    default = Default("drop", default.sizes,
                                      f"cannot be encoded as {_TRANSFORM_LABELS[default.transform]}: "
                                      f"{type(exc).__name__}: {exc}", default.fill)
                    spec = None
            self._specs[key] = spec
            options = [(transform_label(kind, t), t) for t in TRANSFORMS_BY_KIND[kind]]
            dropdown = widgets.Dropdown(options=options, value=default.transform,
                                        layout=widgets.Layout(width="165px", flex="0 0 auto"))
            dropdown.add_class("estlab-transform")
            size = widgets.BoundedIntText(value=default.sizes.get(default.transform, 10), min=2, max=1_000_000,
                                          description="size", style={"description_width": "52px"},
                                          layout=widgets.Layout(width="125px", flex="0 0 auto"))
            size.add_class("estlab-size")
            reason = widgets.HTML("")
            reason.add_class("estlab-reason")
            stats = _stats_html(series, inferred[key].distinct, inferred[key].missing)
            name = widgets.HTML(f'<b title="{esc(key)}" style="overflow-wrap:anywhere">{esc(key)}</b>',
                                layout=widgets.Layout(width="150px", flex="0 0 auto"))
            info = widgets.VBox([widgets.HTML(stats), reason], layout=widgets.Layout(flex="1 1 300px"))
            # the reason sits under the statistics, beside the choice; rows never shrink (the list scrolls)
            box = widgets.HBox([name, info, dropdown, size],
                               layout=widgets.Layout(align_items="center", width="100%", flex="0 0 auto",
                                                     border_bottom="1px solid var(--jp-border-color3,#eee)"))
            box.add_class("estlab-column-row")
            if _SAFE_CLASS.match(key):
                dropdown.add_class(f"estlab-transform-{key}")
                box.add_class(f"estlab-row-{key}")
            row = _Row(key, kind, default, stats, dropdown, size, reason, box, sizes=dict(default.sizes))
            self._rows[key] = row
            self._show_row_state(row)
            dropdown.observe(lambda _change, key=key: self._on_transform(key), names="value")
            size.observe(lambda _change, key=key: self._on_size(key), names="value")
        self._cross_options()

    def _cross_options(self) -> None:
        keys = [k for k in self._rows if k != self.label]
        categorical = [k for k in keys if self._rows[k].kind in ("categorical", "boolean", "integer")]
        self.cross_select.options = categorical + [k for k in keys if k not in categorical]

    def _show_rows(self) -> None:
        keys = self.visible_keys()
        total = len(self._rows) - (self.label is not None)
        with self.box.hold_sync():
            self.rows_box.children = [self._rows[k].box for k in keys]
            self.shown_html.value = (f'<span style="{_MUTED}">showing {len(keys):,} of {total:,} columns</span>'
                                     if len(keys) != total else f'<span style="{_MUTED}">{total:,} columns</span>')

    def _show_row_state(self, row: _Row) -> None:
        """The row's size box and reason after its transform changed."""
        transform = _chosen(row.dropdown)
        row.size.layout.visibility = "visible" if transform in SIZE_MEANING else "hidden"
        row.size.description = SIZE_MEANING.get(transform, "size")
        if transform in SIZE_MEANING and row.size.value != row.sizes.get(transform, row.size.value):
            row.size.value = row.sizes[transform]
        default = row.default
        if transform == default.transform:
            text = esc(default.reason)
        else:
            text = (f"<b>your choice</b> · default {esc(transform_label(row.kind, default.transform))}: "
                    f"{esc(default.reason)}")
        row.reason.value = (f'<div style="{_MUTED};font-size:11.5px;line-height:1.3;padding:0 0 3px">'
                            f"{'' if transform != default.transform else 'why: '}{text}</div>")

    def _apply(self, row: _Row) -> None:
        """Make the row's spec from its dropdown and size."""
        transform = _chosen(row.dropdown)
        self._specs[row.key] = make_column(transform, row.key, row.sizes.get(transform), row.default.fill)
        self._show_row_state(row)

    def _on_transform(self, key: str) -> None:
        if self._quiet:
            return
        self._apply(self._rows[key])
        self._changed()

    def _on_size(self, key: str) -> None:
        if self._quiet:
            return
        row = self._rows[key]
        transform = _chosen(row.dropdown)
        if transform not in SIZE_MEANING or row.sizes.get(transform) == row.size.value:
            return
        row.sizes[transform] = int(row.size.value)
        self._specs[key] = resize(self._specs[key], transform, row.size.value)
        self._changed()

    def _changed(self) -> None:
        task = self.task
        if self.label:
            self.task_html.value = f'<span style="{_MUTED}">task: <b>{esc(task)}</b></span>'
        else:
            self.task_html.value = message("pick the label column", "warning")
        try:
            width = self.input_width()
            self.width_html.value = (f"<b>input width: {width:,}</b> "
                                     f"({len(self.feature_columns):,} feature columns)")
            self.error_html.value = ""
        except Exception as exc:  # show the feature library's own message
            self.error_html.value = message(f"{type(exc).__name__}: {exc}", "error")
        if self.code_toggle.value:
            self.code_block.code = self.code()
        for callback in self._callbacks:
            callback(self)

    def _on_label(self, change: Any) -> None:
        old, new = change["old"], change["new"]
        notes = []
        dropped = [keys for keys, _ in self.crosses if new in keys]
        if dropped:
            self.crosses = [(keys, size) for keys, size in self.crosses if new not in keys]
            notes.append("removed the cross(es) " + ", ".join(" × ".join(k) for k in dropped)
                         + f": {new!r} is the label now")
        if old is not None:
            row = self._rows[old]
            notes.append(f"{old!r} is a feature again ({transform_label(row.kind, _chosen(row.dropdown))})")
        task = self.task
        if self._task and task != self._task:
            notes.append(f"the task changed from {self._task} to {task}")
        self._task = task
        self._notes = []
        with self.box.hold_sync():
            self._cross_options()
            self._show_rows()
            self._show_crosses()
            self.notice(f"label is now {new!r}; every other column keeps its choices" + "".join(
                f"; {n}" for n in notes) if new is not None else "", "info")
        self._changed()

    def _on_bulk(self, _button: Any = None) -> None:
        transform = str(self.bulk_transform.value)
        changed, skipped = self.bulk_set(transform)
        self._notes = []
        text = f"{transform_label('numeric', transform)}: set on {len(changed):,} column(s)"
        if skipped:
            text += f"; {len(skipped):,} skipped (it does not apply to them: {_some(skipped)})"
        self.notice(text, "info" if changed else "warning")

    def _on_cross_pick(self, _change: Any) -> None:
        keys = self.cross_select.value
        if len(keys) >= 2:
            combos = 1
            for key in keys:
                combos = min(combos * max(int(frame_column(self.frame, key).nunique()), 1), 1 << 20)
            self.cross_size.value = hash_bucket_size(combos)

    def _on_add_cross(self, _button: Any = None) -> None:
        try:
            self.add_cross(self.cross_select.value, self.cross_size.value)
            self.error_html.value = ""
        except ValueError as exc:
            self.error_html.value = message(str(exc), "error")

    def _on_clear_crosses(self, _button: Any = None) -> None:
        self.crosses = []
        self._show_crosses()
        self._changed()

    def _show_crosses(self) -> None:
        for child in self.crosses_box.children:
            child.close()
        items = []
        for i, (keys, size) in enumerate(self.crosses):
            remove = widgets.Button(description="remove", icon="times", tooltip="Remove this cross",
                                    layout=widgets.Layout(width="auto"))
            remove.add_class("estlab-remove-cross")
            remove.on_click(lambda _b, i=i: self.remove_cross(i))
            text = widgets.HTML(f"<code>{esc(' × '.join(keys))}</code> ({size:,} buckets)")
            items.append(widgets.HBox([text, remove], layout=widgets.Layout(align_items="center")))
        if not items:
            items = [widgets.HTML(f'<i style="{_MUTED}">no crosses</i>')]
        self.crosses_box.children = items

    def _on_code_toggle(self, change: Any) -> None:
        shown = bool(change["new"])
        with self.box.hold_sync():
            if shown:
                self.code_block.code = self.code()
            self.code_block.layout.display = None if shown else "none"
            self.code_toggle.description = "Hide code" if shown else "Show code"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        from estlab.widgets._html import with_fallback

        return with_fallback(self.box, f"<pre>{esc(self.code())}</pre>", **kwargs)

    def close(self) -> None:
        """Close every widget of the builder."""
        self._callbacks.clear()
        self.box.close()


def _stats_html(series: pd.Series, distinct: int, missing: int) -> str:
    """dtype · distinct · missing share · examples (the commonest values; the first ones of a float column)."""
    if pd.api.types.is_float_dtype(series):
        values = series.dropna().iloc[:3].tolist()
    else:
        values = series.value_counts().index[:3].tolist()
    examples = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
    examples = examples if len(examples) <= 40 else examples[:39] + "…"
    return (f'<div style="font-size:12px;line-height:1.3;padding:3px 0"><code>{esc(series.dtype)}</code> · '
            f"{distinct:,} distinct · {missing / max(len(series), 1):.1%} missing · "
            f'<span style="{_MUTED}">{esc(examples)}</span></div>')


def _some(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n:,} more" if len(keys) > n else "")


def _chosen(dropdown: widgets.Dropdown) -> str:
    """The transform a row's dropdown shows (its options are transform names, so its value is never None)."""
    value = dropdown.value
    assert isinstance(value, str)
    return value
