"""Any callable in a column, as in TF: a lambda or closure ``normalizer_fn`` trains, checkpoints, resumes in a
new process (whose code builds the columns with its own lambdas), exports into the program and serves; files
hold learned state only, and loading one never imports anything it names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from column_functions_child import make_frame
from export_testing import reseal

from estlab import export
from estlab import feature_column as fc
from estlab.estimators import DNNClassifier, LinearClassifier
from estlab.features import FeatureColumnError
from estlab.training import checkpoints

CHILD = Path(__file__).with_name("column_functions_child.py")


def _build(model_dir: str) -> DNNClassifier:
    """The child's estimator, built here with this process's own lambda and closure."""
    frame = make_frame()
    mean, std = float(frame["age"].mean()), float(frame["age"].std())

    def scaler(center: float, scale: float):
        return lambda x: (x - center) / scale

    hours = fc.numeric_column("hours", normalizer_fn=scaler(1000.0, 300.0))
    columns = [fc.numeric_column("age", normalizer_fn=lambda x: (x - mean) / std), hours,
               fc.bucketized_column(hours, [-1.0, 0.0, 1.0]),
               fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "blue", "green"]))]
    return DNNClassifier([8], columns, model_dir=model_dir, optimizer="Adam", learning_rate=0.05)


def test_lambda_normalizer_trains_checkpoints_resumes_in_a_new_process_exports_and_serves(tmp_path):
    frame = make_frame()
    model_dir, export_base, out = tmp_path / "model", tmp_path / "export", tmp_path / "child.json"
    est = _build(str(model_dir))
    est.train(frame, label="label", steps=20, batch_size=16)  # checkpoints at the end: no "can't be saved"
    trained = est.evaluate(frame, label="label")
    assert trained["global_step"] == 20 and trained["accuracy"] > 0.85

    saved = checkpoints.load_latest(model_dir)[1]["meta"]["transformer"]
    age, hours = saved["columns"][0], saved["columns"][1]
    assert set(age["normalizer_fn"]) == {"function"} and age["normalizer_fn"]["function"].endswith(
        "_build.<locals>.<lambda>")  # a description for people, never imported
    assert hours["normalizer_fn"]["function"].endswith("_build.<locals>.scaler.<locals>.<lambda>")

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHILD.parent),
                                                                      os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, str(CHILD), str(model_dir), str(export_base), str(out)], check=True, env=env,
                   timeout=300)
    child = json.loads(out.read_text())
    assert child["restored"] == trained  # the new process restored the same model: identical metrics
    assert child["resumed"]["global_step"] == 30
    np.testing.assert_allclose(child["export_logistic"], child["estimator_logistic"], rtol=0, atol=1e-6)

    # this process, with its own lambdas, reads the child's checkpoint and agrees with its evaluation
    assert _build(str(model_dir)).evaluate(frame, label="label") == child["resumed"]
    # the export serves here too: the normalizers are in its program, not imported from anywhere
    loaded = export.load(child["export"])
    served = np.concatenate([row["logistic"] for row in loaded.predict(frame.drop(columns="label"))])
    np.testing.assert_allclose(served, child["estimator_logistic"], rtol=0, atol=1e-6)
    document = (Path(child["export"]) / "feature_transformer.json").read_text()
    assert '"callable"' not in document and "<lambda>" in document


def test_the_normalizer_runs_in_the_exported_program(tmp_path):
    frame = make_frame()
    age = fc.numeric_column("age", normalizer_fn=lambda x: x * 0.5 - 20.0)
    est = LinearClassifier([age], model_dir=str(tmp_path / "m"), optimizer="SGD")
    est.train(frame, label="label", steps=2, batch_size=16)
    path = est.export_saved_model(str(tmp_path / "export"), onnx=False)
    loaded = export.load(path)
    weight = float(est.get_variable_value("weights.age")[0, 0])
    bias = float(est.get_variable_value("bias")[0])
    assert weight != 0.0
    expected = np.array([10.0, 50.0]) * 0.5 - 20.0
    np.testing.assert_allclose(loaded.predict_columns({"age": [10.0, 50.0]})["logits"].ravel(),
                               expected * weight + bias, rtol=1e-6, atol=1e-6)


def test_an_untraceable_normalizer_fails_at_export_naming_the_column(tmp_path):
    frame = make_frame()
    age = fc.numeric_column("age", normalizer_fn=lambda x: torch.from_numpy(np.log1p(x.numpy())))
    est = LinearClassifier([age, fc.numeric_column("hours")], model_dir=str(tmp_path / "m"), optimizer="SGD")
    est.train(frame, label="label", steps=2, batch_size=16)  # training and checkpointing work
    assert est.evaluate(frame, label="label")["global_step"] == 2
    with pytest.raises(FeatureColumnError, match=r"export: column 'age': normalizer_fn .*<lambda> can't be "
                                                 r"captured by torch\.export"):
        est.export_saved_model(str(tmp_path / "export"), onnx=False)
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").iterdir())


def test_a_cross_over_a_normalized_bucketization_fails_at_export_naming_it():
    from estlab.export.functions import check_column_functions
    from estlab.features import FeatureTransformer

    bucketized = fc.bucketized_column(fc.numeric_column("age", normalizer_fn=lambda x: x / 10.0), [3.0, 5.0])
    assert check_column_functions(FeatureTransformer([fc.indicator_column(bucketized)])) == ["age"]
    cross = fc.crossed_column([bucketized, "color"], 20)
    with pytest.raises(FeatureColumnError, match=r"export: column 'age_bucketized_X_color' reads 'age_bucketized', "
                                                 r"whose source has a normalizer_fn"):
        check_column_functions(FeatureTransformer([fc.indicator_column(cross)]))


@pytest.fixture
def import_marker(tmp_path, monkeypatch):
    """A module that, if ever imported, writes a file: ``(import path for a column dict, marker file)``."""
    package = tmp_path / "planted"
    package.mkdir()
    marker = tmp_path / "imported.txt"
    (package / "estlab_planted_module.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n\ndef run(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(package))
    yield "estlab_planted_module:run", marker
    assert "estlab_planted_module" not in sys.modules


def test_a_crafted_export_naming_callables_imports_nothing(estimator_export, tmp_path, import_marker):
    planted, marker = import_marker
    _, path = estimator_export
    crafted = tmp_path / "crafted"
    shutil.copytree(path, crafted)
    document = json.loads((crafted / "feature_transformer.json").read_text())
    document["columns"][0]["normalizer_fn"] = {"callable": "os:system"}
    (crafted / "feature_transformer.json").write_text(json.dumps(document))
    reseal(crafted)
    with pytest.raises(ValueError, match=r"column 'age' names its normalizer_fn by import path \('os:system'\), "
                                         r"which estlab never imports"):
        export.load(crafted)
    document["columns"][0]["normalizer_fn"] = {"callable": planted}
    (crafted / "feature_transformer.json").write_text(json.dumps(document))
    reseal(crafted)
    with pytest.raises(ValueError, match=r"never imports"):
        export.load(crafted)
    assert not marker.exists()


def test_a_crafted_checkpoint_naming_callables_imports_nothing(tmp_path, import_marker):
    planted, marker = import_marker
    frame = make_frame()

    def columns(fn):
        return [fc.numeric_column("age", normalizer_fn=fn), fc.numeric_column("hours", normalizer="zscore")]

    model_dir = tmp_path / "m"
    est = LinearClassifier(columns(lambda x: x / 50.0), model_dir=str(model_dir), optimizer="SGD")
    est.train(frame, label="label", steps=2, batch_size=16)
    expected = est.evaluate(frame, label="label")
    path, data = checkpoints.load_latest(model_dir)
    meta = data.pop("meta")
    meta["transformer"]["columns"][0]["normalizer_fn"] = {"callable": planted}  # as estlab 0.1 wrote it
    meta["transformer"]["columns"][1]["normalizer_fn"] = {"callable": "os:system"}
    checkpoints.save_checkpoint(path, data, meta)
    # the columns come from code, the state (hours' statistics) from the checkpoint: nothing is imported
    with pytest.raises(ValueError, match=r"checkpoint does not fit this estimator's feature columns: .*only saved: "
                                         r".*\"hours\".*only in the code: .*\"hours\""):
        LinearClassifier(columns(lambda x: x / 50.0), model_dir=str(model_dir), optimizer="SGD").evaluate(
            frame, label="label")
    meta["transformer"]["columns"][1]["normalizer_fn"] = None
    checkpoints.save_checkpoint(path, data, meta)
    again = LinearClassifier(columns(lambda x: x / 50.0), model_dir=str(model_dir), optimizer="SGD")
    assert again.evaluate(frame, label="label") == expected
    assert not marker.exists()
