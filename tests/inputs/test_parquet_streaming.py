"""Training, evaluating and predicting from parquet streamed chunk by chunk (estlab.inputs.parquet)."""

from __future__ import annotations

import numpy as np
import pytest

from estlab.inputs.parquet import parquet_input_fn
from estlab.training import checkpoints


def test_parquet_stream_trains_resumes_and_evaluates_like_the_frame(make_estimator, binary_frame, tmp_path):
    path = tmp_path / "train.parquet"
    binary_frame.to_parquet(path, row_group_size=16)
    est = make_estimator(save_checkpoints_steps=1000)
    stream = parquet_input_fn(str(path), label="y", batch_size=8, num_epochs=None, shuffle=False)
    est.train(stream, steps=3)
    state = checkpoints.load_checkpoint(est.latest_checkpoint())["meta"]["batcher"]
    assert (state["epoch"], state["position"], state["streaming"]) == (0, 3, True)
    make_estimator(save_checkpoints_steps=1000).train(stream, steps=6)  # resumes mid-epoch in a new object
    state = checkpoints.load_checkpoint(est.latest_checkpoint())["meta"]["batcher"]
    assert (state["epoch"], state["position"]) == (1, 1)
    from_stream = est.evaluate(parquet_input_fn(str(path), label="y", batch_size=7, shuffle=False))
    from_frame = est.evaluate(binary_frame, label="y", batch_size=7)
    assert from_stream == pytest.approx(from_frame)
    predicted = est.predict_frame(parquet_input_fn(str(path), batch_size=10, shuffle=False))
    np.testing.assert_allclose(predicted["logistic"], est.predict_frame(binary_frame)["logistic"], rtol=1e-6)


def test_feature_columns_are_fitted_on_the_stream(tmp_path):
    import pandas as pd
    import torch

    from estlab.estimators.custom import ModelSpec
    from estlab.estimators.estimator import Estimator
    from estlab.estimators.heads import make_head
    from estlab.features import FeatureTransformer, numeric_column

    frame = pd.DataFrame({"x": np.arange(12.0), "y": 2 * np.arange(12.0)})
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=5)
    column = numeric_column("x", normalizer="zscore")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, features):
            return self.linear(features["x"])

    def model_fn(params):
        return ModelSpec(module=Net(), head=make_head(None), feature_columns=[column])

    est = Estimator(model_fn, model_dir=str(tmp_path / "run"))
    est.train(parquet_input_fn(str(tmp_path / "d.parquet"), label="y", batch_size=4, shuffle=True), steps=2)
    meta = checkpoints.load_checkpoint(est.latest_checkpoint())["meta"]
    expected = FeatureTransformer([column]).fit(frame).to_dict()
    assert meta["transformer"] == expected
