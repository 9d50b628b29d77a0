"""The fused feature layers give the per-column layers' outputs (1e-6) on every column kind, and gradients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.features import DenseFeatures, FeatureTransformer, LinearFeatures
from estlab.features import fused as fused_module


def scaled(t: torch.Tensor) -> torch.Tensor:
    return t * 2.0 - 1.0


def frame(n: int = 64, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["a", "b", "c", "d", "e", ""])
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "y": rng.normal(size=n),
        "color": rng.choice(words, n),
        "shape": rng.choice(np.array(["sq", "ci", "tr", "zz"]), n),
        "tags": [list(rng.choice(words, rng.integers(0, 4))) for _ in range(n)],
        "tagw": [None] * n,
        "city": rng.choice(np.array([f"c{i}" for i in range(30)]), n),
        "hour": rng.integers(0, 24, n),
    }).assign(tagw=lambda f: [list(rng.uniform(0.1, 2.0, len(t))) for t in f["tags"]],
              tagw2=lambda f: [list(rng.uniform(0.0, 3.0, len(t))) for t in f["tags"]])


def dense_columns() -> list:
    color = fc.categorical_column_with_learned_vocabulary("color")
    shape = fc.categorical_column_with_vocabulary_list("shape", ["sq", "ci", "tr"])  # zz: -1, no id
    tags = fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c", "d", "e"], num_oov_buckets=1)
    weighted = fc.weighted_categorical_column(tags, "tagw")
    city = fc.categorical_column_with_hash_bucket("city", 50)
    hour = fc.categorical_column_with_identity("hour", 24)
    crossed = fc.crossed_column(["color", "shape"], 40)
    bucket = fc.bucketized_column(fc.numeric_column("x"), [-1.0, 0.0, 1.0])
    bucket_fn = fc.bucketized_column(fc.numeric_column("y", normalizer_fn=scaled), [-0.5, 0.5])
    shared_a, shared_b = fc.shared_embeddings([fc.categorical_column_with_identity("hour", 24),
                                               fc.categorical_column_with_hash_bucket("shape", 24)], 4)
    return [
        fc.numeric_column("x", normalizer="zscore"),
        fc.numeric_column("y", normalizer_fn=scaled),
        bucket, bucket_fn,
        fc.indicator_column(color), fc.indicator_column(tags), fc.indicator_column(crossed),
        fc.embedding_column(color, 3, combiner="mean"),
        fc.embedding_column(shape, 3, combiner="sqrtn"),
        fc.embedding_column(tags, 3, combiner="sum"),
        fc.embedding_column(weighted, 3, combiner="mean"),
        fc.embedding_column(fc.weighted_categorical_column(
            fc.categorical_column_with_vocabulary_list("tags", ["a", "b"]), "tagw2"), 4, combiner="sqrtn"),
        fc.embedding_column(city, 4),
        fc.embedding_column(hour, 4, combiner="sum"),
        fc.embedding_column(crossed, 2, max_norm=0.5),
        shared_a, shared_b,
    ]


def both(layer: DenseFeatures | LinearFeatures, encoded: dict) -> tuple[torch.Tensor, torch.Tensor]:
    layer.fused = True
    fused = layer(encoded)
    layer.fused = False
    reference = layer(encoded)
    layer.fused = True
    return fused, reference


def test_dense_fused_matches_per_column_on_every_kind():
    data = frame()
    cols = dense_columns()
    layer = DenseFeatures(cols, FeatureTransformer(cols).fit(data))
    encoded = layer.encode(data)
    fused, reference = both(layer, encoded)
    assert fused.shape == reference.shape == (64, layer.output_width)
    torch.testing.assert_close(fused, reference, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(fused, layer.forward_per_column(data), atol=1e-6, rtol=1e-6)
    plan = layer._plan
    assert len(plan.ids) == 5 and len(plan.values) == 2  # indicators and bucketized: one scatter
    assert {g.dimension for g in plan.groups} == {3, 4}  # tables grouped by dimension
    assert [s.column.name for s in plan.per_column] == ["color_X_shape_embedding"]  # max_norm keeps its block


def test_dense_fused_batches_and_raw_input_and_single_row():
    data = frame(n=40, seed=3)
    cols = dense_columns()
    layer = DenseFeatures(cols, FeatureTransformer(cols).fit(data))
    encoded = layer.encode(data)
    idx = torch.tensor([5, 0, 39, 5])
    batch = {k: v[idx] for k, v in encoded.items()}
    fused, reference = both(layer, batch)
    torch.testing.assert_close(fused, reference, atol=1e-6, rtol=1e-6)
    one = {k: v[:1] for k, v in encoded.items()}
    torch.testing.assert_close(*both(layer, one), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(layer(data.iloc[:7]), layer.forward_per_column(data.iloc[:7]), atol=1e-6, rtol=1e-6)


def test_dense_fused_gradients_match():
    data = frame(n=32, seed=1)
    cols = dense_columns()
    layer = DenseFeatures(cols, FeatureTransformer(cols).fit(data))
    encoded = layer.encode(data)
    weight = torch.randn(layer.output_width)
    grads = []
    for fused in (True, False):
        layer.zero_grad(set_to_none=True)
        layer.fused = fused
        (layer(encoded) * weight).sum().backward()
        grads.append({k: p.grad.clone() for k, p in layer.named_parameters()})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == 9
    for k in grads[0]:
        torch.testing.assert_close(grads[0][k], grads[1][k], atol=1e-6, rtol=1e-6)


def test_dense_fused_state_dict_keys_unchanged():
    cols = dense_columns()
    layer = DenseFeatures(cols, FeatureTransformer(cols).fit(frame()))
    assert sorted(layer.state_dict()) == sorted(f"embedding_weights.{k}" for k in layer.embedding_weights)


def test_dense_oversized_tables_keep_the_per_column_path(monkeypatch):
    monkeypatch.setattr(fused_module, "MAX_FUSED_ROWS", 10)
    data = frame()
    cols = dense_columns()
    layer = DenseFeatures(cols, FeatureTransformer(cols).fit(data))
    assert not layer._plan.groups
    torch.testing.assert_close(*both(layer, layer.encode(data)), atol=1e-6, rtol=1e-6)


def test_exact_values_of_fused_indicator_and_embedding():
    def fill(t: torch.Tensor) -> None:
        t.copy_(torch.arange(t.numel(), dtype=torch.float32).reshape(t.shape))

    a = fc.categorical_column_with_identity("a", 3)
    b = fc.categorical_column_with_identity("b", 2)
    cols = [fc.indicator_column(a), fc.indicator_column(b), fc.embedding_column(a, 2, initializer=fill),
            fc.embedding_column(b, 2, initializer=fill), fc.numeric_column("n")]
    out = DenseFeatures(cols)({"a": [[2], [-1]], "b": [[1], [0]], "n": [0.5, 1.5]})
    # a_embedding, a_indicator, b_embedding, b_indicator, n
    assert out.tolist() == [[4.0, 5.0, 0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 0.5],
                            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.5]]


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_linear_fused_matches_per_column(combiner):
    data = frame(seed=2)
    tags = fc.categorical_column_with_vocabulary_list("tags", ["a", "b", "c", "d", "e"], num_oov_buckets=1)
    cols = [
        fc.numeric_column("x", normalizer="zscore"),
        fc.numeric_column("y", normalizer_fn=scaled),
        fc.bucketized_column(fc.numeric_column("x"), [-1.0, 0.0, 1.0]),
        fc.bucketized_column(fc.numeric_column("y", normalizer_fn=scaled), [-0.5, 0.5]),
        fc.categorical_column_with_learned_vocabulary("color"),
        fc.categorical_column_with_vocabulary_list("shape", ["sq", "ci", "tr"]),
        fc.weighted_categorical_column(tags, "tagw"),
        fc.categorical_column_with_hash_bucket("city", 50),
        fc.crossed_column(["color", "shape"], 40),
        fc.indicator_column(fc.categorical_column_with_identity("hour", 24)),
        fc.embedding_column(fc.categorical_column_with_identity("hour", 24), 3),
    ]
    layer = LinearFeatures(cols, FeatureTransformer(cols).fit(data), units=2, sparse_combiner=combiner)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape))
    assert (layer._plan is not None) == (combiner == "sum")
    encoded = {k: v for k, v in FeatureTransformer(cols).fit(data).transform(data).items()}
    torch.testing.assert_close(*both(layer, encoded), atol=1e-6, rtol=1e-6)
