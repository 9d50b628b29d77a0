"""A loaded estimator export: predict's options, predict_frame, input errors, the fresh-process contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from export_testing import FRAME

from estlab.export import InvalidInputError, build_raw_serving_input_receiver_fn, load


def test_signature_and_metadata_come_from_the_feature_columns(estimator_export):
    est, path = estimator_export
    model = load(path)
    assert [(s.name, s.dtype) for s in model.inputs] == [("age", "float32"), ("color", "string")]
    assert model.metadata["estimator"] == "LinearClassifier"
    assert model.metadata["global_step"] == 3
    assert model.metadata["metrics"]["accuracy"] == est.evaluate(FRAME, label="label")["accuracy"]
    assert [c["class"] for c in model.metadata["feature_columns"]] == [
        "NumericColumn",
        "LearnedVocabularyColumn",
    ]
    assert model.signatures["regression"].output_names == ["outputs"]


def test_the_columns_are_stored_once_and_read_back_through_the_metadata(estimator_export):
    _, path = estimator_export
    document = json.loads((Path(path) / "export.json").read_text())
    transformer = json.loads((Path(path) / "feature_transformer.json").read_text())
    assert document["metadata"]["feature_columns"] == {"$ref": "feature_transformer.json#/columns"}
    assert [c["class"] for c in transformer["columns"]] == ["NumericColumn", "LearnedVocabularyColumn"]
    assert transformer["columns"][0]["dtype"] == "float32"
    assert load(path).metadata["feature_columns"] == transformer["columns"]


def test_an_estlab_0_1_export_with_the_columns_in_both_files_still_loads(estimator_export, tmp_path):
    est, path = estimator_export
    old = tmp_path / "1700000000"
    shutil.copytree(path, old)
    transformer = json.loads((old / "feature_transformer.json").read_text())
    transformer["columns"][0]["dtype"] = {"dtype": "float32"}  # 0.1 wrote torch dtypes this way
    (old / "feature_transformer.json").write_text(json.dumps(transformer))
    document = json.loads((old / "export.json").read_text())
    document["metadata"]["feature_columns"] = transformer["columns"]
    del document["files"]  # estlab 0.1 recorded no checksums
    (old / "export.json").write_text(json.dumps(document))
    model = load(old)
    assert model.metadata["feature_columns"] == transformer["columns"]
    np.testing.assert_allclose(
        model.predict_frame(FRAME)["logits"], est.predict_frame(FRAME)["logits"], atol=1e-6
    )


def test_a_reference_outside_the_export_is_refused(estimator_export, tmp_path):
    _, path = estimator_export
    copy = tmp_path / "1700000001"
    shutil.copytree(path, copy)
    document = json.loads((copy / "export.json").read_text())
    document["metadata"]["feature_columns"] = {"$ref": "../secrets.json#/columns"}
    (copy / "export.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"reference '../secrets.json#/columns' must name a file of the export"):
        load(copy)


def test_predict_options_and_predict_frame_match_the_estimator(estimator_export):
    est, path = estimator_export
    model = load(path)
    assert [r["classes"].tolist() for r in model.predict(FRAME, "classes")] == [
        r["classes"].tolist() for r in est.predict(FRAME, "classes")
    ]
    batch = model.predict(FRAME, ["logistic"], yield_single_examples=False)
    assert len(batch) == 1 and batch[0]["logistic"].shape == (8, 1)
    pd.testing.assert_frame_equal(model.predict_frame(FRAME), est.predict_frame(FRAME), atol=1e-6)
    with pytest.raises(
        InvalidInputError, match=r"predict_keys: \['nope'\] are not predictions of this model"
    ):
        model.predict(FRAME, "nope")


def test_unseen_categories_go_to_oov_but_wrong_types_are_refused(estimator_export):
    est, path = estimator_export
    model = load(path)
    rows = [{"age": 30.0, "color": "purple"}]
    np.testing.assert_allclose(
        model.predict(rows)[0]["logits"], next(est.predict(pd.DataFrame(rows)))["logits"], atol=1e-6
    )
    with pytest.raises(InvalidInputError, match=r"'color' expects a string; row 0 has 7 \(int\)"):
        model.predict([{"age": 30.0, "color": 7}])


def test_receiver_fn_declares_the_inputs_and_defaults(estimator_export, tmp_path):
    est, _ = estimator_export
    receiver = build_raw_serving_input_receiver_fn({"age": "float32"}, defaults={"color": "red"})
    model = load(est.export_saved_model(str(tmp_path), receiver, onnx=False))
    assert [s.name for s in model.inputs] == ["age"]
    got = model.predict([{"age": 40.0}])[0]["logits"]
    np.testing.assert_allclose(
        got, next(est.predict(pd.DataFrame({"age": [40.0], "color": ["red"]})))["logits"], atol=1e-6
    )
    incomplete = build_raw_serving_input_receiver_fn({"age": "float32"})
    with pytest.raises(
        ValueError, match=r"the receiver lacks input\(s\) \['color'\] that the feature columns read"
    ):
        est.export_saved_model(str(tmp_path), incomplete, onnx=False)


@pytest.mark.slow
def test_loading_imports_neither_training_nor_estimators(estimator_export):
    _, path = estimator_export
    script = (
        "import sys; from estlab.export import load; m = load(sys.argv[1]); "
        "print(m.predict([{'age': 30.0, 'color': 'red'}])[0]['classes'][0]); "
        "print(sorted(k for k in sys.modules if k.startswith(('estlab.training', 'estlab.estimators'))))"
    )
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    label, modules = done.stdout.strip().splitlines()[-2:]
    assert label in ("no", "yes") and modules == "[]"
