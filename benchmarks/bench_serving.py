"""Load test of the predict server: requests/s and p50/p99 latency for 1-row and 256-row requests.

Starts ``estlab serve`` in a subprocess on a loopback port, then drives it from this (second)
process with ``concurrency`` async clients (httpx), bounded by a request count and a time limit
per scenario. Any failed request (non-200 or transport error) is counted and reported.

Usage::

    python benchmarks/bench_serving.py                      # trains + exports a small DNN on Adult
    python benchmarks/bench_serving.py --export-dir DIR --requests 2000 --seconds 30 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np


def build_export(directory: Path) -> str:
    """Train a small DNNClassifier on Adult (a few steps) and export it."""
    from estlab import datasets
    from estlab import feature_column as fc
    from estlab.estimators import DNNClassifier

    train, test = datasets.load_adult()
    columns = [
        fc.numeric_column("age", normalizer="zscore"),
        fc.numeric_column("hours_per_week"),
        fc.indicator_column(fc.categorical_column_with_learned_vocabulary("education")),
        fc.embedding_column(fc.categorical_column_with_hash_bucket("occupation", 32), 4),
        fc.indicator_column(fc.categorical_column_with_learned_vocabulary("workclass")),
    ]
    est = DNNClassifier(
        hidden_units=[32, 16],
        feature_columns=columns,
        label_vocabulary=["<=50K", ">50K"],
        model_dir=str(directory / "model"),
    )
    est.train(train.head(2000), label="income_bracket", steps=20, batch_size=256)
    return est.export_saved_model(str(directory / "export"), onnx=False)


def sample_rows(n: int) -> list[dict]:
    from estlab import datasets

    test = datasets.load_adult().test.drop(columns=["income_bracket"]).head(n)
    test = test.astype(object).where(test.notna(), None)
    return test.to_dict("records")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(export_dir: str, port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "estlab.export.cli",
        "serve",
        export_dir,
        "--model-name",
        "bench",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models/bench", timeout=1.0)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 90 s")


async def run_scenario(url: str, body: bytes, n_requests: int, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    failures = 0
    issued = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:

        async def worker() -> None:
            nonlocal issued, failures
            while issued < n_requests and time.monotonic() < deadline:
                issued += 1
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = response.status_code == 200 and "predictions" in response.json()
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                failures += not ok

        began = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - began
    ms = np.asarray(latencies) * 1000.0
    return {
        "requests": len(latencies),
        "failed": failures,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-dir", help="an existing export (default: train and export a small DNN)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (upper bound)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1, 256], help="rows per request, per scenario"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = args.export_dir or build_export(Path(tmp))
        port = free_port()
        server = start_server(export_dir, port)
        url = f"http://127.0.0.1:{port}/v1/models/bench:predict"
        results = {}
        try:
            for rows in args.rows:
                body = json.dumps({"instances": sample_rows(rows)}).encode()
                asyncio.run(run_scenario(url, body, min(50, args.requests), 5.0, args.concurrency))  # warm-up
                result = asyncio.run(run_scenario(url, body, args.requests, args.seconds, args.concurrency))
                result["rows_per_s"] = round(result["requests_per_s"] * rows, 1)
                results[f"{rows}_rows"] = result
                print(f"{rows:>4} rows/request: {result}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps({"concurrency": args.concurrency, "cpus": os.cpu_count(), "results": results}))
    failed = sum(r["failed"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
