"""What every benchmark needs: figures (median, p95), a fresh database per run, `ruche`
commands timed with their peak memory, and `ruche serve` on a free loopback port."""

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "ruche_bench"


# Figures ------------------------------------------------------------------------------------


def summarize(samples: list[float]) -> dict:
    """Median and p95 (nearest rank) of a list of seconds."""
    ordered = sorted(samples)
    rank = max(0, -(-95 * len(ordered) // 100) - 1)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[rank], 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    stdout: str


def run_timed(args: list[str], env: dict) -> Run:
    """Run `python -m ruche ARGS`, failing loudly; wall time and the child's peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ruche", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"`ruche {' '.join(args)}` failed:\n{stdout}")
    return Run(seconds, usage.ru_maxrss / 1024, stdout)


# Targets: a fresh database per run ----------------------------------------------------------


@dataclass
class Target:
    backend: str
    env: dict = field(default_factory=dict)
    workdir: Path | None = None

    def size_mb(self) -> float:
        if self.backend == "sqlite":
            return sum(p.stat().st_size for p in self.workdir.glob("ruche.sqlite3*")) / 2**20
        out = subprocess.run(
            ["psql", f"{PG_SERVER}/postgres", "-Atc", f"SELECT pg_database_size('{PG_DATABASE}')"],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.strip()) / 2**20


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True)


@contextlib.contextmanager
def fresh_database(backend: str):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RUCHE_VAR_DIR")}
    workdir = Path(tempfile.mkdtemp(prefix="ruche-bench-"))
    env["RUCHE_VAR_DIR"] = str(workdir)
    if backend == "postgresql":
        _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        _psql(f"CREATE DATABASE {PG_DATABASE}")
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
    try:
        yield Target(backend, env, workdir)
    finally:
        if backend == "postgresql":
            _psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(target: Target, workers: int = 2, extra_env: dict | None = None):
    """`ruche serve` on the target's database, on a free loopback port, until the block ends."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ruche", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=target.env | (extra_env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{base}/admin/login/", timeout=2).read()
                break
            time.sleep(0.2)
        else:
            raise SystemExit("`ruche serve` did not answer within 20 s.")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
