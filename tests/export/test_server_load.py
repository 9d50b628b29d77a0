"""A bounded load test of ``estlab serve`` on loopback: good requests mixed with abuse, 16 at a time.

Every good answer must equal the estimator's in-process predictions (to 1e-6, classes exactly), every
bad request must get its own 4xx naming the problem, and nothing may get a 5xx.
"""

from __future__ import annotations

import asyncio
import json
import random
import re

import httpx
import numpy as np
import pandas as pd
import pytest
from export_testing import start_server, stop_server

pytestmark = pytest.mark.slow  # a server process and ~700 requests (tens of seconds on a busy machine)

TOKEN = "load-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
COLORS = ["red", "blue", "green", "never-seen", None]


def _pool(rng: random.Random, n: int) -> list[dict]:
    return [{"age": round(rng.uniform(17.0, 90.0), 3), "color": rng.choice(COLORS)} for _ in range(n)]


def _cases(rng: random.Random, pool: list[dict]) -> list[dict]:
    """Requests with what they must get: ``{"body", "headers", "path", "status", "match" | "rows"}``."""
    cases: list[dict] = []
    for _ in range(700):
        kind = rng.choice(["row"] * 6 + ["columnar"] * 2 + ["abuse"] * 5)
        ids = [rng.randrange(len(pool)) for _ in range(rng.randint(1, 8))]
        rows = [pool[i] for i in ids]
        case: dict = {"headers": AUTH, "path": ":predict", "status": 200, "rows": ids}
        if kind == "row":
            case["body"] = json.dumps({"instances": rows}).encode()
        elif kind == "columnar":
            case["body"] = json.dumps(
                {"inputs": {"age": [r["age"] for r in rows], "color": [r["color"] for r in rows]}}
            ).encode()
        else:
            case.update(_abuse(rng, rows))
        cases.append(case)
    return cases


def _abuse(rng: random.Random, rows: list[dict]) -> dict:
    at = rng.randrange(len(rows))
    text = json.dumps({"instances": rows})

    def with_age(literal: str) -> bytes:
        bad = [dict(r) for r in rows]
        bad[at]["age"] = "@@"
        return json.dumps({"instances": bad}).replace('"@@"', literal).encode()

    kind = rng.choice(
        ["json", "inf", "-inf", "nan", "1e308", "digits", "column", "type", "missing", "noauth", "badauth",
         "labels", "huge", "deep"]
    )  # fmt: skip
    if kind == "json":
        return {"body": text[: len(text) // 2].encode(), "status": 400, "match": "JSON Parse error"}
    if kind in ("inf", "-inf", "nan"):
        literal = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}[kind]
        return {
            "body": with_age(literal),
            "status": 400,
            "match": f"'age' row {at} has {literal}, a non-finite",
        }
    if kind == "1e308":
        return {"body": with_age("1e308"), "status": 400, "match": rf"'age' row {at} has 1e\+308, beyond"}
    if kind == "digits":
        return {
            "body": with_age("9" * 400),
            "status": 400,
            "match": f"'age' row {at} has a 400-digit integer",
        }
    if kind == "column":
        renamed = [{"agee" if k == "age" else k: v for k, v in r.items()} for r in rows]
        return {"body": json.dumps({"instances": renamed}).encode(), "status": 400,
                "match": "missing input feature 'age'"}  # fmt: skip
    if kind == "type":
        bad = [dict(r) for r in rows]
        bad[at]["color"] = 7
        return {"body": json.dumps({"instances": bad}).encode(), "status": 400,
                "match": f"'color' expects a string; row {at} has 7"}  # fmt: skip
    if kind == "missing":  # refused by the feature transformation, inside a batch of good requests
        bad = [dict(r) for r in rows]
        bad[at]["age"] = None
        return {"body": json.dumps({"instances": bad}).encode(), "status": 400,
                "match": "numeric column 'age' has 1 missing value"}  # fmt: skip
    if kind == "noauth":
        return {"body": text.encode(), "headers": {}, "status": 401, "match": "Authorization: Bearer"}
    if kind == "badauth":
        return {"body": text.encode(), "headers": {"authorization": f"Bearer {TOKEN[:-1]}x"}, "status": 401,
                "match": "Unauthenticated"}  # fmt: skip
    if kind == "labels":
        return {
            "body": text.encode(),
            "path": "/labels/canary:predict",
            "status": 404,
            "match": "no version labels",
        }
    if kind == "huge":
        return {
            "body": json.dumps({"instances": rows * 5000}).encode(),
            "status": 413,
            "match": "exceeds the limit",
        }
    return {"body": ('{"instances": ' + "[" * 40_000 + "]" * 40_000 + "}").encode(), "status": 400,
            "match": "nested too deeply|JSON Parse error"}  # fmt: skip


def test_good_answers_stay_right_and_abuse_gets_its_4xx(estimator_export, monkeypatch):
    est, path = estimator_export
    rng = random.Random(20261206)
    pool = _pool(rng, 300)
    expected = list(est.predict(pd.DataFrame(pool)))
    cases = _cases(rng, pool)
    monkeypatch.setenv("ESTLAB_SERVE_TOKEN", TOKEN)
    process, url = start_server(path, "income", "--max-body-bytes", "100000", "--max-rows", "100",
                                "--batch-timeout-micros", "2000")  # fmt: skip

    async def run_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        gate = asyncio.Semaphore(16)
        async with httpx.AsyncClient(limits=limits, timeout=120.0) as client:

            async def one(case: dict) -> httpx.Response:
                async with gate:
                    return await client.post(
                        f"{url}/v1/models/income{case['path']}",
                        content=case["body"],
                        headers={"content-type": "application/json", **case["headers"]},
                    )

            return await asyncio.gather(*[one(case) for case in cases])

    try:
        responses = asyncio.run(run_all())
        alive = httpx.get(f"{url}/v1/models/income", headers=AUTH)
    finally:
        stop_server(process)
    assert alive.status_code == 200
    good = bad = 0
    for case, response in zip(cases, responses):
        assert response.status_code == case["status"], (case.get("match"), response.text[:300])
        if case["status"] != 200:
            bad += 1
            assert re.search(case["match"], response.json()["error"]), response.json()["error"]
            continue
        good += 1
        payload = response.json()
        want = [expected[i] for i in case["rows"]]
        if "predictions" in payload:
            got_probabilities = [p["probabilities"] for p in payload["predictions"]]
            got_classes = [p["classes"] for p in payload["predictions"]]
        else:
            got_probabilities = payload["outputs"]["probabilities"]
            got_classes = payload["outputs"]["classes"]
        np.testing.assert_allclose(got_probabilities, [w["probabilities"] for w in want], rtol=0, atol=1e-6)
        assert got_classes == [w["classes"].tolist() for w in want]
    assert good > 300 and bad > 200
