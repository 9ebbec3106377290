"""API latency and throughput against a real `ruche serve` (gunicorn) on loopback.

Latency is measured by one client sending requests one after the other (p50/p95 over N
samples); throughput by wrk with several connections on GET one deal. The server runs with
the rate limit lifted, so the figures are the server's own.
"""

import contextlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = int(os.environ.get("RUCHE_BENCH_SAMPLES", "300"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(env: dict[str, str], workers: int = 2) -> Iterator[int]:
    """`ruche serve` on a free port, stopped on exit."""
    port = _free_port()
    server_env = os.environ | env | {"RUCHE_API_RATE_LIMIT": "100000000"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ruche", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("ruche serve did not start within 60 s")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "samples": len(ordered),
    }


class Client:
    """One keep-alive-less HTTP client, as a script or an integration would be."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"x-api-token": self.token, "Content-Type": "application/json"}
        started = time.perf_counter()
        connection.request(method, f"/api/v2{path}", json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed_ms = (time.perf_counter() - started) * 1000
        connection.close()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
        return response.status, json.loads(payload), elapsed_ms

    def timed(self, method: str, paths: list[str], body=None) -> dict[str, float]:
        self.request(method, paths[0], body)  # warm-up
        return percentiles([self.request(method, path, body)[2] for path in paths])


def cursor_after(deal_id: int) -> str:
    from ruche.api.pagination import encode_cursor

    return encode_cursor(deal_id, deal_id)


def wrk_requests_per_second(port: int, token: str, path: str, seconds: int = 10) -> float | None:
    """GET throughput with wrk (Debian package) on loopback: 2 threads, 16 connections."""
    if shutil.which("wrk") is None:
        return None
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "-H",
            f"x-api-token: {token}",
            f"http://127.0.0.1:{port}/api/v2{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx[1]} error responses")
    return float(match[1]) if match else None


def measure(port: int, token: str, deal_ids: list[int], stage_ids: list[int]) -> dict:
    """The figures the core issue asks for, on a database already holding the demo data."""
    client = Client(port, token)
    rng = random.Random(7)
    ids = sorted(deal_ids)
    deep_start = ids[int(len(ids) * 0.9)]
    one_deal = [f"/deals/{rng.choice(ids)}" for _ in range(SAMPLES)]
    figures = {
        "list_first_page": client.timed("GET", ["/deals?limit=100"] * SAMPLES),
        "list_deep_page": client.timed(
            "GET", [f"/deals?limit=100&cursor={cursor_after(deep_start)}"] * SAMPLES
        ),
        "get_one_deal": client.timed("GET", one_deal),
    }
    patch_samples = []
    for index in range(SAMPLES):
        body = {"stage_id": stage_ids[index % len(stage_ids)]}
        patch_samples.append(client.request("PATCH", f"/deals/{rng.choice(ids)}", body)[2])
    figures["patch_stage"] = percentiles(patch_samples)
    figures["get_one_deal_rps"] = wrk_requests_per_second(port, token, one_deal[0])
    return figures
