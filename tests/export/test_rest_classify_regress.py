"""TF Serving's REST ``:classify`` and ``:regress``: examples (with context, b64) in, ``results`` out,
equal to ``Estimator.predict``, through the same batching as ``:predict``; TF Serving's errors."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from export_testing import FRAME, start_server, stop_server
from starlette.testclient import TestClient

from estlab.export import load
from estlab.export.batching import BatchingParameters
from estlab.export.rest_examples import parse_examples_payload
from estlab.export.rest_request import RequestError
from estlab.export.server import create_app, examples_payload

ROWS = [
    {"age": 25.0, "color": "red"},
    {"age": 38.0, "color": "blue"},
    {"age": 61.0, "color": "never-seen"},
    {"age": 44.0, "color": None},
]


def _train(kind: str, model_dir: str):
    from estlab import feature_column as fc
    from estlab.estimators import LinearClassifier, LinearRegressor

    columns = [
        fc.numeric_column("age", normalizer="zscore"),
        fc.categorical_column_with_learned_vocabulary("color"),
    ]
    frame = FRAME.copy()
    if kind == "multiclass":
        frame["label"] = ["a", "b", "c", "a", "b", "c", "a", "b"]
        est = LinearClassifier(
            columns, n_classes=3, label_vocabulary=["a", "b", "c"], model_dir=model_dir, optimizer="SGD"
        )
    else:
        frame["label"] = frame["age"] / 10.0
        est = LinearRegressor(columns, model_dir=model_dir, optimizer="SGD")
    est.train(frame, label="label", steps=3, batch_size=4)
    return est


@pytest.fixture(scope="module")
def multiclass_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("multiclass")
    est = _train("multiclass", str(base / "model"))
    return est, est.export_saved_model(str(base / "export"), onnx=False)


@pytest.fixture(scope="module")
def regression_export(tmp_path_factory):
    base = tmp_path_factory.mktemp("regression")
    est = _train("regression", str(base / "model"))
    return est, est.export_saved_model(str(base / "export"), onnx=False)


def _predicted(est, rows: list[dict]) -> list[dict]:
    return list(est.predict(pd.DataFrame(rows)))


def _assert_classified(results: list, expected: list[dict]) -> None:
    """Each example's [[label, score], ...] are all_classes with their probabilities, in class order."""
    assert len(results) == len(expected)
    for pairs, want in zip(results, expected):
        assert [label for label, _ in pairs] == want["all_classes"].tolist()
        np.testing.assert_allclose([score for _, score in pairs], want["probabilities"], rtol=0, atol=1e-6)
        assert all(isinstance(score, float) for _, score in pairs)


def _post(client: TestClient, url: str, body) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, content=content, headers={"content-type": "application/json"})


def test_binary_classify_gives_each_class_and_its_probability(estimator_export):
    est, path = estimator_export
    expected = _predicted(est, ROWS)
    with TestClient(create_app(path, "income")) as client:
        plain = _post(client, "/v1/models/income:classify", {"examples": ROWS})
        named = _post(
            client,
            f"/v1/models/income/versions/{Path(path).name}:classify",
            {"signature_name": "classification", "examples": ROWS},
        )
    assert plain.status_code == 200, plain.text
    assert list(plain.json()) == ["results"]
    _assert_classified(plain.json()["results"], expected)
    assert named.json() == plain.json()
    assert plain.json()["results"][0][0][0] == "no" and plain.json()["results"][0][1][0] == "yes"


def test_binary_regress_gives_the_logistic_under_the_regression_signature(estimator_export):
    est, path = estimator_export
    expected = _predicted(est, ROWS)
    with TestClient(create_app(path, "income")) as client:
        response = _post(
            client, "/v1/models/income:regress", {"signature_name": "regression", "examples": ROWS}
        )
        default = _post(client, "/v1/models/income:regress", {"examples": ROWS})
    assert response.status_code == 200, response.text
    values = response.json()["results"]
    assert len(values) == len(ROWS) and all(isinstance(v, float) for v in values)
    np.testing.assert_allclose(values, [e["logistic"][0] for e in expected], rtol=0, atol=1e-6)
    # as TF Serving: a binary classifier's default signature classifies, so :regress must name "regression"
    assert default.status_code == 400
    assert default.json() == {
        "error": "Expected regression signature method_name to be tensorflow/serving/regress. Was: "
        "tensorflow/serving/classify; name one of this export's regression signatures with "
        "\"signature_name\": ['regression']"
    }


def test_multiclass_classify_and_its_missing_regression_signature(multiclass_export):
    est, path = multiclass_export
    expected = _predicted(est, ROWS)
    with TestClient(create_app(path, "m")) as client:
        response = _post(client, "/v1/models/m:classify", {"examples": ROWS})
        regress = _post(client, "/v1/models/m:regress", {"examples": ROWS})
        named = _post(client, "/v1/models/m:regress", {"signature_name": "regression", "examples": ROWS})
        predict = _post(client, "/v1/models/m:classify", {"signature_name": "predict", "examples": ROWS})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    _assert_classified(results, expected)
    assert [[label for label, _ in pairs] for pairs in results] == [["a", "b", "c"]] * len(ROWS)
    no_regression = (
        "this export has no regression signature (its head does not regress): use :predict or :classify"
    )
    assert regress.status_code == 400 and regress.json()["error"] == (
        "Expected regression signature method_name to be tensorflow/serving/regress. "
        f"Was: tensorflow/serving/classify; {no_regression}"
    )
    assert named.status_code == 400 and named.json()["error"] == (
        f"No signature was found with the name: regression; {no_regression}"
    )
    assert predict.status_code == 400 and predict.json()["error"].startswith(
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict; name one of this export's classification signatures"
    )


def test_regressor_regress_by_default_and_refuses_classify(regression_export):
    est, path = regression_export
    expected = _predicted(est, ROWS)
    model = load(path)
    payload = examples_payload(model, "regress", {"examples": ROWS})
    np.testing.assert_allclose(payload["results"], [e["predictions"][0] for e in expected], rtol=0, atol=1e-6)
    with TestClient(create_app(path, "r")) as client:
        response = _post(client, "/v1/models/r:regress", {"examples": ROWS})
        classify = _post(client, "/v1/models/r:classify", {"examples": ROWS})
    assert response.status_code == 200 and response.json() == payload
    assert classify.status_code == 400 and classify.json()["error"] == (
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/regress; this export has no classification signature (its head does not "
        "classify): use :predict or :regress"
    )


def test_context_features_are_merged_into_every_example(estimator_export):
    est, path = estimator_export
    model = load(path)
    merged = examples_payload(
        model, "classify", {"context": {"color": "blue"}, "examples": [{"age": 30.0}, {"age": 50.0}]}
    )
    _assert_classified(
        merged["results"], _predicted(est, [{"age": 30.0, "color": "blue"}, {"age": 50.0, "color": "blue"}])
    )
    # every feature from the context, examples empty objects
    only_context = examples_payload(
        model, "classify", {"context": {"age": 30.0, "color": "red"}, "examples": [{}, {}]}
    )
    (want,) = _predicted(est, [{"age": 30.0, "color": "red"}])
    _assert_classified(only_context["results"], [want, want])
    with pytest.raises(RequestError, match="feature 'color' is in both 'context' and example 1"):
        examples_payload(
            model,
            "classify",
            {"context": {"color": "red"}, "examples": [{"age": 1.0}, {"age": 2.0, "color": "x"}]},
        )


def test_tf_example_values_lists_and_b64_bytes(estimator_export):
    est, path = estimator_export
    model = load(path)
    blue = base64.b64encode(b"blue").decode()
    got = examples_payload(
        model,
        "classify",
        {"examples": [{"age": [38.0], "color": {"b64": blue}}, {"age": 25, "color": [{"b64": blue}]}]},
    )
    _assert_classified(
        got["results"], _predicted(est, [{"age": 38.0, "color": "blue"}, {"age": 25.0, "color": "blue"}])
    )
    with TestClient(create_app(path, "income")) as client:  # over HTTP too, bytes in the context
        response = _post(
            client,
            "/v1/models/income:classify",
            {"context": {"color": {"b64": blue}}, "examples": [{"age": 38.0}]},
        )
    assert response.json()["results"] == got["results"][:1]


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"instances": ROWS},
            "When method is classify, key 'examples' is expected and was not found; 'instances'",
        ),
        ({"examples": {"age": 1.0}}, "Expecting 'examples' value to be an list/array; got JSON Object"),
        ({"examples": []}, "'examples' value is an empty array"),
        ({"examples": [ROWS[0], [1, 2]]}, r"Example must be JSON object but got JSON Array \(example 1\)"),
        ({"context": [1], "examples": ROWS[:2]}, "'context' must be a JSON object"),
        ({"signature_name": 3, "examples": ROWS}, "'signature_name' key must be a string value"),
        (
            {"signature_name": "nope", "examples": ROWS[:2]},
            r"No signature was found with the name: nope; name one .*\['classification'\]",
        ),
        ({"examples": [{"age": 30.0}]}, r"Feature: 'color' is required but could not be found in example 0"),
        (
            {"examples": [{"age": "old", "color": "red"}]},
            r"input feature 'age' expects numbers \(float32\); example 0 has 'old'",
        ),
        (
            {"examples": [ROWS[0], {"age": 1e39, "color": "red"}]},
            "input feature 'age' example 1 has 1e\\+39, beyond the range of float32",
        ),
        (
            {"examples": [{"age": [1.0, 2.0], "color": "red"}]},
            "Feature: 'age' of example 0 has 2 values; the input takes one value",
        ),
        (
            {"examples": [{"age": [[1.0]], "color": "red"}]},
            "Feature: 'age' of example 0 has element with unexpected JSON type: Array",
        ),
        (
            {"examples": [{"age": 1.0, "color": {"text": "red"}}]},
            "has element with unexpected JSON type: Object",
        ),
        (
            {"examples": [{"age": 1.0, "color": {"b64": "not base64!"}}]},
            "Unable to base64 decode feature 'color' of example 0",
        ),
        ({"examples": [{"age": 1.0, "color": {"b64": "/w=="}}]}, "its b64 bytes are not UTF-8 text"),
        (
            {"examples": [{"age": {"b64": "MQ=="}, "color": "red"}]},
            r"Feature: 'age' of example 0 is bytes .* the input is float32",
        ),
        ({"examples": [ROWS[0]] * 4}, "Request has 4 examples, more than the limit of 3"),
    ],
)
def test_bad_requests_get_tf_serving_errors(estimator_export, payload, message):
    _, path = estimator_export
    with TestClient(create_app(path, "income", max_rows=3)) as client:
        response = _post(client, "/v1/models/income:classify", payload)
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"error"}
        assert __import__("re").search(message, response.json()["error"]), response.json()["error"]
        good = _post(client, "/v1/models/income:classify", {"examples": ROWS[:2]})
        assert good.status_code == 200


def test_the_body_must_be_a_json_object(estimator_export):
    _, path = estimator_export
    with TestClient(create_app(path, "income")) as client:
        assert _post(client, "/v1/models/income:regress", b"[1]").json() == {
            "error": "JSON Value: request body must be a JSON object, got Array"
        }
        bad_json = _post(client, "/v1/models/income:regress", b"{oops")
    assert bad_json.status_code == 400 and bad_json.json()["error"].startswith("JSON Parse error")


def test_a_missing_value_is_null_and_refused_by_the_transformation_alone(estimator_export):
    est, path = estimator_export
    model = load(path)
    ok = examples_payload(model, "classify", {"examples": [{"age": 30.0, "color": None}]})
    _assert_classified(ok["results"], _predicted(est, [{"age": 30.0, "color": None}]))
    with pytest.raises(RequestError, match="numeric column 'age' has 1 missing value"):
        examples_payload(model, "classify", {"examples": [{"age": None, "color": "red"}]})


async def _concurrent(app, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*[client.post(url, json=body) for url, body in requests])


def test_classify_regress_and_predict_share_batches_and_each_gets_its_rows(estimator_export):
    est, path = estimator_export
    params = BatchingParameters(batch_timeout_micros=300_000, max_batch_size=64)  # a wide window: all join
    app = create_app(path, "income", batching=params)
    rows = [{"age": 20.0 + 3 * i, "color": ["red", "blue", "green", "never-seen"][i % 4]} for i in range(12)]
    requests = []
    for i, row in enumerate(rows):
        if i % 3 == 0:
            requests.append(("/v1/models/income:classify", {"examples": [row]}))
        elif i % 3 == 1:
            requests.append(
                ("/v1/models/income:regress", {"signature_name": "regression", "examples": [row]})
            )
        else:
            requests.append(("/v1/models/income:predict", {"instances": [row]}))
    requests.insert(4, ("/v1/models/income:classify", {"examples": [{"age": None, "color": "red"}]}))
    responses = asyncio.run(_concurrent(app, requests))
    batcher = app.state.batcher
    assert batcher.merged_requests == len(requests) and batcher.batches < len(requests) - 5
    bad = responses.pop(4)
    assert bad.status_code == 400 and "numeric column 'age' has 1 missing value" in bad.json()["error"]
    for i, (row, response) in enumerate(zip(rows, responses)):
        assert response.status_code == 200, response.text
        (want,) = _predicted(est, [row])
        if i % 3 == 0:
            _assert_classified(response.json()["results"], [want])
        elif i % 3 == 1:
            np.testing.assert_allclose(response.json()["results"], want["logistic"], rtol=0, atol=1e-6)
        else:
            np.testing.assert_allclose(
                response.json()["predictions"][0]["probabilities"], want["probabilities"], atol=1e-6
            )


def test_parse_examples_payload_fast_and_careful_paths_agree(estimator_export):
    _, path = estimator_export
    model = load(path)
    args = ("classify", model.inputs, model.defaults, model.signatures, "classification")
    fast = parse_examples_payload({"examples": ROWS}, *args, strict=True)
    careful = parse_examples_payload({"examples": [{k: [v] for k, v in row.items()} for row in ROWS]}, *args)
    assert fast.n_rows == careful.n_rows == 4 and fast.batch_key() == careful.batch_key()
    for name in fast.columns:
        np.testing.assert_array_equal(fast.columns[name], careful.columns[name])
    assert fast.columns["color"].tolist() == ["red", "blue", "never-seen", None]


@pytest.mark.slow  # starts a server process with two workers
def test_classify_and_regress_over_http_with_worker_processes(estimator_export):
    est, path = estimator_export
    expected = _predicted(est, ROWS)
    process, url = start_server(Path(path).parent, "income", "--workers", "2")
    try:
        for _ in range(6):  # spread over both workers
            classify = httpx.post(f"{url}/v1/models/income:classify", json={"examples": ROWS}, timeout=60)
            assert classify.status_code == 200, classify.text
            _assert_classified(classify.json()["results"], expected)
            regress = httpx.post(
                f"{url}/v1/models/income:regress",
                json={"signature_name": "regression", "examples": ROWS},
                timeout=60,
            )
            np.testing.assert_allclose(
                regress.json()["results"], [e["logistic"][0] for e in expected], atol=1e-6
            )
    finally:
        stop_server(process)


def test_a_multi_head_export_classifies_with_its_first_head_by_default(tmp_path):
    from estlab import feature_column as fc
    from estlab.estimators.head_estimators import DNNEstimator
    from estlab.estimators.heads import BinaryClassHead, RegressionHead
    from estlab.estimators.multi_head import MultiHead
    from estlab.training.config import RunConfig

    head = MultiHead([BinaryClassHead(name="click"), RegressionHead(name="dwell")])
    columns = [
        fc.numeric_column("x"),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])),
    ]
    frame = pd.DataFrame(
        {
            "x": np.linspace(-1.0, 1.0, 16),
            "color": ["red", "blue"] * 8,
            "click": [0, 1, 1, 0] * 4,
            "dwell": np.linspace(0.0, 3.0, 16),
        }
    )
    est = DNNEstimator(head, [4], columns, model_dir=str(tmp_path / "m"), config=RunConfig(random_seed=0))
    est.train(frame, label=["click", "dwell"], steps=3)
    path = est.export_saved_model(str(tmp_path / "export"), onnx=False)
    rows = [{"x": 0.5, "color": "red"}, {"x": -0.25, "color": "blue"}]
    expected = list(est.predict(pd.DataFrame(rows)))
    model = load(path)
    classified = examples_payload(model, "classify", {"examples": rows})
    clicks = [{key: row[("click", key)] for key in ("all_classes", "probabilities")} for row in expected]
    _assert_classified(classified["results"], clicks)
    regressed = examples_payload(model, "regress", {"signature_name": "dwell/regression", "examples": rows})
    np.testing.assert_allclose(
        regressed["results"], [row[("dwell", "predictions")][0] for row in expected], atol=1e-6
    )
    with pytest.raises(
        RequestError,
        match=r"Was: tensorflow/serving/classify; name one of .*'click/regression', 'dwell/regression'",
    ):
        examples_payload(model, "regress", {"examples": rows})


def test_a_model_fn_classification_output_with_class_ids(tmp_path):
    import torch

    import estlab as tf
    from estlab.estimators import layers
    from estlab.export.outputs import ClassificationOutput

    def model_fn(features, labels, mode, params):
        logits = layers.dense(layers.input_layer(features, params["feature_columns"]), 2)
        probabilities = torch.softmax(logits, 1)
        if mode == tf.estimator.ModeKeys.PREDICT:
            ids = torch.zeros_like(logits, dtype=torch.int64) + torch.arange(2)
            outputs = {
                "serving_default": ClassificationOutput(scores=probabilities, classes=ids),
                "top": ClassificationOutput(scores=probabilities, classes=torch.argmax(logits, 1)[:, None]),
                "scores_only": ClassificationOutput(scores=probabilities),
            }
            return tf.estimator.EstimatorSpec(
                mode, predictions={"probabilities": probabilities}, export_outputs=outputs
            )
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=torch.optim.Adam(layers.trainable_variables(), 0.05)
        )

    x = {"a": np.linspace(0.0, 1.0, 32, dtype="float32"), "b": np.linspace(1.0, 0.0, 32, dtype="float32")}
    columns = [tf.feature_column.numeric_column("a"), tf.feature_column.numeric_column("b")]
    est = tf.estimator.Estimator(
        model_fn=model_fn,
        params={"feature_columns": columns},
        config=tf.estimator.RunConfig(model_dir=str(tmp_path / "m")),
    )
    est.train(
        tf.estimator.inputs.numpy_input_fn(
            x, (x["a"] > x["b"]).astype(int), batch_size=16, num_epochs=1, shuffle=False
        )
    )
    model = load(est.export_saved_model(str(tmp_path / "export"), onnx=False))
    rows = [{"a": 0.75, "b": 0.25}, {"a": 0.0, "b": 0.5}]
    got = examples_payload(model, "classify", {"examples": rows})  # serving_default classifies: the default
    want = list(est.predict(pd.DataFrame(rows)))
    assert [[label for label, _ in pairs] for pairs in got["results"]] == [["0", "1"], ["0", "1"]]
    np.testing.assert_allclose(
        [[s for _, s in pairs] for pairs in got["results"]], [w["probabilities"] for w in want], atol=1e-6
    )
    only = examples_payload(model, "classify", {"signature_name": "scores_only", "examples": rows})
    assert [[label for label, _ in pairs] for pairs in only["results"]] == [["", ""], ["", ""]]
    with pytest.raises(
        RequestError, match=r"^Tensors class and score should match in dim_size\(1\). Got 1 vs. 2$"
    ):
        examples_payload(model, "classify", {"signature_name": "top", "examples": rows})
