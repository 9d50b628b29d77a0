"""TF Serving's ``{"b64": "<base64>"}`` bytes in ``:predict`` bodies, row (``instances``) and columnar
(``inputs``) formats: the same predictions as the plain strings, on the fast and the careful path."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from estlab.export.rest_request import RequestError, fast_columns, parse_body, parse_payload
from estlab.export.server import create_app
from estlab.export.spec import TensorSpec

INPUTS = (TensorSpec("age", "float32"), TensorSpec("color", "string"))
ROWS = [
    {"age": 25.0, "color": "red"},
    {"age": 38.0, "color": "blue"},
    {"age": 61.0, "color": "never-seen"},
    {"age": 44.0, "color": None},
]


def _b64(text: str) -> dict[str, str]:
    return {"b64": base64.b64encode(text.encode()).decode()}


def _encoded_rows() -> list[dict]:
    return [{**row, "color": row["color"] if row["color"] is None else _b64(row["color"])} for row in ROWS]


def _columns(rows: list[dict]) -> dict[str, list]:
    return {name: [row[name] for row in rows] for name in ("age", "color")}


def _post(client: TestClient, body) -> httpx.Response:
    content = json.dumps(body).encode()
    return client.post(
        "/v1/models/income:predict", content=content, headers={"content-type": "application/json"}
    )


def test_b64_predictions_equal_the_plain_strings_in_both_formats(estimator_export):
    est, path = estimator_export
    with TestClient(create_app(path, "income")) as client:
        plain_rows = _post(client, {"instances": ROWS})
        b64_rows = _post(client, {"instances": _encoded_rows()})
        plain_columns = _post(client, {"inputs": _columns(ROWS)})
        b64_columns = _post(client, {"inputs": _columns(_encoded_rows())})
        mixed = _post(client, {"instances": [ROWS[0], _encoded_rows()[1]]})
    for response in (plain_rows, b64_rows, plain_columns, b64_columns, mixed):
        assert response.status_code == 200, response.text
    assert b64_rows.json() == plain_rows.json()
    assert b64_columns.json() == plain_columns.json()
    assert mixed.json()["predictions"] == plain_rows.json()["predictions"][:2]
    expected = list(est.predict(pd.DataFrame(ROWS)))
    for got, want in zip(b64_rows.json()["predictions"], expected, strict=True):
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("fmt", ["instances", "inputs"])
def test_fast_and_careful_paths_decode_the_same_columns(fmt):
    data = _encoded_rows() if fmt == "instances" else _columns(_encoded_rows())
    plain = ROWS if fmt == "instances" else _columns(ROWS)
    fast = parse_payload({fmt: data}, INPUTS, {}, ["serving_default"], strict=True)
    careful = parse_payload({fmt: data}, INPUTS, {}, ["serving_default"], strict=False)
    reference = parse_payload({fmt: plain}, INPUTS, {}, ["serving_default"], strict=True)
    for request in (fast, careful):
        assert request.columns["color"].tolist() == ["red", "blue", "never-seen", None]
        assert request.columns["age"].tolist() == [25.0, 38.0, 61.0, 44.0]
        assert request.batch_key() == reference.batch_key()
    assert fast_columns(data if fmt == "inputs" else _encoded_rows(), INPUTS)["color"].tolist() == [
        "red",
        "blue",
        "never-seen",
        None,
    ]


def test_a_b64_scalar_in_the_columnar_format_and_non_ascii_text():
    body = {"inputs": {"age": [1.0], "color": _b64("café")}}
    assert parse_payload(body, INPUTS, {}, ["serving_default"]).columns["color"].tolist() == ["café"]
    request = parse_body(
        json.dumps({"instances": [{"age": 1, "color": _b64("ü")}]}).encode(), INPUTS, {}, ["serving_default"]
    )
    assert request.columns["color"].tolist() == ["ü"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"instances": [{"age": 1.0, "color": "red"}, {"age": 2.0, "color": {"b64": "not base64!"}}]},
            "Unable to base64 decode feature 'color' of instance 1; send standard base64",
        ),
        (
            {"inputs": {"age": [1.0, 2.0], "color": ["red", {"b64": "/w=="}]}},
            r"Feature: 'color' of row 1: its b64 bytes are not UTF-8 text \(invalid start byte at byte 0\)",
        ),
        (
            {"instances": [{"age": {"b64": "MQ=="}, "color": "red"}]},
            r"Feature: 'age' of instance 0 is bytes \(\{\"b64\": ...\}\) but the input is float32; send a number",
        ),
        (
            {"inputs": {"age": [{"b64": "MQ=="}], "color": ["red"]}},
            r"Feature: 'age' of row 0 is bytes .* but the input is float32",
        ),
        (
            {"instances": [{"age": 1.0, "color": {"b64": "cmVk", "x": 1}}]},
            "Feature: 'color' of instance 0 has element with unexpected JSON type: Object; the only object",
        ),
        (
            {"instances": [{"age": 1.0, "color": {"b64": 5}}]},
            "Feature: 'color' of instance 0 has element with unexpected JSON type: Object",
        ),
    ],
)
@pytest.mark.parametrize("strict", [True, False])
def test_bad_b64_values_get_a_400_naming_the_input(payload, message, strict):
    with pytest.raises(RequestError, match=message) as caught:
        parse_payload(payload, INPUTS, {}, ["serving_default"], strict=strict)
    assert caught.value.status == 400


def test_bad_b64_over_http_is_a_400_with_the_error(estimator_export):
    _, path = estimator_export
    with TestClient(create_app(path, "income")) as client:
        response = _post(client, {"inputs": {"age": [1.0], "color": [{"b64": "***"}]}})
    assert response.status_code == 400
    assert response.json() == {
        "error": "Unable to base64 decode feature 'color' of row 0; send standard base64 "
        "(A-Z, a-z, 0-9, +, /, '=' padding)"
    }
