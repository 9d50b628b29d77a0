"""Fixtures of the export tests: a tiny hand-made export and a trained estimator's export."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_testing import FRAME, TINY_HEAD, TINY_INPUTS, TinyClassifier, tiny_example

from estlab.export import write_export


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export (with ONNX) of TinyClassifier under a base directory; returns the version path."""
    base = tmp_path_factory.mktemp("tiny") / "export"
    return write_export(
        base,
        module=TinyClassifier(),
        head=TINY_HEAD,
        inputs=TINY_INPUTS,
        example_features=tiny_example(),
        metadata={"estimator": "TinyClassifier"},
    )


@pytest.fixture(scope="session")
def estimator_export(tmp_path_factory: pytest.TempPathFactory):
    """A LinearClassifier (zscore age, learned-vocabulary color) trained 3 steps, and its export path."""
    from estlab import feature_column as fc
    from estlab.estimators import LinearClassifier

    base = tmp_path_factory.mktemp("linear")
    columns = [
        fc.numeric_column("age", normalizer="zscore"),
        fc.categorical_column_with_learned_vocabulary("color"),
    ]
    est = LinearClassifier(
        columns, label_vocabulary=["no", "yes"], model_dir=str(base / "model"), optimizer="SGD"
    )
    est.train(FRAME, label="label", steps=3, batch_size=4)
    est.evaluate(FRAME, label="label")
    return est, est.export_saved_model(str(base / "export"), onnx=False)
