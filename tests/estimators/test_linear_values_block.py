"""LinearFeatures' numeric columns as one block: the same output and gradients as one matmul per column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from estlab.features import (
    FeatureTransformer,
    LinearFeatures,
    bucketized_column,
    categorical_column_with_vocabulary_list,
    numeric_column,
)


def test_values_block_matches_the_per_column_path() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=50),
            "b": rng.normal(size=50),
            "v": rng.normal(size=(50,)),
            "c": rng.choice(["x", "y", "z"], 50),
        }
    )
    columns = [
        numeric_column("a", normalizer="zscore"),
        numeric_column("b", normalizer_fn=lambda t: t * 2.0),
        categorical_column_with_vocabulary_list("c", ["x", "y", "z"]),
        bucketized_column(numeric_column("v"), [-1.0, 0.0, 1.0]),
    ]
    transformer = FeatureTransformer(columns).fit(frame)
    layer = LinearFeatures(columns, units=3).bind(transformer)
    assert [c.name for c in layer._values_block] == ["a", "b"]
    with torch.no_grad():
        for name, weight in layer.weights.items():
            weight.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(len(name))))
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    encoded = transformer.transform(frame)
    outputs, grads = {}, {}
    for fused in (True, False):
        layer.fused = fused
        layer.zero_grad()
        out = layer(encoded)
        (out**2).sum().backward()
        outputs[fused] = out.detach()
        grads[fused] = {k: w.grad.clone() for k, w in layer.weights.items()}
    torch.testing.assert_close(outputs[True], outputs[False], rtol=1e-6, atol=1e-6)
    for key in grads[False]:
        torch.testing.assert_close(grads[True][key], grads[False][key], rtol=1e-5, atol=1e-5)
