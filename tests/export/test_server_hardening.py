"""The predict server under bad input, in process: every parse error a 4xx naming the problem, tokens,
labels, logs without bodies, and dynamic batching that keeps each request's answer its own."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from estlab.export import load
from estlab.export.batching import BatchingParameters, DynamicBatcher, OverloadedError
from estlab.export.inputs import to_columns
from estlab.export.rest_request import parse_body
from estlab.export.server import create_app
from estlab.export.server_security import BearerToken, is_loopback, resolve_token, warn_if_exposed
from estlab.export.spec import TensorSpec

ROWS = [{"x": 0.25, "k": 2}, {"x": -1.5, "k": 0}]
URL = "/v1/models/tiny:predict"


@pytest.fixture(scope="module")
def client(tiny_export):
    with TestClient(create_app(tiny_export, "tiny", max_rows=50)) as test_client:
        yield test_client


def post(client: TestClient, body: bytes | str, url: str = URL, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return client.post(url, content=content, headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    "body, message",
    [  # fmt: skip
        ('{"instances": [{"x": Infinity, "k": 1}]}', "'x' row 0 has Infinity, a non-finite number"),
        ('{"instances": [{"x": 1.0, "k": 1}, {"x": -Infinity, "k": 1}]}', "'x' row 1 has -Infinity"),
        ('{"instances": [{"x": NaN, "k": 1}]}', "'x' row 0 has NaN, a non-finite number"),
        ('{"inputs": {"x": [1e308], "k": [1]}}', r"'x' row 0 has 1e\+308, beyond the range of float32"),
        ('{"inputs": {"x": [-4e38], "k": [1]}}', r"'x' row 0 has -4e\+38, beyond the range of float32"),
        ('{"inputs": {"x": [1e400], "k": [1]}}', "'x' row 0 has Infinity"),
        ('{"instances": [{"x": 1' + "0" * 399 + ', "k": 1}]}', "'x' row 0 has a 400-digit integer"),
        ('{"instances": [{"x": 1.0, "k": 1' + "0" * 399 + "}]}", "'k' row 0 has a 400-digit integer"),
        (
            '{"instances": [{"x": 1.0, "k": 9223372036854775808}]}',
            "'k' row 0 has 9223372036854775808, beyond",
        ),
        ('{"instances": [{"x": 1.0, "k": 1e300}]}', "'k' row 0 has 1e\\+300, beyond the range of int64"),
    ],
)
def test_non_finite_and_huge_numbers_are_refused_naming_the_feature(client, body, message):
    response = post(client, body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert __import__("re").search(message, response.json()["error"]), response.json()["error"]


PARSE_ERRORS = {
    "deep-body": ("[" * 100_000 + "]" * 100_000, "JSON Parse error|must be a JSON object"),
    "deep-instances": ('{"instances": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    "deep-value": (
        '{"instances": [{"x": ' + "[" * 3000 + "]" * 3000 + ', "k": 1}]}',
        "'x' (must have one value|is nested too deeply)",
    ),
    "5000-digits": ('{"instances": [{"x": 1' + "0" * 5000 + ', "k": 1}]}', "JSON Parse error"),
    "not-utf8": (b"\xff\xfe{}", "JSON Parse error"),
    "instances-string": ('{"instances": "rows"}', "'instances' must be a JSON list"),
    "inputs-number": ('{"inputs": 3}', "'inputs' must be a JSON object"),
    "object-value": ('{"instances": [{"x": {"a": 1}, "k": 1}]}', r"'x' expects numbers"),
    "bool-value": ('{"instances": [{"x": true, "k": 1}]}', r"'x' expects numbers"),
    "fraction-int": ('{"instances": [{"x": 1.0, "k": 1.5}]}', "'k' expects integers"),
    "list-for-scalar": (
        '{"instances": [{"x": 1.0, "k": [1, 2]}]}',
        r"'k' expects integers \(int64\); row 0 has \[1, 2\]",
    ),
    "row-not-object": ('{"instances": [{"x": 1.0, "k": 1}, 7]}', "instance 1 must be an object"),
    "ragged-columns": (
        '{"inputs": {"x": [1.0, 2.0], "k": [1]}}',
        "'k' has 1 values but other features have 2",
    ),
    "missing-feature": ('{"instances": [{"x": 1.0}]}', "missing input feature 'k'"),
    "signature-list": ('{"instances": [], "signature_name": ["a"]}', "not found in signature def"),
    "body-string": ('"just a string"', "must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_every_parse_error_is_a_4xx_with_a_message(client, case):
    body, message = PARSE_ERRORS[case]
    response = post(client, body)
    assert response.status_code == 400, response.text[:300]
    assert __import__("re").search(message, response.json()["error"]), response.json()["error"]
    assert post(client, json.dumps({"instances": ROWS})).status_code == 200


def test_labels_are_refused_clearly(client, tiny_export):
    for method in ("get", "post"):
        url = f"/v1/models/tiny/labels/stable{':predict' if method == 'post' else ''}"
        response = getattr(client, method)(url, **({"json": {"instances": ROWS}} if method == "post" else {}))
        assert response.status_code == 404
        assert "no version labels" in response.json()["error"]
        assert f"/v1/models/tiny/versions/{tiny_export.name}" in response.json()["error"]


def test_the_same_rows_answer_the_same_as_the_loaded_export(client, tiny_export):
    expected = load(tiny_export).predict_columns(ROWS, "serving_default")
    rows = post(client, json.dumps({"instances": ROWS})).json()["predictions"]
    np.testing.assert_allclose([r["probabilities"] for r in rows], expected["probabilities"], atol=1e-6)
    np.testing.assert_array_equal([r["class_ids"] for r in rows], expected["class_ids"])
    assert [r["classes"] for r in rows] == expected["classes"].tolist()
    empty = post(client, json.dumps({"inputs": {"x": [], "k": []}})).json()
    assert empty["outputs"]["logits"] == [] and empty["outputs"]["classes"] == []


def test_a_bearer_token_is_required_when_set(tiny_export):
    app = create_app(tiny_export, "tiny", auth_token="s3cret-token")
    with TestClient(app) as client:
        good = {"authorization": "Bearer s3cret-token"}
        assert client.get("/v1/models/tiny", headers=good).status_code == 200
        assert post(client, json.dumps({"instances": ROWS}), **good).status_code == 200
        assert (
            post(client, json.dumps({"instances": ROWS}), authorization="bearer s3cret-token").status_code
            == 200
        )
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret-token"},
                        {"authorization": "Bearer s3cret-token-and-more"}, {"authorization": "Bearer"}):  # fmt: skip
            response = post(client, json.dumps({"instances": ROWS}), **headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "Authorization: Bearer <token>" in response.json()["error"]
        # nothing but 401 without the token, not even whether a model exists
        assert client.get("/v1/models/other").status_code == 401
        assert client.get("/v1/models/tiny/metadata").status_code == 401


def test_token_helpers(monkeypatch):
    monkeypatch.setenv("ESTLAB_SERVE_TOKEN", "from-env")
    assert resolve_token(None) == "from-env" and resolve_token("given") == "given"
    monkeypatch.delenv("ESTLAB_SERVE_TOKEN")
    assert resolve_token(None) is None
    with pytest.raises(ValueError, match="printable ASCII without spaces"):
        BearerToken("has space")
    assert not BearerToken("tok").allows("Bearer tök")
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert not is_loopback("example.org")


def test_binding_beyond_loopback_without_a_token_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="estlab.serve"):
        assert warn_if_exposed("127.0.0.1", None) is None
        assert warn_if_exposed("0.0.0.0", "tok") is None
        message = warn_if_exposed("0.0.0.0", None)
    assert message is not None and "without authentication" in message and "ESTLAB_SERVE_TOKEN" in message
    assert [r.getMessage() for r in caplog.records] == [message]


def test_request_log_names_path_and_status_never_the_body(tiny_export, caplog):
    secret = "do-not-log-this-value"
    with TestClient(create_app(tiny_export, "tiny", auth_token="tok-123")) as client:
        with caplog.at_level(logging.INFO, logger="estlab.serve"):
            headers = {"authorization": "Bearer tok-123"}
            post(client, json.dumps({"instances": ROWS, "note": secret}), **headers)
            post(client, json.dumps({"instances": [{"x": secret, "k": 1}]}), **headers)
            post(client, "{bad json " + secret)
    lines = [r.getMessage() for r in caplog.records if r.name == "estlab.serve.access"]
    assert len(lines) == 3
    assert '"POST /v1/models/tiny:predict" 200 2 rows' in lines[0]
    assert '"POST /v1/models/tiny:predict" 400' in lines[1] and " 401 " in lines[2]
    assert not any(secret in r.getMessage() or "tok-123" in r.getMessage() for r in caplog.records)


async def _concurrent(app, bodies: list[dict], url: str) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*[client.post(url, json=body) for body in bodies])


def test_concurrent_requests_share_batches_and_a_bad_one_fails_alone(estimator_export):
    est, path = estimator_export
    params = BatchingParameters(batch_timeout_micros=300_000, max_batch_size=64)  # a wide window: all join
    app = create_app(path, "income", batching=params)
    goods = [[{"age": 20.0 + i, "color": ["red", "blue", "green", "never-seen"][i % 4]}] for i in range(12)]
    bodies = [{"instances": rows} for rows in goods]
    bodies.insert(5, {"instances": [{"age": None, "color": "red"}]})  # the transformation refuses it
    bodies.insert(9, {"inputs": {"age": [33.0, 61.0], "color": ["blue", None]}})
    responses = asyncio.run(_concurrent(app, bodies, "/v1/models/income:predict"))
    batcher = app.state.batcher
    assert batcher.merged_requests == len(bodies) and batcher.batches < len(bodies) - 5
    bad = responses.pop(5)
    assert bad.status_code == 400 and "numeric column 'age' has 1 missing value" in bad.json()["error"]
    columnar = responses.pop(8)
    expected = list(est.predict(pd.DataFrame({"age": [33.0, 61.0], "color": ["blue", None]})))
    np.testing.assert_allclose(
        columnar.json()["outputs"]["probabilities"], [e["probabilities"] for e in expected], atol=1e-6
    )
    for rows, response in zip(goods, responses):
        assert response.status_code == 200, response.text
        (got,) = response.json()["predictions"]
        (want,) = est.predict(pd.DataFrame(rows))
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-6)
        assert got["classes"] == want["classes"].tolist()


def test_batching_respects_max_batch_size_and_can_be_disabled(tiny_export):
    bodies = [{"instances": [ROWS[i % 2]]} for i in range(6)]
    expected = load(tiny_export).predict_columns([ROWS[i % 2] for i in range(6)], "serving_default")
    for params, fewest_calls in (
        (BatchingParameters(max_batch_size=2, batch_timeout_micros=200_000), 3),
        (BatchingParameters(enabled=False), 6),
    ):
        app = create_app(tiny_export, "tiny", batching=params)
        responses = asyncio.run(_concurrent(app, bodies, URL))
        got = [r.json()["predictions"][0]["logits"] for r in responses]
        np.testing.assert_allclose(got, expected["logits"], atol=1e-6)
        assert app.state.batcher.batches >= fewest_calls


def test_batching_parameters_are_checked():
    with pytest.raises(ValueError, match="max_batch_size must be >= 1"):
        BatchingParameters(max_batch_size=0)
    with pytest.raises(ValueError, match="max_enqueued_batches must be >= 1"):
        BatchingParameters(max_enqueued_batches=0)


SPECS = (TensorSpec("f", "float32"), TensorSpec("i", "int64"), TensorSpec("s", "string"))
_finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-3e38, max_value=3e38)
_row = st.fixed_dictionaries(
    {
        "f": st.one_of(st.none(), _finite, st.integers(-(2**53), 2**53)),
        "i": st.integers(-(2**62), 2**62),
        "s": st.one_of(st.none(), st.text(max_size=5)),
    }
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row, min_size=1, max_size=6), columnar=st.booleans())
def test_the_fast_parse_equals_the_careful_one(rows, columnar):
    data = {key: [row[key] for row in rows] for key in ("f", "i", "s")} if columnar else rows
    body = json.dumps({"inputs" if columnar else "instances": data}).encode()
    fast = parse_body(body, SPECS, {}, ["serving_default"])
    careful = to_columns(json.loads(body)["inputs" if columnar else "instances"], SPECS, finite=True)
    assert fast.n_rows == len(rows) and list(fast.columns) == list(careful)
    for name, values in careful.items():
        assert fast.columns[name].dtype == values.dtype
        np.testing.assert_array_equal(fast.columns[name], values)


def test_rows_beyond_the_queue_limit_are_refused_not_queued():
    calls: list[int] = []

    def run(columns, n_rows):
        calls.append(n_rows)
        return {"y": columns["x"] * 2.0}

    async def main() -> list:
        batcher = DynamicBatcher(BatchingParameters(max_batch_size=1, max_enqueued_batches=1))
        try:
            submits = [batcher.submit(run, (), {"x": np.array([float(i)])}, 1) for i in range(3)]
            return await asyncio.gather(*submits, return_exceptions=True)
        finally:
            batcher.close()

    first, second, third = asyncio.run(main())
    assert first["y"].tolist() == [0.0] and calls == [1]
    for refused in (second, third):
        assert isinstance(refused, OverloadedError) and "--max-enqueued-batches" in str(refused)
