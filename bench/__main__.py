"""`python -m bench`: time what Ruche does at scale, write bench/results/latest.{json,md}.

Suites, each a function of a freshly loaded database (`Target`):

- demo load: `ruche demo --deals N` on a fresh SQLite file and a fresh PostgreSQL database
  (`ruche_bench`, created and dropped here), after `ruche migrate`;
- API latency: `measure_api` serves the loaded database with `ruche serve`, creates a token
  for the demo admin and times GET requests; add endpoints to API_ENDPOINTS.

Every figure is wall-clock seconds on this machine; with --repeat R each is run R times and
reported as median and p95.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
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
RESULTS = Path(__file__).resolve().parent / "results"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "ruche_bench"
DEMO_LOGIN = "admin@ruche.demo"

# (name, path) of the API requests to time, e.g. ("deals, first page", "/api/v2/deals?limit=100").
API_ENDPOINTS: list[tuple[str, str]] = []
API_REQUESTS = 50


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


# Suites -------------------------------------------------------------------------------------


def bench_demo_load(target: Target, deals: int, seed: int) -> dict:
    migrate = run_timed(["migrate", "--no-input", "-v", "0"], target.env)
    load = run_timed(["demo", "--deals", str(deals), "--seed", str(seed)], target.env)
    counts = re.search(r"Demo loaded in [\d.]+ s: (.*)\.", load.stdout)
    return {
        "migrate_s": round(migrate.seconds, 2),
        "demo_s": round(load.seconds, 2),
        "deals_per_s": round(deals / load.seconds),
        "max_rss_mb": round(load.max_rss_mb),
        "db_size_mb": round(target.size_mb()),
        "rows": counts.group(1) if counts else "",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(target: Target, workers: int = 2):
    """`ruche serve` on the target's database, on a free loopback port, until the block ends."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ruche", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=target.env,
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


def time_get(url: str, token: str, requests: int) -> list[float]:
    """Seconds per sequential GET with the API token (x-api-token); a non-2xx response fails."""
    samples = []
    for _ in range(requests):
        request = urllib.request.Request(url, headers={"x-api-token": token})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        samples.append(time.perf_counter() - started)
    return samples


def measure_api(target: Target, endpoints: list[tuple[str, str]], requests: int) -> dict:
    if not endpoints:
        return {"status": "no API endpoints to time yet (bench/__main__.py: API_ENDPOINTS)"}
    created = run_timed(["token", "create", DEMO_LOGIN, "--name", "bench"], target.env)
    token = created.stdout.strip().splitlines()[-1]
    results = {}
    with serving(target) as base:
        for name, path in endpoints:
            time_get(base + path, token, 3)  # warm up
            results[name] = summarize(time_get(base + path, token, requests))
    return results


# Report -------------------------------------------------------------------------------------


def write_markdown(report: dict, path: Path) -> None:
    lines = [
        "# Ruche benchmarks",
        "",
        f"{report['finished']} on {report['machine']['cpus']} CPUs "
        f"({report['machine']['platform']}), Python {report['machine']['python']}.",
        "",
        f"## Demo load: `ruche demo --deals {report['deals']:,}` on a fresh database",
        "",
        "| database | runs | load median (s) | load p95 (s) | deals/s | 1M deals, extrapolated "
        "| migrate (s) | peak RSS (MB) | size (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, figures in report["demo_load"].items():
        load = figures["demo_s"]
        per_million = load["median"] * 1_000_000 / report["deals"]
        lines.append(
            f"| {backend} | {load['n']} | {load['median']:.1f} | {load['p95']:.1f} | "
            f"{figures['deals_per_s']:,} | {per_million / 60:.1f} min | "
            f"{figures['migrate_s']['median']:.1f} | {figures['max_rss_mb']} | "
            f"{figures['db_size_mb']} |"
        )
    first = next(iter(report["demo_load"].values()), None)
    if first:
        lines += ["", f"Rows written per run: {first['rows']}."]
    lines += ["", "## API latency", ""]
    for backend, figures in report["api"].items():
        if "status" in figures:
            lines.append(f"- {backend}: {figures['status']}")
            continue
        lines += [
            f"### {backend}",
            "",
            "| request | n | median (ms) | p95 (ms) |",
            "| --- | --- | --- | --- |",
        ]
        for name, stats in figures.items():
            lines.append(
                f"| {name} | {stats['n']} | {stats['median'] * 1000:.1f} | "
                f"{stats['p95'] * 1000:.1f} |"
            )
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=100_000, help="Deals to load (100000).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="Runs per database (1).")
    parser.add_argument(
        "--backend",
        action="append",
        choices=("sqlite", "postgresql"),
        help="Only this database (repeatable); default: both.",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="Where to write results.")
    options = parser.parse_args(argv)
    backends = options.backend or ["sqlite", "postgresql"]

    report = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "deals": options.deals,
        "seed": options.seed,
        "demo_load": {},
        "api": {},
    }
    for backend in backends:
        runs = []
        for attempt in range(options.repeat):
            print(f"{backend}: run {attempt + 1}/{options.repeat}, {options.deals:,} deals...")
            with fresh_database(backend) as target:
                runs.append(bench_demo_load(target, options.deals, options.seed))
                print(f"  loaded in {runs[-1]['demo_s']} s")
                if attempt == options.repeat - 1:
                    report["api"][backend] = measure_api(target, API_ENDPOINTS, API_REQUESTS)
        last = runs[-1]
        report["demo_load"][backend] = {
            "demo_s": summarize([r["demo_s"] for r in runs]),
            "migrate_s": summarize([r["migrate_s"] for r in runs]),
            "deals_per_s": round(options.deals / statistics.median(r["demo_s"] for r in runs)),
            "max_rss_mb": max(r["max_rss_mb"] for r in runs),
            "db_size_mb": last["db_size_mb"],
            "rows": last["rows"],
        }
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, options.output / "latest.md")
    print((options.output / "latest.md").read_text())


if __name__ == "__main__":
    main()
