"""RunConfig(compile=True): the same training and predictions as eager on a tiny model (CPU, inductor)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab.estimators import DNNClassifier
from estlab.features import numeric_column
from estlab.training.config import RunConfig


@pytest.mark.slow  # inductor compiles forward, backward and the eval forward: ~1.5 minutes on 2 busy cores
def test_compiled_training_matches_eager(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=128).astype("float32"), "b": rng.normal(size=128).astype("float32")}
    )
    frame["y"] = (frame["a"] + frame["b"] > 0).astype(int)
    weights, predictions = {}, {}
    for compiled in (False, True):
        est = DNNClassifier(
            hidden_units=[4],
            feature_columns=[numeric_column("a"), numeric_column("b")],
            model_dir=str(tmp_path / str(compiled)),
            config=RunConfig(random_seed=0, compile=compiled, num_threads=1),
        )
        est.train(frame, label="y", steps=3, batch_size=64)
        weights[compiled] = {n: est.get_variable_value(n) for n in est.get_variable_names()}
        predictions[compiled] = est.predict_frame(frame.drop(columns=["y"]), batch_size=128)[
            "logistic"
        ].to_numpy()
    assert sorted(weights[True]) == ["hidden.0.bias", "hidden.0.weight", "logits.bias", "logits.weight"]
    for name, value in weights[False].items():
        np.testing.assert_allclose(weights[True][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(predictions[True], predictions[False], rtol=1e-5, atol=1e-6)
    assert not np.allclose(predictions[False], predictions[False][0])  # a real, trained model
