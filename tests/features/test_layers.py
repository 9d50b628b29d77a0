"""DenseFeatures, LinearFeatures, input_layer: exact outputs against hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from estlab import feature_column as fc
from estlab.features import (
    DenseFeatures,
    FeatureColumnError,
    FeatureTransformer,
    LinearFeatures,
    NotFittedError,
)

TABLE = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def fill_table(t: torch.Tensor) -> None:
    t.copy_(TABLE)


@pytest.mark.parametrize(
    ("combiner", "expected"),
    [
        ("sum", [[4.0, 6.0], [5.0, 6.0], [0.0, 0.0]]),
        ("mean", [[2.0, 3.0], [5.0, 6.0], [0.0, 0.0]]),
        ("sqrtn", [[4 / math.sqrt(2), 6 / math.sqrt(2)], [5.0, 6.0], [0.0, 0.0]]),
    ],
)
def test_embedding_combiners_and_empty_row(combiner, expected):
    col = fc.embedding_column(fc.categorical_column_with_identity("h", 3), 2, combiner=combiner, initializer=fill_table)
    out = fc.input_layer({"h": [[0, 1], [2], []]}, [col])
    torch.testing.assert_close(out, torch.tensor(expected))


@pytest.mark.parametrize(("combiner", "scale"), [("sum", 1.0), ("mean", 1 / 4), ("sqrtn", 1 / math.sqrt(10))])
def test_weighted_embedding(combiner, scale):
    base = fc.categorical_column_with_identity("h", 3)
    col = fc.embedding_column(fc.weighted_categorical_column(base, "w"), 2, combiner=combiner, initializer=fill_table)
    out = fc.input_layer({"h": [[0, 1]], "w": [[1.0, 3.0]]}, [col])
    torch.testing.assert_close(out, torch.tensor([[10.0, 14.0]]) * scale)


def test_indicator_counts_multivalued_and_default():
    vocab = fc.categorical_column_with_vocabulary_list("t", ["a", "b", "c"])
    out = fc.input_layer({"t": [["a", "a", "c"], [], ["b", "zz"]]}, [fc.indicator_column(vocab)])
    assert out.tolist() == [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    weighted = fc.indicator_column(fc.weighted_categorical_column(vocab, "w"))
    out = fc.input_layer({"t": [["a", "a", "c"]], "w": [[0.5, 1.0, 2.0]]}, [weighted])
    assert out.tolist() == [[1.5, 0.0, 2.0]]


def test_order_is_sorted_by_name_and_bucketized_one_hot():
    cols = [fc.numeric_column("z"), fc.bucketized_column(fc.numeric_column("a"), [0.0, 1.0]), fc.numeric_column("m")]
    out = fc.input_layer({"z": [7.0], "a": [0.5], "m": [3.0]}, cols)
    assert out.tolist() == [[0.0, 1.0, 0.0, 3.0, 7.0]]  # a_bucketized, m, z


def test_learned_columns_need_fitting_and_categorical_needs_wrapping(tiny_frame):
    learned = fc.indicator_column(fc.categorical_column_with_learned_vocabulary("color"))
    unbound = DenseFeatures([learned])  # allowed: an estimator binds the fitted transformer later
    assert not unbound.is_bound
    with pytest.raises(NotFittedError, match=r"columns \['color'\] need fitting.*transformer=FeatureTransformer"):
        unbound(tiny_frame)
    with pytest.raises(NotFittedError, match=r"columns \['color'\] need fitting"):
        fc.input_layer(tiny_frame, [learned])
    with pytest.raises(FeatureColumnError, match=r"'color' is categorical.*indicator_column\(...\) or embedding_column"):
        DenseFeatures([fc.categorical_column_with_vocabulary_list("color", ["red"])])
    ft = FeatureTransformer([learned]).fit(tiny_frame)
    assert DenseFeatures([learned], ft)(tiny_frame).shape == (8, 4)
    assert unbound.bind(ft)(tiny_frame).tolist() == DenseFeatures([learned], ft)(tiny_frame).tolist()
    with pytest.raises(FeatureColumnError, match=r"'age' is not among this transformer's columns"):
        DenseFeatures([fc.numeric_column("age")], ft)


def test_encoded_batches_match_raw(tiny_frame):
    color = fc.categorical_column_with_learned_vocabulary("color")
    cols = [fc.numeric_column("age", default_value=0.0, normalizer="zscore"), fc.embedding_column(color, 3),
            fc.indicator_column(color)]
    ft = FeatureTransformer(cols).fit(tiny_frame)
    layer = DenseFeatures(cols, ft)
    encoded = ft.transform(tiny_frame)
    idx = torch.tensor([5, 0, 3])
    batch = layer({k: v[idx] for k, v in encoded.items()})
    torch.testing.assert_close(batch, layer(tiny_frame)[idx])
    assert layer.output_width == ft.dense_width() == 1 + 3 + 4


def test_shared_embeddings_share_one_table():
    a = fc.categorical_column_with_identity("a", 3)
    b = fc.categorical_column_with_identity("b", 3)
    ea, eb = fc.shared_embeddings([a, b], 2, initializer=fill_table, combiner="sum")
    layer = DenseFeatures([ea, eb])
    assert len(list(layer.parameters())) == 1
    assert layer({"a": [0], "b": [2]}).tolist() == [[1.0, 2.0, 5.0, 6.0]]
    c = fc.categorical_column_with_identity("c", 4)
    with pytest.raises(FeatureColumnError, match=r"same number of buckets, got 3 and 4"):
        DenseFeatures(fc.shared_embeddings([a, c], 2))


def test_max_norm_trainable_and_default_init():
    col = fc.embedding_column(fc.categorical_column_with_identity("h", 3), 2, initializer=fill_table, max_norm=1.0,
                              trainable=False)
    layer = DenseFeatures([col])
    out = layer({"h": [1]})
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8]]))
    assert not any(p.requires_grad for p in layer.parameters())
    default = DenseFeatures([fc.embedding_column(fc.categorical_column_with_identity("h", 1000), 16)])
    table = default.embedding_weights["h_embedding"]
    assert table.abs().max() <= 2 / 4 + 1e-6 and abs(table.std().item() - 0.25) < 0.05


def test_gradients_reach_embedding_table():
    layer = DenseFeatures([fc.embedding_column(fc.categorical_column_with_identity("h", 3), 2)])
    layer({"h": [0, 0, 2]}).sum().backward()
    grad = layer.embedding_weights["h_embedding"].grad
    assert grad.tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]


def test_linear_features_exact():
    x = fc.numeric_column("x", shape=2)
    h = fc.categorical_column_with_identity("h", 3)
    b = fc.bucketized_column(fc.numeric_column("y"), [0.0])
    lin = LinearFeatures([x, h, b], units=1)
    assert all(float(p.detach().abs().sum()) == 0.0 for p in lin.parameters())  # TF starts at zero
    with torch.no_grad():
        lin.weights["x"].copy_(torch.tensor([[2.0], [3.0]]))
        lin.weights["h"].copy_(torch.tensor([[10.0], [20.0], [30.0]]))
        lin.weights["y_bucketized"].copy_(torch.tensor([[100.0], [200.0]]))
        lin.bias.fill_(0.5)
    out = lin({"x": [[1.0, 1.0], [0.0, 2.0]], "h": [[0, 2], []], "y": [-1.0, 1.0]})
    assert out.tolist() == [[2 + 3 + 10 + 30 + 100 + 0.5], [6 + 0 + 200 + 0.5]]
    no_bias = LinearFeatures([h], units=3, use_bias=False)
    assert no_bias.bias is None and no_bias({"h": [1]}).shape == (1, 3)


def test_linear_features_indicator_and_embedding():
    h = fc.categorical_column_with_identity("h", 3)
    emb = fc.embedding_column(fc.categorical_column_with_identity("e", 3), 2, initializer=fill_table)
    lin = LinearFeatures([fc.indicator_column(h), emb], use_bias=False)
    with torch.no_grad():
        lin.weights["h_indicator"].copy_(torch.tensor([[1.0], [2.0], [4.0]]))
        lin.weights["e_embedding"].copy_(torch.tensor([[1.0], [10.0]]))
    assert lin({"h": [[0, 0, 2]], "e": [1]}).tolist() == [[1 + 1 + 4 + 3 + 40]]


def test_out_of_vocabulary_default_gives_all_zero_indicator_row():
    col = fc.indicator_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b"]))
    assert fc.input_layer({"c": ["b", "zzz", None]}, [col]).tolist() == [[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    oov = fc.indicator_column(fc.categorical_column_with_vocabulary_list("c", ["a", "b"], num_oov_buckets=1))
    assert fc.input_layer({"c": ["b", "zzz"]}, [oov]).tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_category_dtype_and_one_dimensional_tensors():
    import pandas as pd

    df = pd.DataFrame({"c": pd.Categorical(["a", "b", None], categories=["a", "b", "unused"])})
    learned = fc.categorical_column_with_learned_vocabulary("c")
    ft = FeatureTransformer([learned]).fit(df)
    assert ft.state_["vocabulary"]["c"] == ["a", "b"]  # unused categories are not counted
    assert ft.transform(df)["c"].ravel().tolist() == [0, 1, 2]
    ident = fc.indicator_column(fc.categorical_column_with_identity("h", 3))
    assert fc.input_layer({"h": torch.tensor([0, 2])}, [ident]).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
