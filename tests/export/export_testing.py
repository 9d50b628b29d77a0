"""Shared pieces of the export tests (imported by conftest and the test modules)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import torch

from estlab.export import HeadSpec, TensorSpec


class TinyClassifier(torch.nn.Module):
    """Raw tensors {"x": (N,) float, "k": (N,) int64} → 3 logits."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(2, 3)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(torch.stack([features["x"], features["k"].to(torch.float32)], dim=1))


TINY_INPUTS = (TensorSpec("x", "float32"), TensorSpec("k", "int64"))
TINY_HEAD = HeadSpec("multiclass", 3, ("low", "mid", "high"))


def tiny_example() -> dict[str, torch.Tensor]:
    return {"x": torch.tensor([0.5, 1.0, -2.0]), "k": torch.tensor([1, 0, 3])}


FRAME = pd.DataFrame(
    {
        "age": [25.0, 38.0, 28.0, 44.0, 52.0, 63.0, 19.0, 33.0],
        "color": ["red", "blue", "red", None, "green", "blue", "red", "blue"],
        "label": ["no", "yes", "no", "yes", "no", "yes", "no", "yes"],
    }
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(export_dir: Path, model_name: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """``python -m estlab.export.cli serve`` on a free loopback port; waits until it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "estlab.export.cli",
        "serve",
        str(export_dir),
        "--model-name",
        model_name,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read().decode()[-2000:]}")
        try:
            httpx.get(f"{url}/v1/models/{model_name}", timeout=1.0)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def reseal(export_dir: Path) -> None:
    """Recompute ``export.json``'s checksums after a test edited a file (what a crafted export would do:
    the checksums catch damage, not forgery)."""
    import json

    from estlab.export.layout import file_digests

    document = json.loads((export_dir / "export.json").read_text())
    document["files"] = file_digests(export_dir)
    (export_dir / "export.json").write_text(json.dumps(document))
