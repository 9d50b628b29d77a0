"""TF programs work by rename (``import estlab as tf``): the constructors take TF's arguments, in TF's order.

Dtypes in every spelling (one normaliser), TF's dtype names as ``estlab.float32``..., ``make_parse_example_spec``
under ``tf.feature_column``, ``embedding_column``/``shared_embeddings``' signatures, and a clear error for the
``sequence_*`` columns estlab does not have.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import torch

import estlab as tf
from estlab import feature_column as fc
from estlab.features import FeatureColumnError, FeatureTransformer
from estlab.features.dtypes import check_dtype, dtype_kind

#: TF 2's signatures (tensorflow/python/feature_column/feature_column_v2.py)
TF_EMBEDDING = [
    "categorical_column",
    "dimension",
    "combiner",
    "initializer",
    "ckpt_to_load_from",
    "tensor_name_in_ckpt",
    "max_norm",
    "trainable",
    "use_safe_embedding_lookup",
]
TF_SHARED = [
    "categorical_columns",
    "dimension",
    "combiner",
    "initializer",
    "shared_embedding_collection_name",
    "ckpt_to_load_from",
    "tensor_name_in_ckpt",
    "max_norm",
    "trainable",
    "use_safe_embedding_lookup",
]


# ----- dtypes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype",
    [
        np.int64,
        torch.int64,
        np.dtype("int64"),
        "int64",
        int,
        "int",
        np.int32,
        torch.int32,
        tf.int64,
        tf.int32,
    ],
)
def test_every_constructor_reads_integer_dtypes_alike(dtype):
    assert fc.categorical_column_with_hash_bucket("x", 10, dtype=dtype).dtype == "int64"
    assert fc.categorical_column_with_vocabulary_list("x", [1, 2], dtype=dtype).dtype == "int64"
    assert fc.numeric_column("x", dtype=dtype).dtype == dtype_kind(dtype)
    assert fc.weighted_categorical_column(
        fc.categorical_column_with_identity("i", 3), "w", dtype=dtype
    ).name == ("i_weighted_by_w")


@pytest.mark.parametrize(
    "dtype", [str, "string", "str", np.str_, np.object_, np.dtype("U"), tf.string, bytes]
)
def test_every_constructor_reads_string_dtypes_alike(dtype, tmp_path):
    assert fc.categorical_column_with_hash_bucket("x", 10, dtype=dtype).dtype == "string"
    assert fc.categorical_column_with_vocabulary_list("x", ["a"], dtype=dtype).dtype == "string"
    path = tmp_path / "v.txt"
    path.write_text("a\nb\n")
    assert fc.categorical_column_with_vocabulary_file("x", path, dtype=dtype).vocabulary == ("a", "b")


def test_integer_vocabulary_files_take_any_integer_dtype(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3\n1\n")
    for dtype in (int, np.int64, torch.int64, "int64", tf.int32):
        column = fc.categorical_column_with_vocabulary_file("x", path, dtype=dtype)
        assert column.vocabulary == (3, 1) and column.dtype == "int64"


def test_numeric_dtypes_keep_their_width_and_float_spellings_read_as_tf():
    assert [
        fc.numeric_column("x", dtype=d).dtype
        for d in (tf.float32, torch.float64, np.float16, "double", float, np.dtype("float32"), tf.uint8)
    ] == ["float32", "float64", "float16", "float64", "float32", "float32", "uint8"]


def test_estlab_offers_tfs_dtype_names_as_plain_types():
    assert (tf.float32, tf.float64, tf.int32, tf.int64, tf.string, tf.bool) == (
        np.float32,
        np.float64,
        np.int32,
        np.int64,
        str,
        np.bool_,
    )
    assert np.zeros(2, tf.float32).dtype == np.float32  # they work in numpy and pandas too
    assert pd.Series([1, 2]).astype(tf.float32).dtype == np.float32
    assert {"float32", "string", "int64"} <= set(dir(tf))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: fc.categorical_column_with_hash_bucket("x", 10, dtype=np.float32),
            r"categorical_column_with_hash_bucket 'x': dtype must be one of string, int8, .* got <class 'numpy.float32'>",
        ),
        (
            lambda: fc.categorical_column_with_hash_bucket("x", 10, dtype=None),
            r"categorical_column_with_hash_bucket 'x': dtype must be a string or integer dtype .* got None",
        ),
        (
            lambda: fc.categorical_column_with_vocabulary_list("x", ["a"], dtype=torch.float32),
            r"categorical_column_with_vocabulary_list 'x': dtype must be one of string, int8, .*got torch.float32",
        ),
        (
            lambda: fc.categorical_column_with_vocabulary_list("x", ["a"], dtype=np.int64),
            r"categorical_column_with_vocabulary_list 'x': dtype=<class 'numpy.int64'> but the vocabulary holds string",
        ),
        (
            lambda: fc.numeric_column("x", dtype=tf.string),
            r"numeric_column 'x': dtype must be one of float16, .* \(a name such as 'float32', a numpy or torch dtype, "
            r"or estlab.float32\), got <class 'str'>",
        ),
        (
            lambda: fc.numeric_column("x", dtype="complex64"),
            r"numeric_column 'x': dtype must be one of .*got 'complex64'",
        ),
        (
            lambda: fc.weighted_categorical_column(
                fc.categorical_column_with_identity("i", 3), "w", dtype=str
            ),
            r"weighted_categorical_column 'w': dtype must be one of float16, .*got <class 'str'>",
        ),
    ],
)
def test_bad_dtypes_name_the_constructor_the_column_and_the_choices(make, message):
    with pytest.raises(FeatureColumnError, match=message):
        make()


def test_the_normaliser_reads_every_spelling():
    assert [
        dtype_kind(d) for d in ("INT64", "tf.float32", "torch.int32", np.bool_, bool, object(), None, 3)
    ] == ["int64", "float32", "int32", "bool", "bool", None, None, None]
    assert check_dtype(torch.uint8, ("uint8",), "f 'x'") == "uint8"


# ----- make_parse_example_spec -------------------------------------------------------------------------
def test_make_parse_example_spec_is_a_feature_column_name():
    from estlab.estimator.export import TensorSpec, make_parse_example_spec

    assert fc.make_parse_example_spec is make_parse_example_spec
    assert "make_parse_example_spec" in fc.__all__ and "make_parse_example_spec" in dir(fc)
    cols = [
        fc.numeric_column("age", shape=2),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("pet", ["cat", "dog"])),
        fc.embedding_column(fc.categorical_column_with_identity("id", 5), 3),
        fc.crossed_column(["a", "b"], 10),
    ]
    assert tf.feature_column.make_parse_example_spec(cols) == {
        "age": TensorSpec("age", "float32", (-1, 2)),
        "pet": TensorSpec("pet", "string", (-1,)),
        "id": TensorSpec("id", "int64", (-1,)),
        "a": TensorSpec("a", "string", (-1,)),
        "b": TensorSpec("b", "string", (-1,)),
    }


# ----- embedding_column / shared_embeddings -----------------------------------------------------------
def test_embedding_signatures_are_tfs():
    assert list(inspect.signature(fc.embedding_column).parameters) == TF_EMBEDDING
    assert list(inspect.signature(fc.shared_embeddings).parameters) == TF_SHARED
    assert inspect.signature(fc.embedding_column).parameters["use_safe_embedding_lookup"].default is True


def test_tf_positional_calls_mean_what_they_mean_in_tf(tmp_path):
    ids = fc.categorical_column_with_identity("h", 4)
    column = fc.embedding_column(
        ids, 2, "sum", None, str(tmp_path), "features.embedding_weights.h_embedding", 3.0, False, False
    )
    assert (column.combiner, column.max_norm, column.trainable) == ("sum", 3.0, False)
    assert (column.ckpt_to_load_from, column.tensor_name_in_ckpt) == (
        str(tmp_path),
        "features.embedding_weights.h_embedding",
    )
    a, b = fc.shared_embeddings(
        [ids, fc.categorical_column_with_identity("g", 4)], 2, "sqrtn", None, "t", None, None, 1.5, True, True
    )
    assert (a.table_name, b.max_norm, a.ckpt_to_load_from) == ("t", 1.5, None)


def test_use_safe_embedding_lookup_is_accepted_and_the_lookup_is_always_safe():
    ids = fc.categorical_column_with_vocabulary_list("c", ["a", "b"])  # OOV -> -1, padding -> no id
    table = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    out = []
    for safe in (True, False):
        column = fc.embedding_column(
            ids, 2, combiner="mean", initializer=lambda t: t.copy_(table), use_safe_embedding_lookup=safe
        )
        assert column == fc.embedding_column(ids, 2, initializer=column.initializer)  # not stored: no effect
        layer = fc.DenseFeatures([column], FeatureTransformer([column]))
        out.append(layer({"c": [["a", "zzz"], ["", ""], ["b", "a"]]}).tolist())
    assert out[0] == out[1] == [[1.0, 2.0], [0.0, 0.0], [2.0, 3.5]]
    with pytest.raises(
        FeatureColumnError, match=r"use_safe_embedding_lookup must be True or False, got 'yes'"
    ):
        fc.embedding_column(ids, 2, use_safe_embedding_lookup="yes")


@pytest.mark.parametrize("kwargs", [{"ckpt_to_load_from": "/models/a"}, {"tensor_name_in_ckpt": "emb"}])
def test_checkpoint_arguments_come_together_as_in_tf(kwargs):
    ids = fc.categorical_column_with_identity("h", 4)
    message = r"Must specify both `ckpt_to_load_from` and `tensor_name_in_ckpt` or none of them"
    with pytest.raises(FeatureColumnError, match=message):
        fc.embedding_column(ids, 2, **kwargs)
    with pytest.raises(FeatureColumnError, match=message):
        fc.shared_embeddings([ids], 2, **kwargs)
    with pytest.raises(
        FeatureColumnError,
        match=r"tensor_name_in_ckpt must be a variable name as the source "
        r"estimator's get_variable_names\(\) lists it, got 3",
    ):
        fc.embedding_column(ids, 2, ckpt_to_load_from="/models/a", tensor_name_in_ckpt=3)


# ----- sequence columns --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "sequence_numeric_column",
        "sequence_categorical_column_with_identity",
        "sequence_categorical_column_with_hash_bucket",
        "sequence_categorical_column_with_vocabulary_list",
        "sequence_categorical_column_with_vocabulary_file",
    ],
)
def test_sequence_columns_are_absent_with_a_clear_error(name):
    assert not hasattr(tf.feature_column, name) and name not in fc.__all__
    with pytest.raises(
        AttributeError,
        match=rf"module 'estlab.feature_column' has no attribute '{name}': estlab has "
        r"no sequence feature columns .* numeric_column\(key, shape=T\)",
    ):
        getattr(tf.feature_column, name)
    with pytest.raises(
        AttributeError, match=r"module 'estlab.features' has no attribute .*: estlab has no sequence"
    ):
        getattr(tf.features, name)
    with pytest.raises(
        AttributeError, match=r"^module 'estlab.feature_column' has no attribute 'numric_column'$"
    ):
        _ = tf.feature_column.numric_column
