"""export_saved_model's signature derivation, options and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.estimators import Estimator, make_head
from estlab.estimators.custom import ModelSpec
from estlab.export import TensorSpec, load
from estlab.export.estimator_export import derive_inputs
from estlab.features import FeatureTransformer


def test_inputs_are_derived_from_every_kind_of_column(tiny_frame):
    frame = tiny_frame.assign(tags=["x", "y"] * 4, hours_f=tiny_frame["hours"].astype(float))
    columns = [
        fc.numeric_column("age", default_value=0.0),
        fc.bucketized_column(fc.numeric_column("hours_f"), [30.0, 45.0]),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])),
        fc.categorical_column_with_identity("user_id", 200),
        fc.categorical_column_with_hash_bucket("city", 8),
        fc.categorical_column_with_hash_bucket("hours", 8, dtype=int),
        fc.categorical_column_with_learned_vocabulary("label"),
        fc.weighted_categorical_column(
            fc.categorical_column_with_vocabulary_list("tags", ["x", "y"]), "hours_f"
        ),
        fc.numeric_column("pair", shape=2),
    ]
    frame["pair"] = [[1.0, 2.0]] * 8
    transformer = FeatureTransformer(columns).fit(frame)
    assert derive_inputs(transformer) == (
        TensorSpec("age", "float32"),
        TensorSpec("city", "string"),
        TensorSpec("color", "string"),
        TensorSpec("hours", "int64"),
        TensorSpec("hours_f", "float32"),
        TensorSpec("label", "int64"),
        TensorSpec("pair", "float32", (-1, 2)),
        TensorSpec("tags", "string"),
        TensorSpec("user_id", "int64"),
    )


class _Raw(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x.unsqueeze(1))


def _loss(logits, labels):
    return torch.nn.functional.mse_loss(logits.squeeze(1), labels)


@pytest.fixture(scope="module")
def raw_estimator(tmp_path_factory):
    def model_fn(params):
        return ModelSpec(
            module=_Raw(),
            loss_fn=_loss,
            input_names=("x",),
            predictions_fn=lambda logits: {"value": logits, "label": ["a"] * len(logits)},
        )

    est = Estimator(model_fn, model_dir=str(tmp_path_factory.mktemp("raw")))
    est.train(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0, 3.0]}), label="y", steps=1)
    return est


def test_raw_tensor_models_need_a_receiver(raw_estimator, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"reads raw tensors \['x'\] \(no feature columns\), so the serving "
        r"signature cannot be derived; pass serving_input_receiver_fn=",
    ):
        raw_estimator.export_saved_model(str(tmp_path))


def test_custom_predictions_must_be_tensors(raw_estimator, tmp_path):
    from estlab.export import build_raw_serving_input_receiver_fn

    receiver = build_raw_serving_input_receiver_fn({"x": "float32"})
    with pytest.raises(
        TypeError, match="predictions_fn returned list for 'label'; an export needs tensors only"
    ):
        raw_estimator.export_saved_model(str(tmp_path), receiver)


def test_only_the_predict_mode_exports(raw_estimator, tmp_path):
    with pytest.raises(ValueError, match=r"experimental_mode='train': only the predict mode \('infer'\)"):
        raw_estimator.export_saved_model(str(tmp_path), experimental_mode="train")


def test_baseline_like_models_read_only_the_row_count_and_assets_are_copied(tmp_path):
    from estlab.estimators import BaselineClassifier

    est = BaselineClassifier(n_classes=3, model_dir=str(tmp_path / "m"))
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 1]})
    est.train(frame, label="y", steps=2)
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    path = est.export_saved_model(
        str(tmp_path / "e"), assets_extra={"vocab/v.txt": str(tmp_path / "vocab.txt")}, onnx=False
    )
    assert (
        tmp_path / "e" / path.rsplit("/", 1)[-1] / "assets.extra" / "vocab" / "v.txt"
    ).read_text() == "a\nb\n"
    model = load(path)
    assert model.inputs == ()
    got = np.stack([r["probabilities"] for r in model.predict([{}, {"anything": 1}])])
    np.testing.assert_allclose(
        got, np.stack([r["probabilities"] for r in est.predict(frame.head(2))]), atol=1e-6
    )
    with pytest.raises(ValueError, match="leaves assets.extra/"):
        est.export_saved_model(
            str(tmp_path / "e"), assets_extra={"../x": str(tmp_path / "vocab.txt")}, onnx=False
        )


def test_an_untrained_estimator_cannot_export(tmp_path):
    est = Estimator(
        lambda params: ModelSpec(module=_Raw(), head=make_head(None), input_names=("x",)),
        model_dir=str(tmp_path),
    )
    with pytest.raises(ValueError, match="call train\\(\\) first"):
        est.export_saved_model(str(tmp_path / "export"))
