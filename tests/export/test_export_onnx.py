"""The ONNX file of a premade estimator's export gives the estimator's predictions (onnxruntime)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest

from estlab import datasets
from estlab import feature_column as fc
from estlab.estimators import BoostedTreesClassifier, DNNLinearCombinedClassifier
from estlab.features import FeatureTransformer


def _columns():
    education = fc.categorical_column_with_learned_vocabulary("education")
    occupation = fc.categorical_column_with_hash_bucket("occupation", 16)
    age = fc.numeric_column("age", normalizer="zscore")
    hours = fc.bucketized_column(fc.numeric_column("hours_per_week"), [30, 40, 50])
    return education, occupation, age, hours


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wide_and_deep", "boosted_trees"])
def test_onnx_runtime_matches_estimator_predict(kind, tmp_path):
    train, test = datasets.load_adult()
    train, test = train.head(300), test.head(40)
    education, occupation, age, hours = _columns()
    vocab = ["<=50K", ">50K"]
    if kind == "wide_and_deep":
        est = DNNLinearCombinedClassifier(
            linear_feature_columns=[education, occupation, fc.crossed_column(["education", "gender"], 32)],
            dnn_feature_columns=[age, hours, fc.embedding_column(occupation, 3)],
            dnn_hidden_units=[8],
            label_vocabulary=vocab,
            model_dir=str(tmp_path / "m"),
        )
    else:
        est = BoostedTreesClassifier(
            [age, hours, fc.indicator_column(education)],
            n_trees=5,
            min_child_samples=5,
            label_vocabulary=vocab,
            model_dir=str(tmp_path / "m"),
        )
    est.train(train, label="income_bracket", steps=5, batch_size=64)
    path = est.export_saved_model(str(tmp_path / "export"))
    document = json.loads((tmp_path / "export" / path.rsplit("/", 1)[-1] / "export.json").read_text())
    assert document["onnx"] is not None, document["onnx_error"]
    transformer = FeatureTransformer.from_dict(
        json.loads((tmp_path / "export" / path.rsplit("/", 1)[-1] / "feature_transformer.json").read_text())
    )
    encoded = {k: v.numpy() for k, v in transformer.transform(test.drop(columns=["income_bracket"])).items()}
    session = onnxruntime.InferenceSession(f"{path}/model.onnx")
    names = [o.name for o in session.get_outputs()]
    result = dict(zip(names, session.run(None, {i.name: encoded[i.name] for i in session.get_inputs()})))
    expected = list(est.predict(test))
    np.testing.assert_allclose(result["logits"], np.stack([r["logits"] for r in expected]), atol=1e-5)
    np.testing.assert_allclose(
        result["probabilities"], np.stack([r["probabilities"] for r in expected]), atol=1e-6
    )
    np.testing.assert_array_equal(result["class_ids"], np.stack([r["class_ids"] for r in expected]))


def test_without_the_onnx_extra_an_export_says_why_in_its_record_and_warns_nothing(tmp_path, monkeypatch):
    import warnings

    from estlab.estimators import LinearClassifier
    from estlab.export import writer

    monkeypatch.setattr(writer, "onnx_installed", lambda: False)  # what a core install (no estlab[onnx]) sees
    train = datasets.load_adult().train.head(200)
    est = LinearClassifier([fc.numeric_column("age")], label_vocabulary=["<=50K", ">50K"],
                           model_dir=str(tmp_path / "m"))
    est.train(train, label="income_bracket", steps=2, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = est.export_saved_model(str(tmp_path / "export"))
    document = json.loads((tmp_path / "export" / path.rsplit("/", 1)[-1] / "export.json").read_text())
    assert document["onnx"] is None
    assert "onnx extra is not installed" in document["onnx_error"]
    assert not (tmp_path / "export" / path.rsplit("/", 1)[-1] / "model.onnx").exists()
