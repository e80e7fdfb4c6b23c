"""`obsstore serve otlp` and `obsstore serve prometheus` as commands: a process that listens,
takes OTLP in, and answers scrapes with what it took."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.serve.test_otlp_receiver import _sum_request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _command(*args: str) -> Iterator[int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "obsstore.cli", "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[1].decode()
                assert time.monotonic() < deadline, "the command did not start listening"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def test_serve_otlp_then_serve_prometheus(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    with _command("otlp", "--url", url) as port:
        s = 1_700_000_000 * 10**9
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/metrics",
            json=_sum_request([(s, s + 10**9, 7.0), (s, s + 2 * 10**9, 9.0)]),
        )
        assert response.status_code == 200
    # Terminating the receiver writes what its writer still held.
    with _command("prometheus", "--url", url) as port:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'jobs_total{job="cron"} 9.0' in body
