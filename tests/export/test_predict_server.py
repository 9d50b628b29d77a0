"""The predict server over real HTTP: TF Serving's REST shapes and its error answers."""

from __future__ import annotations

import json
import shutil
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from export_testing import start_server, stop_server

from estlab.export import load
from estlab.export.server import predict_payload

ROWS = [{"x": 0.25, "k": 2}, {"x": -1.5, "k": 0}]


pytestmark = pytest.mark.slow  # each module starts a server process (a few seconds)


@pytest.fixture(scope="module")
def server(tiny_export):
    process, url = start_server(tiny_export.parent, "tiny", "--max-rows", "50", "--max-body-bytes", "20000")
    yield url
    stop_server(process)


def test_status_and_metadata_follow_tf_serving(server, tiny_export):
    status = httpx.get(f"{server}/v1/models/tiny").json()
    assert status == {
        "model_version_status": [
            {
                "version": tiny_export.name,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert httpx.get(f"{server}/v1/models/tiny/versions/{tiny_export.name}").json() == status
    meta = httpx.get(f"{server}/v1/models/tiny/metadata").json()
    assert meta["model_spec"] == {"name": "tiny", "signature_name": "", "version": tiny_export.name}
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["x"] == {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
        "name": "x:0",
    }
    assert signature["outputs"]["classes"]["dtype"] == "DT_STRING"
    assert sorted(meta["metadata"]["signature_def"]["signature_def"]) == [
        "classification",
        "predict",
        "serving_default",
    ]


def test_row_and_columnar_predict_agree_with_the_loaded_export(server, tiny_export):
    expected = load(tiny_export).predict_columns(ROWS)
    rows = httpx.post(f"{server}/v1/models/tiny:predict", json={"instances": ROWS}).json()["predictions"]
    assert len(rows) == 2 and list(rows[0]) == list(expected)
    np.testing.assert_allclose([r["probabilities"] for r in rows], expected["probabilities"], atol=1e-6)
    assert [r["classes"] for r in rows] == expected["classes"].tolist()
    columnar = httpx.post(
        f"{server}/v1/models/tiny/versions/{tiny_export.name}:predict",
        json={"inputs": {"x": [0.25, -1.5], "k": [2, 0]}},
    ).json()["outputs"]
    assert columnar["classes"] == expected["classes"].tolist()
    np.testing.assert_allclose(columnar["logits"], expected["logits"], atol=1e-6)


def test_classification_signature_by_name(server):
    body = {"signature_name": "classification", "instances": ROWS}
    rows = httpx.post(f"{server}/v1/models/tiny:predict", json=body).json()["predictions"]
    assert list(rows[0]) == ["classes", "scores"] and rows[0]["classes"] == ["low", "mid", "high"]


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"{not json", 400, "JSON Parse error"),
        (b"[1, 2]", 400, "request body must be a JSON object"),
        (json.dumps({"instances": [{"x": 1.0}]}).encode(), 400, "missing input feature 'k'"),
        (json.dumps({"instances": [{"x": "big", "k": 1}]}).encode(), 400, r"'x' expects numbers \(float32\)"),
        (json.dumps({"instances": [{"x": 1.0, "k": "one"}]}).encode(), 400, r"'k' expects integers"),
        (
            json.dumps({"instances": ROWS, "inputs": {}}).encode(),
            400,
            "either 'instances' or 'inputs', not both",
        ),
        (json.dumps({"rows": ROWS}).encode(), 400, "Missing 'inputs' or 'instances' key"),
        (json.dumps({"signature_name": "regress", "instances": ROWS}).encode(), 400, "'regress' not found"),
        (
            json.dumps({"instances": [{"x": 1.0, "k": 1}] * 51}).encode(),
            400,
            "51 rows, more than the limit of 50",
        ),
        (
            json.dumps({"instances": [{"x": 1.0, "k": 1}] * 2000}).encode(),
            413,
            "exceeds the limit of 20000 bytes",
        ),
    ],
)
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_serving(server, body, status, message):
    response = httpx.post(
        f"{server}/v1/models/tiny:predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert __import__("re").search(message, response.json()["error"])
    assert httpx.post(f"{server}/v1/models/tiny:predict", json={"instances": ROWS}).status_code == 200


def test_unknown_model_version_and_path_are_404(server, tiny_export):
    missing = httpx.post(f"{server}/v1/models/other:predict", json={"instances": ROWS})
    assert missing.status_code == 404 and missing.json() == {
        "error": "Servable not found for request: Latest(other)"
    }
    assert httpx.get(f"{server}/v1/models/tiny/versions/1").status_code == 404
    assert httpx.post(f"{server}/v1/models/tiny:explain", json={}).status_code == 404


def test_single_output_signatures_are_unnamed(estimator_export):
    # TF Serving drops the output name when a signature has one output (here: regression → "outputs")
    est, path = estimator_export
    model = load(path)
    rows = [{"age": 30.0, "color": "red"}, {"age": 50.0, "color": "blue"}]
    logistic = [r["logistic"].tolist() for r in est.predict(pd.DataFrame(rows))]
    by_row = predict_payload(model, {"signature_name": "regression", "instances": rows})
    assert list(by_row) == ["predictions"] and np.allclose(by_row["predictions"], logistic, atol=1e-6)
    columnar = predict_payload(
        model, {"signature_name": "regression", "inputs": {"age": [30.0, 50.0], "color": ["red", "blue"]}}
    )
    assert list(columnar) == ["outputs"] and np.allclose(columnar["outputs"], logistic, atol=1e-6)


@pytest.mark.slow
def test_a_served_estimator_maps_unseen_categories_and_refuses_bad_values(estimator_export):
    est, path = estimator_export
    process, url = start_server(path, "income")
    try:
        rows = [{"age": 30.0, "color": "never-seen"}, {"age": 41.0, "color": None}]
        answer = httpx.post(f"{url}/v1/models/income:predict", json={"instances": rows})
        assert answer.status_code == 200
        expected = list(est.predict(pd.DataFrame(rows)))
        got = answer.json()["predictions"]
        np.testing.assert_allclose(
            [r["probabilities"] for r in got], [e["probabilities"] for e in expected], atol=1e-6
        )
        assert [r["classes"] for r in got] == [e["classes"].tolist() for e in expected]
        missing = httpx.post(
            f"{url}/v1/models/income:predict", json={"instances": [{"age": None, "color": "red"}]}
        )
        assert (
            missing.status_code == 400
            and "numeric column 'age' has 1 missing value" in missing.json()["error"]
        )
        wrong = httpx.post(
            f"{url}/v1/models/income:predict", json={"inputs": {"age": ["old"], "color": ["red"]}}
        )
        assert wrong.status_code == 400 and "'age' expects numbers" in wrong.json()["error"]
        assert httpx.get(f"{url}/v1/models/income").json()["model_version_status"][0]["state"] == "AVAILABLE"
    finally:
        stop_server(process)


def test_polling_serves_a_newer_version_once_it_appears(tiny_export, tmp_path):
    base = tmp_path / "versions"
    shutil.copytree(tiny_export, base / tiny_export.name)
    process, url = start_server(base, "tiny", "--poll-seconds", "0.2")
    try:
        assert (
            httpx.get(f"{url}/v1/models/tiny").json()["model_version_status"][0]["version"]
            == tiny_export.name
        )
        newer = str(int(tiny_export.name) + 5)
        shutil.copytree(tiny_export, base / f".tmp-{newer}")
        (base / f".tmp-{newer}").rename(base / newer)  # as the writer does: complete, then renamed
        deadline = time.monotonic() + 20
        version = tiny_export.name
        while version != newer and time.monotonic() < deadline:
            time.sleep(0.3)
            version = httpx.get(f"{url}/v1/models/tiny").json()["model_version_status"][0]["version"]
        assert version == newer
        assert (
            httpx.post(f"{url}/v1/models/tiny/versions/{newer}:predict", json={"instances": ROWS}).status_code
            == 200
        )
    finally:
        stop_server(process)
