"""ColumnBuilder: inferred choices, transforms, crosses, label, width, and code that rebuilds the same columns."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.widgets.columns import ColumnBuilder, infer_task


@pytest.fixture
def builder(tiny_frame):
    return ColumnBuilder(tiny_frame, label="label")


def test_rows_show_stats_and_preselect_inferred_kinds(builder):
    assert list(builder.transforms()) == ["age", "hours", "color", "city", "user_id"]
    assert builder.transforms() == {
        "age": "zscore", "hours": "zscore", "color": "indicator", "city": "drop", "user_id": "drop"}
    age_stats = builder.rows_box.children[0].children[1].value
    assert "float64" in age_stats and "7 distinct" in age_stats and "12.5% missing" in age_stats
    assert builder.columns["age"].default_value == 38.0  # median fills the missing age
    assert builder.task == "classification"


def test_feature_columns_follow_the_choices(builder):
    builder.set_transform("age", "bucketized", 3)
    builder.set_transform("hours", "minmax")
    builder.set_transform("color", "embedding", 4)
    builder.add_cross(["color", "city"], hash_bucket_size=10)
    expected = [
        fc.bucketized_column(fc.numeric_column("age", default_value=38.0), "quantiles:3"),
        fc.numeric_column("hours", normalizer="minmax"),
        fc.embedding_column(fc.categorical_column_with_learned_vocabulary("color"), dimension=4),
        fc.indicator_column(fc.crossed_column(["color", "city"], hash_bucket_size=10)),
    ]
    assert [c.name for c in builder.feature_columns] == [c.name for c in expected]
    assert [type(c) for c in builder.feature_columns] == [type(c) for c in expected]
    assert builder.feature_columns[2].dimension == 4
    assert [c.name for c in builder.linear_columns] == ["age_bucketized", "hours", "color", "city_X_color"]
    # width: 3 quantile buckets (+1 for TF's outer bucket, whatever the transformer learns), 1, 4, 10
    from estlab.features import FeatureTransformer

    assert builder.input_width() == FeatureTransformer(builder.feature_columns).fit(builder.frame).dense_width()
    assert "input width: " + str(builder.input_width()) in builder.width_html.value


def test_code_rebuilds_exactly_the_same_columns(builder):
    builder.set_transform("age", "bucketized", 4)
    builder.set_transform("color", "hash_bucket", 16)
    builder.add_cross(["color", "city"], 50)
    namespace: dict = {}
    exec(builder.code(), namespace)
    assert namespace["feature_columns"] == builder.feature_columns
    assert namespace["linear_feature_columns"] == builder.linear_columns
    assert namespace["label"] == "label"


def test_widgets_drive_the_same_state(builder):
    dropdown, size = builder._rows["hours"]
    dropdown.value = "bucketized"
    size.value = 5
    assert builder.transforms()["hours"] == "bucketized"
    assert builder.columns["hours"] == fc.bucketized_column(fc.numeric_column("hours"), "quantiles:5")
    assert size.layout.visibility == "visible" and size.description == "buckets"
    builder.cross_select.value = ("color", "city")
    builder.add_cross_button.click()
    assert builder.crosses == [(("color", "city"), 1000)]
    builder.code_button.click()
    assert "fc.crossed_column([&#x27;color&#x27;, &#x27;city&#x27;]" in builder.code_html.value


def test_changing_the_label_rebuilds_rows_and_task(tiny_frame):
    seen = []
    frame = tiny_frame.assign(price=[1.5, 2.25, 3.0, 0.5, 9.75, 4.0, 2.5, 8.125])
    builder = ColumnBuilder(frame, label="label")
    builder.on_change(lambda b: seen.append(b.label))
    builder.label_picker.value = "price"
    assert "price" not in builder.transforms()
    assert "label" in builder.transforms()
    assert builder.task == "regression" and seen[-1] == "price"


def test_errors_name_the_column_and_the_fix(builder):
    with pytest.raises(ValueError, match="transform: 'embedding' is not valid for column 'age'"):
        builder.set_transform("age", "embedding")
    with pytest.raises(ValueError, match="key: 'nope' is not a feature column here"):
        builder.set_transform("nope", "raw")
    with pytest.raises(ValueError, match=r"keys: a cross needs two or more feature columns; got \['color'\]"):
        builder.add_cross(["color"])
    builder.cross_select.value = ("color",)
    builder.add_cross_button.click()
    assert "a cross needs two or more" in builder.error_html.value
    with pytest.raises(ValueError, match="label: 'y' is not a column"):
        ColumnBuilder(pd.DataFrame({"x": [1.0]}), label="y")


def test_infer_task():
    assert infer_task(pd.Series([0, 1, 1])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"
    assert infer_task(pd.Series([0.5, 1.25, 3.0])) == "regression"
    assert infer_task(pd.Series(range(100))) == "regression"


def test_the_builder_holds_the_column_specs_themselves(builder):
    assert builder.columns == {
        "age": fc.numeric_column("age", default_value=38.0, normalizer="zscore"),
        "hours": fc.numeric_column("hours", normalizer="zscore"),
        "color": fc.indicator_column(fc.categorical_column_with_learned_vocabulary("color")),
        "city": None,
        "user_id": None,
    }
    builder.set_transform("color", "embedding", 6)
    builder.set_transform("color", "embedding", 3)  # a new size replaces only the dimension
    assert builder.columns["color"] == fc.embedding_column(fc.categorical_column_with_learned_vocabulary("color"), 3)
    builder.set_transform("age", "bucketized", 4)  # the missing-value default carries over
    assert builder.columns["age"] == fc.bucketized_column(fc.numeric_column("age", default_value=38.0), "quantiles:4")
    builder.set_transform("age", "drop")
    assert builder.columns["age"] is None and "age" not in [c.name for c in builder.feature_columns]


def _counting_frame(frame: pd.DataFrame, reads: list) -> pd.DataFrame:
    class CountingFrame(pd.DataFrame):
        @property
        def _constructor(self):
            return CountingFrame

        def __getitem__(self, key):
            reads.append(key)
            return super().__getitem__(key)

    return CountingFrame(frame)


def test_columns_are_fitted_once_per_spec_not_on_every_access(tiny_frame):
    reads: list = []
    builder = ColumnBuilder(_counting_frame(tiny_frame, reads), label="label")
    reads.clear()
    for _ in range(3):
        assert len(builder.feature_columns) == 3 and len(builder.linear_columns) == 3
        builder.input_width()
        builder.code()
        builder.describe()
    assert reads == []
    builder.set_transform("hours", "minmax")  # refits the changed column only (the label feeds the task line)
    assert set(reads) == {"hours", "label"}
    reads.clear()
    builder.set_transform("hours", "zscore")  # back to a spec fitted before: nothing to refit
    assert set(reads) == {"label"}


def test_the_builder_works_with_torch_blocked():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None
        import pandas as pd
        from estlab.widgets.columns import ColumnBuilder
        frame = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "color": ["a", "b", "a", "c"], "y": [0, 1, 0, 1]})
        builder = ColumnBuilder(frame, label="y")
        builder.set_transform("age", "bucketized", 3)
        builder.add_cross(["age", "color"], 10)
        print(builder.input_width(), repr(builder.error_html.value))
        print(builder.code().splitlines()[3])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["17 ''", "    fc.bucketized_column(fc.numeric_column('age'), 'quantiles:3'),"]
