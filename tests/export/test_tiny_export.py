"""Write → load → predict with a hand-made module (no feature columns), and ONNX parity."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch
from export_testing import TINY_HEAD, TINY_INPUTS, TinyClassifier, tiny_example

from estlab.export import ExportedModel, InvalidInputError, load, write_export

ROWS = [{"x": 0.25, "k": 2}, {"x": -1.5, "k": 0}, {"x": 3.0, "k": 7}]


def _expected() -> dict[str, np.ndarray]:
    features = {"x": torch.tensor([0.25, -1.5, 3.0]), "k": torch.tensor([2, 0, 7])}
    with torch.no_grad():
        logits = TinyClassifier()(features)
    return {
        "logits": logits.numpy(),
        "probabilities": torch.softmax(logits, 1).numpy(),
        "class_ids": logits.argmax(1, keepdim=True).numpy(),
    }


def test_export_directory_holds_json_and_tensors_only(tiny_export):
    assert sorted(p.name for p in tiny_export.iterdir()) == ["export.json", "model.onnx", "model.pt2"]
    document = json.loads((tiny_export / "export.json").read_text())
    assert document["format"] == "estlab.export" and document["program"]["format"] == "torch.export"
    assert document["metadata"]["torch_version"] == torch.__version__
    assert document["metadata"]["estimator"] == "TinyClassifier"
    assert document["signatures"]["predict"]["outputs"][3] == {
        "name": "classes",
        "dtype": "string",
        "shape": [-1, 1],
    }


def test_loaded_export_predicts_like_the_module(tiny_export):
    model = load(tiny_export.parent)  # the base directory resolves to its newest version
    assert model.path == tiny_export
    rows = model.predict(ROWS)
    expected = _expected()
    assert len(rows) == 3
    assert list(rows[0]) == [
        "logits",
        "probabilities",
        "class_ids",
        "classes",
        "all_class_ids",
        "all_classes",
    ]
    np.testing.assert_allclose(np.stack([r["logits"] for r in rows]), expected["logits"], atol=1e-6)
    np.testing.assert_allclose(
        np.stack([r["probabilities"] for r in rows]), expected["probabilities"], atol=1e-6
    )
    names = np.array(["low", "mid", "high"], dtype=object)
    assert [r["classes"].tolist() for r in rows] == names[expected["class_ids"]].tolist()
    assert rows[0]["all_classes"].tolist() == ["low", "mid", "high"]


def test_the_batch_dimension_is_dynamic(tiny_export):
    model = ExportedModel(tiny_export)
    for n in (1, 2, 5, 300):
        columns = model.predict_columns({"x": np.linspace(-1, 1, n), "k": np.arange(n)})
        assert columns["logits"].shape == (n, 3)
    assert model.predict_columns({"x": [], "k": []})["classes"].shape == (0, 1)


def test_classification_signature(tiny_export):
    out = load(tiny_export).predict_columns(ROWS, "classification")
    assert list(out) == ["classes", "scores"]
    assert out["classes"].tolist()[0] == ["low", "mid", "high"]
    np.testing.assert_allclose(out["scores"], _expected()["probabilities"], atol=1e-6)
    with pytest.raises(
        InvalidInputError, match=r"signature_name 'regression' is not in this export; available"
    ):
        load(tiny_export).predict_columns(ROWS, "regression")


def test_onnx_model_matches_the_torch_program(tiny_export):
    session = onnxruntime.InferenceSession(str(tiny_export / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["x", "k"]
    names = [o.name for o in session.get_outputs()]
    assert names == ["logits", "probabilities", "class_ids", "all_class_ids"]
    features = {"x": np.array([0.25, -1.5, 3.0], np.float32), "k": np.array([2, 0, 7], np.int64)}
    result = dict(zip(names, session.run(None, features)))
    expected = _expected()
    np.testing.assert_allclose(result["logits"], expected["logits"], atol=1e-6)
    np.testing.assert_allclose(result["probabilities"], expected["probabilities"], atol=1e-6)
    np.testing.assert_array_equal(result["class_ids"], expected["class_ids"])


def test_string_inputs_need_a_feature_transformation(tmp_path):
    from estlab.export import TensorSpec

    with pytest.raises(
        ValueError, match="input 'c' is a string but the export has no feature transformation"
    ):
        write_export(
            tmp_path,
            module=TinyClassifier(),
            head=TINY_HEAD,
            inputs=(TensorSpec("c", "string"),),
            example_features=tiny_example(),
            onnx=False,
        )


def test_torchscript_fallback_when_torch_export_cannot_capture(tmp_path):
    class DataDependent(torch.nn.Module):
        def forward(self, features):
            x = features["x"]
            if (
                float(x.sum()) > 1e9
            ):  # Python on a tensor value: torch.export refuses, tracing records one path
                return x
            return torch.stack([x, x * 2, x * 3], dim=1)

    with pytest.warns(UserWarning, match="saved as TorchScript"):
        path = write_export(
            tmp_path,
            module=DataDependent(),
            head=TINY_HEAD,
            inputs=TINY_INPUTS,
            example_features=tiny_example(),
            onnx=False,
        )
    assert (path / "model.ts").is_file()
    with pytest.raises(
        ValueError, match=r"holds a TorchScript program .* load\(path, trust_torchscript=True\)"
    ):
        load(path)
    out = load(path, trust_torchscript=True).predict_columns({"x": [1.0], "k": [0]})
    np.testing.assert_allclose(out["logits"], [[1.0, 2.0, 3.0]])


def test_large_inputs_run_in_batches_with_the_same_results(tiny_export, monkeypatch):
    import estlab.export.loader as loader

    model = load(tiny_export)
    data = {"x": np.linspace(-3, 3, 50), "k": np.arange(50) % 7}
    whole = model.predict_columns(data)
    monkeypatch.setattr(loader, "BATCH_ROWS", 8)
    batched = model.predict_columns(data)
    np.testing.assert_allclose(batched["probabilities"], whole["probabilities"], atol=1e-6)
    assert batched["classes"].tolist() == whole["classes"].tolist() and batched["logits"].shape == (50, 3)


class Payload:
    """A Python object a malicious file could carry."""


def test_program_loading_never_unpickles_python_objects(tmp_path):
    import io
    import pickle

    from estlab.export.program import weights_only_loads

    buffer = io.BytesIO()
    torch.save({"weights": torch.ones(2), "object": Payload()}, buffer)
    with weights_only_loads(), pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)["object"].__class__ is Payload
