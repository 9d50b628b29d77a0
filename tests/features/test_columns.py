"""Column constructors: TF names, validation errors that name the parameter and the fix."""

from __future__ import annotations

import pytest
import torch

from estlab import feature_column as fc
from estlab.features import FeatureColumnError


def test_tf_names():
    age = fc.numeric_column("age")
    edu = fc.categorical_column_with_vocabulary_list("education", ["a", "b"])
    assert age.name == "age"
    assert fc.bucketized_column(age, [1, 2]).name == "age_bucketized"
    assert fc.indicator_column(edu).name == "education_indicator"
    assert fc.embedding_column(edu, 3).name == "education_embedding"
    assert fc.crossed_column(["b", "a"], 10).name == "a_X_b"
    assert fc.weighted_categorical_column(edu, "w").name == "education_weighted_by_w"
    shared = fc.shared_embeddings([edu, fc.categorical_column_with_identity("x", 2)], 4)
    assert [c.name for c in shared] == ["education_shared_embedding", "x_shared_embedding"]
    assert shared[0].table_name == shared[1].table_name == "education_x_shared_embedding"


def test_columns_are_frozen_and_hashable():
    col = fc.numeric_column("age", shape=2, default_value=0.0)
    assert col.shape == (2,)
    with pytest.raises(AttributeError):
        col.key = "other"  # type: ignore[misc]
    assert {col, fc.numeric_column("age", shape=2, default_value=0.0)} == {col}


@pytest.mark.parametrize(
    ("boundaries", "message"),
    [([3, 1, 2], r"'age'.*unsorted edges 3.0 then 1.0"), ([1, 1, 2], r"'age'.*duplicate edges 1.0 then 1.0"),
     ([], r"'age'.*boundaries is empty")],
)
def test_bad_boundaries(boundaries, message):
    with pytest.raises(FeatureColumnError, match=message):
        fc.bucketized_column(fc.numeric_column("age"), boundaries)


def test_unknown_shorthands_list_valid_names():
    with pytest.raises(FeatureColumnError, match=r"'age': unknown normalizer 'zscroe'.*Did you mean 'zscore'.*'minmax'"):
        fc.numeric_column("age", normalizer="zscroe")
    with pytest.raises(FeatureColumnError, match=r"unknown boundaries shorthand 'quantile:4'.*quantiles:N"):
        fc.bucketized_column(fc.numeric_column("age"), "quantile:4")
    with pytest.raises(FeatureColumnError, match=r"at least 2 after the colon"):
        fc.bucketized_column(fc.numeric_column("age"), "quantiles:1")


def test_vocabulary_errors():
    with pytest.raises(FeatureColumnError, match=r"'color': the vocabulary is empty"):
        fc.categorical_column_with_vocabulary_list("color", [])
    with pytest.raises(FeatureColumnError, match=r"duplicate vocabulary entry 'red'"):
        fc.categorical_column_with_vocabulary_list("color", ["red", "red"])
    with pytest.raises(FeatureColumnError, match=r"can't specify both default_value=0 and num_oov_buckets=2"):
        fc.categorical_column_with_vocabulary_list("color", ["red"], default_value=0, num_oov_buckets=2)
    with pytest.raises(FeatureColumnError, match=r"only strings or only integers"):
        fc.categorical_column_with_vocabulary_list("color", ["red", 1])


def test_other_argument_errors():
    with pytest.raises(FeatureColumnError, match=r"'hour': num_buckets must be an integer >= 1, got 0"):
        fc.categorical_column_with_identity("hour", 0)
    with pytest.raises(FeatureColumnError, match=r"expected a categorical column, got 'color'.*learned_vocabulary"):
        fc.indicator_column("color")
    with pytest.raises(FeatureColumnError, match=r"combiner must be one of"):
        fc.embedding_column(fc.categorical_column_with_identity("h", 3), 2, combiner="max")
    with pytest.raises(FeatureColumnError, match=r"can't be crossed.*pass the raw key 'c'"):
        fc.crossed_column([fc.categorical_column_with_hash_bucket("c", 10), "d"], 10)
    with pytest.raises(FeatureColumnError, match=r"source_column must be a numeric_column, got 'age'"):
        fc.bucketized_column("age", [1.0])  # type: ignore[arg-type]
    with pytest.raises(FeatureColumnError, match=r"numeric_column .x.: dtype must be one of float16, .*got torch.bool"):
        fc.numeric_column("x", dtype=torch.bool)


def test_vocabulary_file(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("red\nblue\ngreen\n")
    col = fc.categorical_column_with_vocabulary_file("color", path, vocabulary_size=2)
    assert col.vocabulary == ("red", "blue")
    ints = tmp_path / "i.txt"
    ints.write_text("3\n7\n")
    assert fc.categorical_column_with_vocabulary_file("n", ints, dtype=int).vocabulary == (3, 7)
    with pytest.raises(FeatureColumnError, match=r"vocabulary_file '.*missing.txt' does not exist"):
        fc.categorical_column_with_vocabulary_file("color", tmp_path / "missing.txt")
