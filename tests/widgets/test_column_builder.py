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
    age_stats = builder.rows_box.children[0].children[1].children[0].value
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
    row = builder._rows["hours"]
    row.dropdown.value = "bucketized"
    row.size.value = 5
    assert builder.transforms()["hours"] == "bucketized"
    assert builder.columns["hours"] == fc.bucketized_column(fc.numeric_column("hours"), "quantiles:5")
    assert row.size.layout.visibility == "visible" and row.size.description == "buckets"
    builder.cross_select.value = ("color", "city")
    builder.add_cross_button.click()
    assert builder.crosses == [(("color", "city"), 64)]  # 3 colours x 8 cities = 24 combinations -> 64 buckets
    assert builder.code_block.layout.display == "none"
    builder.code_toggle.value = True
    assert "fc.crossed_column(['color', 'city'], hash_bucket_size=64)" in builder.code_block.code
    assert builder.code_block.layout.display is None and builder.code_toggle.description == "Hide code"
    builder.set_transform("age", "minmax")  # the shown code follows the choices
    assert "fc.numeric_column('age', default_value=38.0, normalizer='minmax')" in builder.code_block.code
    builder.code_toggle.value = False
    assert builder.code_block.layout.display == "none" and builder.code_toggle.description == "Show code"


def test_changing_the_label_keeps_every_other_choice(tiny_frame):
    seen = []
    frame = tiny_frame.assign(price=[1.5, 2.25, 3.0, 0.5, 9.75, 4.0, 2.5, 8.125])
    builder = ColumnBuilder(frame, label="label")
    builder.on_change(lambda b: seen.append(b.label))
    builder.set_transform("age", "bucketized", 4)
    builder.set_transform("color", "embedding", 3)
    builder.set_transform("hours", "minmax")
    builder.add_cross(["color", "city"], 50)
    builder.label_picker.value = "price"
    assert builder.transforms() == {"age": "bucketized", "hours": "minmax", "color": "embedding", "city": "drop",
                                    "user_id": "drop", "label": "zscore"}
    assert builder.columns["age"] == fc.bucketized_column(fc.numeric_column("age", default_value=38.0), "quantiles:4")
    assert builder.columns["color"].dimension == 3
    assert builder.crosses == [(("color", "city"), 50)]
    assert builder.task == "regression" and seen[-1] == "price"
    notice = builder.notice_html.value
    assert "every other column keeps its choices" in notice
    assert "the task changed from classification to regression" in notice
    builder.label_picker.value = "color"  # a cross of the new label goes, with a note
    assert builder.crosses == []
    assert "removed the cross(es) color × city: &#x27;color&#x27; is the label now" in builder.notice_html.value
    assert builder.transforms()["price"] == "zscore" and builder.transforms()["age"] == "bucketized"
    with pytest.raises(ValueError, match="key: 'color' is not a feature column here"):
        builder.set_transform("color", "indicator")


def test_booleans_are_kept_as_0_1(tiny_frame):
    frame = tiny_frame.assign(member=[True, False, True, True, False, False, True, False],
                              vip=pd.array([True, None, False, True, False, None, True, False], dtype="boolean"))
    builder = ColumnBuilder(frame, label="label")
    assert builder.transforms()["member"] == "raw" and builder.transforms()["vip"] == "raw"
    assert builder.options("vip") == ("raw", "indicator", "drop")
    assert builder.columns["member"] == fc.numeric_column("member")
    assert builder.columns["vip"] == fc.numeric_column("vip", default_value=0.0)
    assert builder.reasons()["vip"] == "boolean -> 0/1; missing -> 0"
    from estlab.features import FeatureTransformer

    encoded = FeatureTransformer([builder.columns["vip"]]).fit(frame).transform(frame)["vip"]
    assert encoded.flatten().tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    builder.set_transform("vip", "indicator")
    assert builder.columns["vip"] == fc.indicator_column(fc.categorical_column_with_learned_vocabulary("vip"))
    assert "0/1" in [label for label, _ in builder._rows["vip"].dropdown.options]


def test_integer_codes_default_to_one_hot_and_can_be_embedded():
    frame = pd.DataFrame({"grade": [1, 2, 3, 4] * 10, "count": list(range(40)), "x": [0.5, 1.5] * 20,
                          "y": [0, 1] * 20})
    builder = ColumnBuilder(frame, label="y")
    assert builder.kinds() == {"grade": "integer", "count": "integer", "x": "numeric"}
    assert builder.transforms()["grade"] == "indicator"
    assert builder.reasons()["grade"] == ("integer with 4 distinct values -> read as category codes, one-hot; "
                                          "pick z-score if their order matters")
    assert "integer with 4 distinct values" in builder._rows["grade"].reason.value  # inline, not a tooltip
    assert builder.options("grade") == ("zscore", "minmax", "raw", "bucketized", "indicator", "embedding",
                                        "hash_bucket", "drop")
    builder.set_transform("grade", "embedding")
    assert builder.columns["grade"] == fc.embedding_column(fc.categorical_column_with_learned_vocabulary("grade"), 3)
    assert "<b>your choice</b> · default one-hot (codes)" in builder._rows["grade"].reason.value
    builder.set_transform("grade", "zscore")
    assert builder.columns["grade"] == fc.numeric_column("grade", normalizer="zscore")
    assert builder.transforms()["count"] == "drop"  # unique per row: an ID


def test_datetimes_offer_their_timestamp():
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=30, freq="7h"),
                          "gap": pd.to_datetime(["2024-01-01", None, "2024-02-01"] * 10), "y": [0.5, 1.5, 2.0] * 10})
    builder = ColumnBuilder(frame, label="y")
    assert builder.options("when") == ("zscore", "minmax", "bucketized", "drop")
    assert builder.transforms() == {"when": "zscore", "gap": "drop"}
    assert builder.reasons()["when"] == ("date/time -> elapsed time (its timestamp, z-scored); for date parts add "
                                         "columns to the frame, e.g. frame['when_month'] = frame['when'].dt.month")
    assert builder.reasons()["gap"].startswith("date/time with 10 missing: fill them first")
    builder.set_transform("when", "bucketized", 4)
    assert builder.input_width() == 4
    assert [label for label, _ in builder._rows["when"].dropdown.options] == [
        "timestamp, z-score", "timestamp, min-max", "time buckets", "drop"]


def test_sizes_default_to_the_data():
    frame = pd.DataFrame({"zip": [f"z{i % 300}" for i in range(1000)], "y": [0, 1] * 500})
    builder = ColumnBuilder(frame, label="y")
    assert builder.transforms()["zip"] == "embedding"
    assert builder.columns["zip"].dimension == 39  # round(1.6 * 300 ** 0.56)
    builder.set_transform("zip", "hash_bucket")
    assert builder.columns["zip"].leaf.hash_bucket_size == 1024  # twice the 300 values, to a power of two
    assert builder._rows["zip"].size.value == 1024 and builder._rows["zip"].size.description == "buckets"
    builder.set_transform("zip", "embedding")  # each transform keeps its own size
    assert builder.columns["zip"].dimension == 39


def test_crosses_are_removed_one_by_one(builder):
    builder.add_cross(["color", "city"], 10)
    builder.add_cross(["color", "hours"], 20)
    removes = [row.children[1] for row in builder.crosses_box.children]
    assert [b.description for b in removes] == ["remove", "remove"]
    removes[0].click()
    assert builder.crosses == [(("color", "hours"), 20)]
    assert "color × hours" in builder.crosses_box.children[0].children[0].value
    with pytest.raises(ValueError, match="keys: the cross color × hours exists already"):
        builder.add_cross(["color", "hours"], 30)
    builder.crosses_box.children[0].children[1].click()
    assert builder.crosses == [] and "no crosses" in builder.crosses_box.children[0].value


def test_a_wide_frame_is_searchable_and_bulk_editable():
    import numpy as np

    rng = np.random.default_rng(0)
    data = {f"num_{i}": rng.normal(size=200) for i in range(100)}
    data.update({f"cat_{i}": rng.choice(["a", "b", "c"], size=200) for i in range(20)})
    data["y"] = rng.integers(0, 2, size=200)
    builder = ColumnBuilder(pd.DataFrame(data), label="y")
    assert len(builder.rows_box.children) == 120
    assert builder.rows_box.layout.max_height == "460px"  # a scrolled box, not a 7,000 px tab
    assert "120 columns" in builder.shown_html.value
    builder.search.value = "num_1"
    assert builder.visible_keys() == ["num_1"] + [f"num_{i}" for i in range(10, 20)]
    assert len(builder.rows_box.children) == 11 and "showing 11 of 120 columns" in builder.shown_html.value
    builder.search.value = ""
    builder.kind_filter.value = "categorical"
    assert builder.visible_keys() == [f"cat_{i}" for i in range(20)]
    builder.kind_filter.value = "all"
    builder.bulk_transform.value = "minmax"
    builder.bulk_button.click()  # every shown column it applies to: the 100 numeric ones
    transforms = builder.transforms()
    assert [transforms[f"num_{i}"] for i in range(100)] == ["minmax"] * 100
    assert [transforms[f"cat_{i}"] for i in range(20)] == ["indicator"] * 20
    assert "set on 100 column(s); 20 skipped" in builder.notice_html.value
    builder.kind_filter.value = "changed"
    assert len(builder.visible_keys()) == 100
    assert builder.input_width() == 100 + 20 * 4  # one-hot: 3 values and the unknown slot


def test_insert_code_needs_a_notebook(builder):
    with pytest.raises(RuntimeError, match=r"insert_code: no IPython shell is running; print\(builder.code\(\)\)"):
        builder.insert_code()


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


def test_a_task_change_says_the_queue_was_emptied(tiny_frame, tmp_path):
    from estlab.widgets import Lab

    frame = tiny_frame.assign(price=[1.5, 2.25, 3.0, 0.5, 9.75, 4.0, 2.5, 8.125])
    lab = Lab(frame, frame, label="label", experiment=str(tmp_path), executor="thread")
    try:
        lab.queue("linear_classifier")
        lab.columns.label_picker.value = "price"
        assert lab.picker.queue == [] and lab.picker.task == "regression"
        assert ("the task is now regression: the 1 queued classification estimator(s) were removed from tab 2; "
                "queue regression estimators there") in lab.columns.notice_html.value
        assert "label is now &#x27;price&#x27;; every other column keeps its choices" in lab.columns.notice_html.value
    finally:
        lab.close()
