"""TF 2.15's feature-column semantics on TF's own cases: ``''`` and ``-1`` are padding dropped before any lookup,
duplicate column names raise TF's error, bucketizing compares in float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from estlab import feature_column as fc
from estlab.features import DenseFeatures, FeatureColumnError, FeatureTransformer, LinearFeatures


def ids(column, data):
    ft = FeatureTransformer([column])
    return ft.transform(data)[ft.encoded_key(column)].tolist()


# ----- padding: '' (strings) and -1 (integers) get no id --------------------------------------------------------
def test_string_padding_gets_no_id_even_in_the_vocabulary_or_with_a_default():
    in_vocab = ["", "a", "b"]
    data = {"c": ["a", "", "b", "z"]}
    assert ids(fc.categorical_column_with_vocabulary_list("c", in_vocab), data) == [[1], [-1], [2], [-1]]
    assert ids(fc.categorical_column_with_vocabulary_list("c", in_vocab, default_value=0), data) == [
        [1], [-1], [2], [0]]
    # with OOV buckets 'z' goes to an OOV id (3 or 4); '' still gets none
    assert ids(fc.categorical_column_with_vocabulary_list("c", in_vocab, num_oov_buckets=2), data) == [
        [1], [-1], [2], [3]]


def test_integer_padding_gets_no_id_even_in_the_vocabulary_or_with_a_default():
    assert ids(fc.categorical_column_with_vocabulary_list("c", [-1, 3, 5], default_value=0), {"c": [3, -1, 7]}) == [
        [1], [-1], [0]]
    # identity: -1 is dropped before the range check and the default (TF), a missing value takes the default
    assert ids(fc.categorical_column_with_identity("c", 4, default_value=0), {"c": [2, -1, 9, None]}) == [
        [2], [-1], [0], [0]]


def test_dense_two_dimensional_input_drops_padding_as_tf_does():
    dense = np.array([["a", ""], ["b", "a"]], dtype=object)
    assert ids(fc.categorical_column_with_vocabulary_list("c", ["a", "b"], default_value=1), {"c": dense}) == [
        [0, -1], [1, 0]]


def test_multivalent_hashed_input_drops_padding():
    hashed = fc.categorical_column_with_hash_bucket("c", 100)
    assert ids(hashed, {"c": [["x", ""], ["", ""], ["y"]]}) == [[81, -1], [-1, -1], [37, -1]]
    assert ids(hashed, {"c": ["x", "y"]}) == [[81], [37]]  # the same ids as without padding
    as_int = fc.categorical_column_with_hash_bucket("c", 100, dtype=int)
    assert ids(as_int, {"c": [[5, -1], [-1, 7]]}) == [[39, -1], [-1, 22]]
    counts = fc.input_layer({"c": [["x", ""], ["", ""], ["y", "x"]]}, [fc.indicator_column(hashed)])
    assert counts.sum(dim=1).tolist() == [1.0, 0.0, 2.0]
    assert counts[2, 81].item() == 1.0 and counts[2, 37].item() == 1.0


def test_embedding_combiners_ignore_padding():
    table = torch.tensor([[1.0, 2.0], [3.0, 6.0]])

    def embedded(combiner: str) -> list:
        column = fc.embedding_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b"], default_value=0), 2,
                                     combiner=combiner, initializer=lambda t: t.copy_(table))
        rows = {"c": [["a", "", "b"], ["", "", ""], ["b", "", ""]]}
        return fc.input_layer(rows, [column]).tolist()

    assert embedded("mean") == [[2.0, 4.0], [0.0, 0.0], [3.0, 6.0]]
    assert embedded("sum") == [[4.0, 8.0], [0.0, 0.0], [3.0, 6.0]]
    sqrtn = embedded("sqrtn")
    np.testing.assert_allclose(sqrtn, [[4.0 / np.sqrt(2), 8.0 / np.sqrt(2)], [0.0, 0.0], [3.0, 6.0]], rtol=1e-6)


def test_learned_vocabulary_neither_learns_nor_looks_up_padding():
    column = fc.categorical_column_with_learned_vocabulary("c")
    ft = FeatureTransformer([column]).fit({"c": ["a", "", "a", "b", ""]})
    assert ft.state_["vocabulary"] == {"c": ["a", "b"]}
    assert ft.transform({"c": ["", "a", "q", None]})["c"].ravel().tolist() == [-1, 0, 2, 2]


# ----- duplicate names ---------------------------------------------------------------------------------------------
def test_duplicate_column_names_raise_tfs_error():
    a = fc.numeric_column("a")
    with pytest.raises(ValueError, match=r"^Duplicate feature column name found for columns: "
                                         r"NumericColumn\(key='a'.* and NumericColumn\(key='a'"):
        DenseFeatures([a, a])  # the same column twice, as in TF
    with pytest.raises(FeatureColumnError, match=r"Duplicate feature column name found for columns: .*name 'h'"):
        LinearFeatures([fc.numeric_column("h"), fc.categorical_column_with_identity("h", 3)])
    with pytest.raises(FeatureColumnError, match=r"Duplicate feature column name found .*name 'a'\)$"):
        fc.input_layer({"a": [1.0]}, [a, fc.numeric_column("a", default_value=0.0)])


# ----- float32 bucketizing -----------------------------------------------------------------------------------------
def test_bucketizing_compares_in_float32_as_tf():
    x = np.array([0.69999999, 0.6999999, 0.7, -0.5], dtype=np.float64)  # 0.69999999 is 0.7f, 0.6999999 is not
    plain = fc.bucketized_column(fc.numeric_column("x"), [0.0, 0.7])
    assert ids(plain, {"x": x}) == [[2], [1], [2], [0]]
    assert fc.input_layer({"x": x}, [plain]).argmax(dim=1).tolist() == [2, 1, 2, 0]
    # the same ids when the source has a normalizer_fn (then bucketized inside the model, on float32 tensors)
    in_model = fc.bucketized_column(fc.numeric_column("x", normalizer_fn=lambda t: t * 1.0), [0.0, 0.7])
    assert fc.input_layer({"x": x}, [in_model]).argmax(dim=1).tolist() == [2, 1, 2, 0]
