"""infer_columns: choices and reasons on the tiny frame and the bundled datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from estlab import feature_column as fc
from estlab.datasets import load_adult, load_diamonds, load_penguins
from estlab.features import DenseFeatures, FeatureColumnError, FeatureTransformer, MissingColumnError


def test_tiny_frame_choices(tiny_frame):
    inferred = fc.infer_columns(tiny_frame, label="label")
    choices = {c.key: (c.choice, c.reason) for c in inferred.choices}
    assert [c.name for c in inferred.feature_columns] == ["age", "hours", "color_indicator"]
    assert choices["label"] == ("left out", "label")
    assert choices["user_id"][0] == "left out" and "identifier" in choices["user_id"][1]
    assert choices["city"] == ("left out", "string unique per row: looks like an ID or free text")
    age = inferred.feature_columns[0]
    assert age.normalizer == "zscore" and age.default_value == 38.0  # median of the 7 observed ages
    assert "unknown slot" in choices["color"][1]


def test_summary_and_html(tiny_frame):
    inferred = fc.infer_columns(tiny_frame, label="label")
    text = inferred.summary()
    assert text.splitlines()[0] == "infer_columns: 3 feature column(s) from 6 frame column(s)"
    assert "color_indicator" in text and "looks like an ID" in text
    html = inferred._repr_html_()
    assert html.startswith("<div><b>infer_columns") and "<table" in html and "color_indicator" in html


def test_high_cardinality_gets_embedding_and_ints_unique_per_row_left_out():
    n = 600
    df = pd.DataFrame({"zip": [f"z{i % 120}" for i in range(n)], "row": range(n), "y": [0, 1] * (n // 2)})
    inferred = fc.infer_columns(df, label="y")
    (emb,) = inferred.feature_columns
    assert emb.name == "zip_embedding" and emb.dimension == round(1.6 * 120**0.56)
    assert inferred.choices[1].reason == "integer unique per row: looks like an ID"


@pytest.mark.parametrize(
    ("loader", "label", "expected"),
    [
        (load_adult, "income_bracket", {"age", "education_indicator", "native_country_indicator", "fnlwgt"}),
        (load_penguins, "species", {"island_indicator", "sex_indicator", "bill_length_mm", "year"}),
        (load_diamonds, "price", {"carat", "cut_indicator", "color_indicator", "clarity_indicator"}),
    ],
)
def test_bundled_datasets(loader, label, expected):
    train, test = loader()
    inferred = fc.infer_columns(train, label=label)
    names = {c.name for c in inferred.feature_columns}
    assert expected <= names and label not in names
    ft = FeatureTransformer(inferred.feature_columns).fit(train)
    out = DenseFeatures(inferred.feature_columns, ft)(test.head(50))
    assert out.shape == (50, ft.dense_width()) and bool(out.isfinite().all())


def test_skewed_numeric_gets_a_hint():
    train, _ = load_adult()
    reasons = {c.key: c.reason for c in fc.infer_columns(train, label="income_bracket").choices}
    assert "heavily skewed" in reasons["capital_gain"] and "heavily skewed" not in reasons["age"]


def test_infer_errors(tiny_frame):
    with pytest.raises(MissingColumnError, match=r"label 'labl' is not a column\. Did you mean 'label'\?"):
        fc.infer_columns(tiny_frame, label="labl")
    with pytest.raises(FeatureColumnError, match=r"the frame is empty"):
        fc.infer_columns(tiny_frame.iloc[:0])
