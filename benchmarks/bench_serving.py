"""Load test of the predict server against a floor measured in the same run.

Two servers run as subprocesses on loopback ports, both uvicorn, one torch thread, no access log:

* **floor**: a bare Starlette endpoint that reads the body and runs the same exported program on a
  pre-encoded tensor of the same rows (no JSON parsing, no encoding, no batching), answering its
  numeric outputs as JSON (orjson from the arrays);
* **estlab**: ``estlab serve`` (dynamic batching on, its defaults otherwise), answering the full
  TF Serving payload.

This process drives each with ``clients`` keep-alive connections (a small asyncio HTTP/1.1 client
that sends a prepared request and reads the answer by its Content-Length, so the client costs little
CPU), for 1-row and 256-row ``instances`` requests at 1 and 32 clients, alternating floor and estlab
``--rounds`` times. It reports requests/s, rows/s, p50 and p99 latency, the ratios to the floor (best
round of each), and the load average (the machine may be shared: compare ratios, not absolutes).
Every answer must be a 200; the first answer of each scenario is checked against in-process predictions.

Usage::

    python benchmarks/bench_serving.py                      # trains + exports a small DNN on Adult
    python benchmarks/bench_serving.py --export-dir DIR --seconds 5 --rounds 2 --workers 1
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

import numpy as np


def build_export(directory: Path) -> str:
    """Train a small DNNClassifier on Adult (a few steps) and export it."""
    from estlab import datasets
    from estlab import feature_column as fc
    from estlab.estimators import DNNClassifier

    train, _ = datasets.load_adult()
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
    """The first ``n`` rows of Adult's test set as JSON-ready records (missing values as None)."""
    from estlab import datasets

    test = datasets.load_adult().test.drop(columns=["income_bracket"]).head(n)
    test = test.astype(object).where(test.notna(), None)
    return test.to_dict("records")


def floor_app(export_dir: str, sizes: list[int]):  # noqa: ANN201 - a Starlette app
    """The floor: POST /floor/N runs the program on N pre-encoded rows and answers its arrays as JSON."""
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from estlab.export import load
    from estlab.export.inputs import to_columns

    model = load(export_dir)
    encoded = {n: model._preprocess(to_columns(sample_rows(n), model.inputs, model.defaults)) for n in sizes}
    program = model._program

    async def floor(request: Request) -> Response:
        await request.body()
        outputs = program(encoded[int(request.path_params["n"])])
        body = orjson.dumps(
            {"outputs": {k: v.numpy() for k, v in outputs.items()}}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/floor/{n:int}", floor, methods=["POST"])])


def run_floor_server(export_dir: str, port: int, sizes: list[int]) -> None:
    """Serve :func:`floor_app` with the same uvicorn settings as ``estlab serve`` (blocks)."""
    import gc

    import torch
    import uvicorn

    torch.set_num_threads(1)
    app = floor_app(export_dir, sizes)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="h11")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(process: subprocess.Popen, port: int, path: str, method: str = "GET") -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(f"{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1"):
                    return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 120 s")


def request_bytes(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def drive(port: int, request: bytes, clients: int, seconds: float, max_requests: int) -> dict:
    """``clients`` connections sending ``request`` back to back for ``seconds`` (or ``max_requests``)."""
    latencies: list[float] = []
    failures = 0
    issued = 0
    first_body: list[bytes] = []

    async def client() -> None:
        nonlocal issued, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while issued < max_requests and time.monotonic() < deadline:
                issued += 1
                start = time.perf_counter()
                try:
                    status, body = await _one(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError):
                    failures += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - start)
                failures += status != 200
                if not first_body:
                    first_body.append(body)
        finally:
            writer.close()

    deadline = time.monotonic() + seconds
    began = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    elapsed = time.perf_counter() - began
    ms = np.asarray(latencies or [float("nan")]) * 1000.0
    return {
        "requests": len(latencies),
        "failed": failures,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "first_body": first_body[0] if first_body else b"",
    }


def check_answer(body: bytes, expected: dict, rows: int) -> None:
    """The served answer equals the in-process predictions (to 1e-6)."""
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == rows, f"expected {rows} rows, got {len(predictions)}"
    np.testing.assert_allclose(
        [p["probabilities"] for p in predictions], expected["probabilities"], atol=1e-6
    )
    assert [p["classes"] for p in predictions] == expected["classes"].tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-dir", help="an existing export (default: train and export a small DNN)")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per run (default: 5)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="requests per run, at most")
    parser.add_argument("--rounds", type=int, default=2, help="alternating floor/estlab runs per scenario")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 256], help="rows per request")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 32], help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="estlab serve --workers (default: 1)")
    parser.add_argument("--serve-args", default="", help="extra estlab serve arguments, space separated")
    parser.add_argument("--floor-server", nargs=2, metavar=("EXPORT_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_server:
        run_floor_server(args.floor_server[0], int(args.floor_server[1]), args.rows)
        return 0

    import torch

    from estlab.export import load

    torch.set_num_threads(1)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = args.export_dir or build_export(Path(tmp))
        model = load(export_dir)
        floor_port, serve_port = free_port(), free_port()
        rows_args = [str(r) for r in args.rows]
        floor = subprocess.Popen(
            [sys.executable, __file__, "--floor-server", export_dir, str(floor_port), "--rows", *rows_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        serve_command = [
            sys.executable, "-m", "estlab.export.cli", "serve", export_dir, "--model-name", "bench",
            "--port", str(serve_port), "--log-level", "warning", "--no-access-log",
            "--workers", str(args.workers), *args.serve_args.split(),
        ]  # fmt: skip
        server = subprocess.Popen(serve_command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        results: list[dict] = []
        try:
            wait_ready(floor, floor_port, f"/floor/{args.rows[0]}", "POST")
            wait_ready(server, serve_port, "/v1/models/bench")
            for rows in args.rows:
                instances = sample_rows(rows)
                body = json.dumps({"instances": instances}).encode()
                expected = model.predict_columns(instances)
                targets = {
                    "floor": (floor_port, request_bytes(f"/floor/{rows}", body)),
                    "estlab": (serve_port, request_bytes("/v1/models/bench:predict", body)),
                }
                for clients in args.clients:
                    best: dict[str, dict] = {}
                    for _ in range(args.rounds):
                        for name, (port, request) in targets.items():
                            asyncio.run(drive(port, request, clients, 1.0, 200))  # warm-up
                            run = asyncio.run(drive(port, request, clients, args.seconds, args.max_requests))
                            if name == "estlab":
                                check_answer(run["first_body"], expected, rows)
                            if name not in best or run["requests_per_s"] > best[name]["requests_per_s"]:
                                best[name] = run
                    floor_rate = best["floor"]["requests_per_s"]
                    for name, run in best.items():
                        row = {
                            "target": name,
                            "rows": rows,
                            "clients": clients,
                            "requests_per_s": round(run["requests_per_s"], 1),
                            "rows_per_s": round(run["requests_per_s"] * rows, 1),
                            "p50_ms": round(run["p50_ms"], 2),
                            "p99_ms": round(run["p99_ms"], 2),
                            "ratio_to_floor": round(run["requests_per_s"] / floor_rate, 2),
                            "requests": run["requests"],
                            "failed": run["failed"],
                        }
                        results.append(row)
                        print(
                            f"{rows:>4} rows {clients:>3} clients {name:>7}: {row['requests_per_s']:>8.1f} req/s "
                            f"{row['rows_per_s']:>10.1f} rows/s  p50 {row['p50_ms']:>7.2f} ms  "
                            f"p99 {row['p99_ms']:>7.2f} ms  x{row['ratio_to_floor']:.2f} of floor"
                            + (f"  FAILED {row['failed']}" if row["failed"] else ""),
                            flush=True,
                        )
        finally:
            for process in (server, floor):
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    summary = {
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    print(json.dumps(summary))
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
