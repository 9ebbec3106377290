"""What every benchmark needs: figures (median, p95), a fresh database per run or a kept one
loaded once, `ruche` commands timed with their peak memory, in-process suites run against a
target's database, and `ruche serve` on a free loopback port."""

import contextlib
import json
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


# Kept databases: loaded once with `ruche demo`, reused by later runs --------------------------

KEPT_DIR = Path(os.environ.get("BENCH_DATA_DIR", "/tmp"))


def size_label(deals: int) -> str:
    """1000000 -> "1m", 200000 -> "200k": the suffix of a kept database's name."""
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if deals >= size and deals % size == 0:
            return f"{deals // size}{unit}"
    return str(deals)


def _demo_marker(deals: int, seed: int) -> str:
    return json.dumps({"ruche_demo_deals": deals, "seed": seed})


def _pg_comment(database: str) -> str:
    """The comment of `database`, where its load marker is kept ("" if none or no database)."""
    out = subprocess.run(
        [
            "psql",
            f"{PG_SERVER}/postgres",
            "-Atc",
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            f"WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@contextlib.contextmanager
def kept_database(backend: str, deals: int, seed: int = 1):
    """A demo database of `deals` deals kept between runs: a SQLite file under
    $BENCH_DATA_DIR/ruche-bench-<size>/ or the PostgreSQL database ruche_bench<size>. The
    first run loads it (`ruche demo`, minutes for a million deals) and marks it loaded;
    every run migrates it, so new indexes apply. A half-loaded one is loaded again."""
    label = size_label(deals)
    marker = _demo_marker(deals, seed)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RUCHE_VAR_DIR")}
    workdir = KEPT_DIR / f"ruche-bench-{label}"
    workdir.mkdir(parents=True, exist_ok=True)
    env["RUCHE_VAR_DIR"] = str(workdir)
    if backend == "postgresql":
        database = f"{PG_DATABASE}{label}"
        env["DATABASE_URL"] = f"{PG_SERVER}/{database}"
        loaded = _pg_comment(database) == marker
        if not loaded:
            _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            _psql(f"CREATE DATABASE {database}")
    else:
        marker_file = workdir / "loaded.json"
        loaded = marker_file.exists() and marker_file.read_text() == marker
        if not loaded:
            for stale in workdir.glob("ruche.sqlite3*"):
                stale.unlink()
    run_timed(["migrate", "--no-input", "-v", "0"], env)
    if not loaded:
        print(f"  loading {deals:,} demo deals into the kept {backend} database (once)...")
        run_timed(["demo", "--deals", str(deals), "--seed", str(seed)], env)
        if backend == "postgresql":
            _psql(f"COMMENT ON DATABASE {database} IS '{marker}'")
        else:
            marker_file.write_text(marker)
    if backend == "postgresql":
        # What autovacuum does on a production server (CI servers may run without it): the
        # planner needs statistics, and index-only scans a visibility map.
        subprocess.run(
            ["psql", env["DATABASE_URL"], "-qc", "VACUUM (ANALYZE)" if not loaded else "ANALYZE"],
            check=True,
        )
    yield Target(backend, env, workdir)


def run_suite(module: str, target: Target, args: list[str]) -> dict:
    """Run `python -m bench.MODULE ARGS --out FILE` on the target's database (its own
    process: Django reads the database settings once) and return the JSON it wrote."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, "-m", f"bench.{module}", *args, "--out", out.name],
            cwd=ROOT,
            env=target.env,
            check=True,
        )
        return json.loads(Path(out.name).read_text())


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
