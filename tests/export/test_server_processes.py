"""``estlab serve`` as a real process: several workers on one port, and deadlines on slow clients."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import httpx
import numpy as np
import psutil
import pytest
from export_testing import start_server, stop_server

from estlab.export import load

pytestmark = pytest.mark.slow  # each test starts a server process (a few seconds)

ROWS = [{"x": 0.25, "k": 2}, {"x": -1.5, "k": 0}]


def _wait_for(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_workers_share_the_port_and_all_answer_right(tiny_export):
    process, url = start_server(tiny_export.parent, "tiny", "--workers", "2")
    try:
        parent = psutil.Process(process.pid)
        # uvicorn's supervisor spawns the workers; each loads the model before answering
        assert _wait_for(lambda: len([c for c in parent.children() if c.is_running()]) >= 2)
        workers = [c.pid for c in parent.children()]
        expected = load(tiny_export).predict_columns(ROWS, "serving_default")

        async def many() -> list[httpx.Response]:
            async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:
                return await asyncio.gather(
                    *[
                        client.post(f"{url}/v1/models/tiny:predict", json={"instances": ROWS})
                        for _ in range(40)
                    ]
                )

        for response in asyncio.run(many()):
            assert response.status_code == 200
            got = response.json()["predictions"]
            np.testing.assert_allclose([r["logits"] for r in got], expected["logits"], atol=1e-6)
            assert [r["classes"] for r in got] == expected["classes"].tolist()
        # both workers accept on the one listening socket the supervisor bound
        listening = {
            pid
            for pid in workers
            for conn in psutil.Process(pid).net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == int(url.rsplit(":", 1)[1])
        }
        assert len(listening) == 2, (workers, listening)
    finally:
        stop_server(process)
    assert process.returncode is not None
    assert _wait_for(lambda: not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                                     for pid in workers), 30)  # fmt: skip


def _length(answer: bytes) -> int:
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_a_slow_drip_client_is_disconnected_and_others_are_served(tiny_export):
    process, url = start_server(
        tiny_export.parent, "tiny", "--read-timeout", "1", "--keep-alive-timeout", "1"
    )
    port = int(url.rsplit(":", 1)[1])
    try:
        # the request head dripped one byte every 0.2 s: closed ~1 s after connecting
        drip = socket.create_connection(("127.0.0.1", port))
        drip.settimeout(0.2)
        head = (
            b"POST /v1/models/tiny:predict HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nx-pad: " + b"a" * 200
        )
        closed_after = None
        started = time.monotonic()
        for byte in head:
            try:
                drip.sendall(bytes([byte]))
                if drip.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except OSError:
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > 30:
                break
        drip.close()
        assert closed_after is not None and closed_after < 30
        # the body dripped after a complete head: 408 once the read timeout passes
        slow = socket.create_connection(("127.0.0.1", port))
        slow.settimeout(30)
        slow.sendall(b'POST /v1/models/tiny:predict HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"inst')
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        slow.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"not received within 1 s" in answer
        # an idle keep-alive connection is closed after --keep-alive-timeout
        idle = socket.create_connection(("127.0.0.1", port))
        idle.settimeout(30)
        idle.sendall(b"GET /v1/models/tiny HTTP/1.1\r\nhost: x\r\n\r\n")
        first = idle.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        rest = b""
        while chunk := idle.recv(4096):
            rest += chunk
        assert time.monotonic() - began < 30
        idle.close()
        assert httpx.post(f"{url}/v1/models/tiny:predict", json={"instances": ROWS}).status_code == 200
    finally:
        stop_server(process)


def test_a_token_from_the_environment_is_required(tiny_export, monkeypatch):
    monkeypatch.setenv("ESTLAB_SERVE_TOKEN", "env-token-123")
    process, url = start_server(tiny_export.parent, "tiny", "--workers", "2")  # any answer, 401 too, is "up"
    try:
        assert httpx.get(f"{url}/v1/models/tiny").status_code == 401
        good = httpx.post(
            f"{url}/v1/models/tiny:predict",
            json={"instances": ROWS},
            headers={"authorization": "Bearer env-token-123"},
        )
        assert good.status_code == 200
    finally:
        stop_server(process)
    output = process.stdout.read().decode() if process.stdout else ""
    assert "env-token-123" not in output
    assert os.environ["ESTLAB_SERVE_TOKEN"] == "env-token-123"
