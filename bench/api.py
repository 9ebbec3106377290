"""API latency and throughput against `ruche serve` (gunicorn) on loopback.

Latency: one client sends requests one after another, a new connection each, as a script or an
integration would; figures are per-request seconds (median, p95). Throughput: wrk (Debian
package) with 2 threads and 16 connections on GET one deal. The server runs with the rate limit
lifted, so the figures are the server's own.
"""

import json
import os
import random
import re
import shutil
import subprocess
import time
import urllib.request

from bench.harness import summarize

SAMPLES = int(os.environ.get("RUCHE_BENCH_SAMPLES", "300"))


class Client:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[dict, float]:
        """The decoded JSON and the seconds the request took; a non-2xx answer fails."""
        request = urllib.request.Request(
            f"{self.base}/api/v2{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"x-api-token": self.token, "Content-Type": "application/json"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload), time.perf_counter() - started

    def timed(self, method: str, paths: list[str], bodies: list | None = None) -> dict:
        self.call(method, paths[0], bodies[0] if bodies else None)  # warm-up
        return summarize(
            [
                self.call(method, path, bodies[i] if bodies else None)[1]
                for i, path in enumerate(paths)
            ]
        )


def wrk_requests_per_second(base: str, token: str, path: str, seconds: int = 10) -> float:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (Debian package wrk).")
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds}s",
            "-H",
            f"x-api-token: {token}",
            f"{base}/api/v2{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise SystemExit(f"wrk saw {errors[1]} error responses:\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)[1])


def measure(base: str, token: str) -> dict:
    """The core issue's figures: the deals list on its first page and on a page 90 % deep,
    GET one deal, PATCH a deal's stage, and GET-one-deal throughput."""
    from ruche.api.cursors import encode_cursor

    client = Client(base, token)
    rng = random.Random(7)
    newest = client.call("GET", "/deals?sort_by=id&sort_direction=desc&limit=1")[0]["data"][0]
    last_id = newest["id"]
    stage_ids = [
        stage["id"]
        for stage in client.call("GET", f"/stages?pipeline_id={newest['pipeline_id']}")[0]["data"]
    ]
    deep_cursor = encode_cursor(int(last_id * 0.9), int(last_id * 0.9))
    one_deal = [f"/deals/{rng.randint(1, last_id)}" for _ in range(SAMPLES)]
    return {
        "GET /deals?limit=100, first page": client.timed("GET", ["/deals?limit=100"] * SAMPLES),
        "GET /deals?limit=100, page at 90 % depth": client.timed(
            "GET", [f"/deals?limit=100&cursor={deep_cursor}"] * SAMPLES
        ),
        "GET /deals/{id}": client.timed("GET", one_deal),
        "PATCH /deals/{id} stage_id": client.timed(
            "PATCH", one_deal, [{"stage_id": rng.choice(stage_ids)} for _ in one_deal]
        ),
        "GET /deals/{id} requests/s (wrk, 16 connections)": wrk_requests_per_second(
            base, token, one_deal[0]
        ),
    }
