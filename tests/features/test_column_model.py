"""The column model: specs render their own source, declare their raw inputs, hold dtypes as strings,
import without torch, and a new kind plugs in by implementing the per-kind methods only."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.features import CategoricalColumn, FeatureColumnError, FeatureTransformer
from estlab.features._base import RawInputSpec, source_call
from estlab.features.encode import Encoded
from estlab.features.serialize import column_from_dict, column_to_dict


def _columns(tmp_path):
    vocab_file = tmp_path / "colors.txt"
    vocab_file.write_text("red\nblue\ngreen\n")
    int_file = tmp_path / "ints.txt"
    int_file.write_text("3\n7\n")
    age = fc.numeric_column("age")
    tags = fc.categorical_column_with_vocabulary_list("tags", ["x", "y"], num_oov_buckets=2)
    return [
        age,
        fc.numeric_column("pair", shape=2, default_value=(0.0, 1.0), dtype="float64", normalizer="minmax"),
        fc.numeric_column("grid", shape=(2, 3)),
        fc.numeric_column("root", normalizer_fn=math.sqrt),
        fc.bucketized_column(age, [18.0, 65.0]),
        fc.bucketized_column(fc.numeric_column("hours", default_value=40.0), "quantiles:4"),
        tags,
        fc.categorical_column_with_vocabulary_list("n", [3, 1], default_value=0),
        fc.categorical_column_with_vocabulary_file("color", vocab_file, vocabulary_size=2, num_oov_buckets=1),
        fc.categorical_column_with_vocabulary_file("k", int_file, dtype=int),
        fc.categorical_column_with_learned_vocabulary("city", max_tokens=10, min_frequency=2, num_oov_buckets=0),
        fc.categorical_column_with_identity("hour", 24, default_value=0),
        fc.categorical_column_with_hash_bucket("zip", 100, dtype=int),
        fc.weighted_categorical_column(tags, "w"),
        fc.crossed_column([fc.bucketized_column(age, [30.0]), "city"], 50, hash_key=7),
        fc.indicator_column(fc.categorical_column_with_hash_bucket("town", 8)),
        fc.embedding_column(tags, 4, combiner="sqrtn", max_norm=2.0, trainable=False),
        *fc.shared_embeddings([tags, fc.categorical_column_with_identity("t2", 4)], 3,
                              shared_embedding_collection_name="shared"),
    ]


def test_every_kind_renders_source_that_rebuilds_an_equal_column(tmp_path):
    for column in _columns(tmp_path):
        source = column.to_source()
        assert eval(source, {"fc": fc, "math": math}) == column, source  # noqa: S307 - our own rendering


def test_sources_read_like_hand_written_code():
    assert fc.numeric_column("age", normalizer="zscore").to_source() == "fc.numeric_column('age', normalizer='zscore')"
    assert fc.numeric_column("v", shape=2).to_source() == "fc.numeric_column('v', shape=2)"
    bucketized = fc.bucketized_column(fc.numeric_column("age", default_value=38.0), [18, 65])
    assert bucketized.to_source() == (
        "fc.bucketized_column(fc.numeric_column('age', default_value=38.0), [18.0, 65.0])")
    hashed = fc.indicator_column(fc.categorical_column_with_hash_bucket("city", 16))
    assert hashed.to_source() == "fc.indicator_column(fc.categorical_column_with_hash_bucket('city', hash_bucket_size=16))"
    assert fc.crossed_column(["a", "b"], 10).to_source() == "fc.crossed_column(['a', 'b'], hash_bucket_size=10)"


def test_a_lambda_has_no_source():
    column = fc.numeric_column("x", normalizer_fn=lambda t: t * 2)
    with pytest.raises(FeatureColumnError, match=r"no importable name.*use a module-level function"):
        column.to_source()


def test_dtypes_are_strings_whatever_form_they_were_given_in():
    assert fc.numeric_column("x").dtype == "float32"
    assert fc.numeric_column("x", dtype=torch.float64).dtype == "float64"
    assert fc.numeric_column("x", dtype=np.int32).dtype == "int32"
    assert fc.numeric_column("x", dtype="int64").dtype == "int64"
    assert fc.categorical_column_with_vocabulary_list("c", [1, 2], dtype=torch.int32).dtype == "int64"
    with pytest.raises(FeatureColumnError, match=r"numeric_column 'x': dtype must be one of float16, bfloat16, "
                                                 r"float32, float64, int8, int16, int32, int64, uint8 \(a name"):
        fc.numeric_column("x", dtype="string")


def test_estlab_0_1_column_dicts_with_torch_dtypes_still_load():
    old = {"class": "NumericColumn", "key": "x", "shape": [1], "default_value": None,
           "dtype": {"dtype": "float64"}, "normalizer_fn": None, "normalizer": "zscore"}
    assert column_from_dict(old) == fc.numeric_column("x", dtype="float64", normalizer="zscore")
    assert column_to_dict(fc.numeric_column("x"))["dtype"] == "float32"


def test_raw_input_specs_come_from_each_kind(tmp_path):
    frame = pd.DataFrame({
        "age": [20.0, 30.0, 70.0, 50.0], "hours": [10.0, 20.0, 30.0, 40.0], "city": ["a", "a", "b", "b"],
        "n": [1, 3, 3, 1], "lv": [5, 6, 5, 6],
    })
    columns = [
        fc.numeric_column("age"),
        fc.bucketized_column(fc.numeric_column("hours"), "quantiles:2"),
        fc.crossed_column(["age", "city"], 10),  # age is also numeric: float32 wins over string
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("n", [1, 3])),
        fc.categorical_column_with_learned_vocabulary("lv"),
        fc.weighted_categorical_column(fc.categorical_column_with_identity("id", 5), "weight"),
        fc.numeric_column("grid", shape=(2, 2)),
    ]
    transformer = FeatureTransformer(columns)
    assert transformer.raw_input_specs()["lv"] == RawInputSpec("lv", "string")  # not fitted: unknown type
    frame["id"], frame["weight"], frame["grid"] = [0, 1, 2, 3], [1.0] * 4, [[[1.0, 2.0], [3.0, 4.0]]] * 4
    transformer.fit(frame)
    assert transformer.raw_input_specs() == {
        "age": RawInputSpec("age", "float32"),
        "city": RawInputSpec("city", "string"),
        "grid": RawInputSpec("grid", "float32", (-1, 2, 2)),
        "hours": RawInputSpec("hours", "float32"),
        "id": RawInputSpec("id", "int64"),
        "lv": RawInputSpec("lv", "int64"),
        "n": RawInputSpec("n", "int64"),
        "weight": RawInputSpec("weight", "float32"),
    }


@dataclass(frozen=True)
class ParityColumn(CategoricalColumn):
    """A kind the package does not have: id 0 for even integers, 1 for odd ones (-1 when missing)."""

    kind: ClassVar[str] = "parity"

    key: str

    @property
    def name(self) -> str:
        return f"{self.key}_parity"

    @property
    def parents(self) -> tuple[str]:
        return (self.key,)

    def encode(self, ctx):
        values = pd.to_numeric(pd.Series(ctx.data[self.key]), errors="coerce").to_numpy(dtype=np.float64)
        ids = np.where(np.isnan(values), -1, np.nan_to_num(values) % 2).astype(np.int64)
        return Encoded(ids.reshape(-1, 1))

    def bucket_count(self, fitted):
        return 2

    def raw_inputs(self, fitted):
        return {self.key: RawInputSpec(self.key, "int64")}

    def to_source(self):
        return source_call("parity_column", self.key)


def test_a_new_kind_needs_only_its_own_methods():
    parity = ParityColumn("n")
    column = fc.indicator_column(parity)
    transformer = FeatureTransformer([column, fc.numeric_column("x")])
    data = {"n": [4, 7, None], "x": [0.5, 1.5, 2.5]}
    assert transformer.transform(data)["n_parity"].ravel().tolist() == [0, 1, -1]
    assert transformer.dense_width() == 3
    assert transformer.raw_input_specs() == {"n": RawInputSpec("n", "int64"), "x": RawInputSpec("x", "float32")}
    assert fc.input_layer(data, [column], transformer).tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    linear = fc.LinearFeatures([parity], transformer)
    assert tuple(linear.weights["n_parity"].shape) == (2, 1)
    assert column.to_source() == "fc.indicator_column(fc.parity_column('n'))"


def test_column_specs_and_the_transformer_import_and_fit_without_torch():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import pandas as pd
        import estlab.features.categorical, estlab.features.crossed, estlab.features.dense
        import estlab.features.numeric
        from estlab import feature_column as fc
        from estlab.features import FeatureTransformer, infer_columns
        frame = pd.DataFrame({"age": [20.0, 30.0, None], "color": ["a", "b", "a"], "y": [0, 1, 0]})
        columns = infer_columns(frame, label="y").feature_columns
        columns.append(fc.bucketized_column(fc.numeric_column("age", default_value=0.0), "quantiles:2"))
        ft = FeatureTransformer(columns).fit(frame)
        print(ft.dense_width(), [s.dtype for s in ft.raw_input_specs().values()], columns[0].dtype)
        print(fc.embedding_column(fc.categorical_column_with_identity("h", 3), 2).to_source())
        try:
            fc.DenseFeatures
        except ImportError:
            print("layers need torch")
        try:
            ft.transform(frame)
        except ImportError:
            print("tensors need torch")
        print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "6 ['float32', 'string'] float32",
        "fc.embedding_column(fc.categorical_column_with_identity('h', num_buckets=3), dimension=2)",
        "layers need torch",
        "tensors need torch",
        "['torch']",
    ]
