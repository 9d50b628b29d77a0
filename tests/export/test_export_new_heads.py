"""Heads without a TF-Serving output layout of their own export their numeric predictions as traced outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab import export
from estlab import feature_column as fc
from estlab.estimators.head_estimators import DNNEstimator
from estlab.estimators.heads import LogisticRegressionHead, PoissonRegressionHead


@pytest.mark.parametrize("head_cls", [PoissonRegressionHead, LogisticRegressionHead])
def test_exported_predictions_equal_the_estimators(tmp_path, head_cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=64)
    y = rng.poisson(np.exp(0.5 * x)).astype(float) if head_cls is PoissonRegressionHead else (x > 0).astype(float)
    frame = pd.DataFrame({"x": x, "y": y})
    est = DNNEstimator(head_cls(), [8], [fc.numeric_column("x")], str(tmp_path / "m"))
    est.train(frame, label="y", steps=5)
    path = est.export_saved_model(str(tmp_path / "export"))
    features = frame.drop(columns="y")
    served = export.load(path).predict_frame(features)
    expected = est.predict_frame(features)
    assert list(served.columns) == ["predictions", "logits"]
    np.testing.assert_allclose(served["predictions"], expected["predictions"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(served["logits"], expected["logits"], rtol=0, atol=1e-6)
