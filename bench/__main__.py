"""`python -m bench`: time what Ruche does at scale, write bench/results/latest.{json,md}.

Suites (all by default; `--only SUITE` picks some, and the others' last figures are kept):

- demo (demo load and API): `ruche demo --deals N` on a fresh SQLite file and a fresh
  PostgreSQL database (`ruche_bench`, created and dropped here), after `ruche migrate`; then
  bench/api.py serves the loaded database with `ruche serve`, creates a token for the demo
  admin, times the deals list (first and deep page), GET and PATCH of one deal, and measures
  GET throughput with wrk;
- pages (issue #3, 300 ms p95): bench/pages.py, the board, deal page, lists and dashboard,
  server time in-process, on a kept SQLite database of --pages-deals (100,000) demo deals;
- metrics (issue #4, 200 ms p95): bench/metrics.py, the dashboard and report queries, on kept
  databases of --metrics-sqlite-deals (200,000) and --metrics-pg-deals (1,000,000) deals.

Kept databases (bench.harness.kept_database) are loaded once and reused: the first run of
the metrics suite on PostgreSQL loads a million deals (several minutes).

Every figure is wall-clock seconds on this machine, reported as median and p95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

from bench import api
from bench.harness import (
    Target,
    fresh_database,
    kept_database,
    run_suite,
    run_timed,
    serving,
    summarize,
)

RESULTS = Path(__file__).resolve().parent / "results"
DEMO_LOGIN = "admin@ruche.demo"
SUITES = ("demo", "pages", "metrics")
TARGET_MS = {"pages": 300, "metrics": 200}


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


def bench_api(target: Target) -> dict:
    """Latency and throughput of the API on the loaded database (bench/api.py)."""
    created = run_timed(["token", "create", DEMO_LOGIN, "--name", "bench"], target.env)
    token = created.stdout.strip().splitlines()[-1]
    with serving(target, extra_env={"RUCHE_API_RATE_LIMIT": "100000000"}) as base:
        return api.measure(base, token)


# Report -------------------------------------------------------------------------------------


def demo_markdown(report: dict) -> list[str]:
    lines = [
        f"## Demo load: `ruche demo --deals {report['deals']:,}` on a fresh database",
        "",
        f"{report['finished']}.",
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
    lines += ["", "## API (ruche serve, 2 gunicorn workers)", ""]
    for backend, figures in report["api"].items():
        lines += [
            f"### {backend}",
            "",
            "| request | n | median (ms) | p95 (ms) |",
            "| --- | --- | --- | --- |",
        ]
        for name, stats in figures.items():
            if isinstance(stats, dict):
                lines.append(
                    f"| {name} | {stats['n']} | {stats['median'] * 1000:.1f} | "
                    f"{stats['p95'] * 1000:.1f} |"
                )
            else:
                lines.append(f"| {name} | | {stats:,.0f} requests/s | |")
        lines.append("")
    return lines


SUITE_TITLES = {
    "pages": (
        "Pages: server time (issue #3, target {target} ms p95)",
        "In-process Django test Client, signed in, the whole request (middleware, view, SQL, "
        "template) without network or browser; `python -m bench --only pages`.",
        "page",
    ),
    "metrics": (
        "Dashboard and report queries (issue #4, target {target} ms p95)",
        "In-process calls of ruche.forecasting (metric(), funnel, quotas, projection) as the "
        "demo admin unless stated; `python -m bench --only metrics`.",
        "query",
    ),
}


CPU_NOTE = (
    "CPU: this process's CPU time per call; on SQLite it includes the database engine (in "
    "process), so on a busy machine it is the better estimate of the idle-machine cost; on "
    "PostgreSQL the server's share is not in it. SQL time: the first call's queries, summed. "
    "n = 1: the first call alone took longer than the time budget."
)


def timed_markdown(suite: str, runs: dict) -> list[str]:
    """A table per database: median, p95, SQL queries, and whether p95 is over target."""
    title, how, what = SUITE_TITLES[suite]
    target = TARGET_MS[suite]
    lines = [f"## {title.format(target=target)}", "", f"{how} {CPU_NOTE}", ""]
    for backend, run in runs.items():
        over = [
            name for name, f in run["cases"].items() if "error" in f or f["p95"] * 1000 > target
        ]
        lines += [
            f"### {backend}, {run['deals']:,} demo deals",
            "",
            f"{run['finished']}; {len(over)} of {len(run['cases'])} over target.",
            "",
            f"| {what} | n | median (ms) | p95 (ms) | CPU median (ms) | CPU p95 (ms) "
            "| SQL queries | SQL time (ms) | over target |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, f in run["cases"].items():
            if "error" in f:
                lines.append(f"| {name} | {f['error']} | | | | | | | **yes** |")
                continue
            cpu = f["cpu"]
            lines.append(
                f"| {name} | {f['n']} | {f['median'] * 1000:.1f} | {f['p95'] * 1000:.1f} | "
                f"{cpu['median'] * 1000:.1f} | {cpu['p95'] * 1000:.1f} | {f['queries']} | "
                f"{f['sql_s'] * 1000:.1f} | {'**yes**' if f['p95'] * 1000 > target else ''} |"
            )
        lines.append("")
    return lines


def write_markdown(report: dict, path: Path) -> None:
    machine = report["machine"]
    lines = [
        "# Ruche benchmarks",
        "",
        f"{machine['cpus']} CPUs ({machine['platform']}), Python {machine['python']}.",
        "",
    ]
    if report.get("demo_load"):
        lines += demo_markdown(report)
    for suite in ("pages", "metrics"):
        if report.get(suite):
            lines += timed_markdown(suite, report[suite])
    path.write_text("\n".join(lines) + "\n")


# Running the suites -----------------------------------------------------------------------------


def run_demo(report: dict, options, backends: list[str]) -> None:
    report |= {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
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
                    report["api"][backend] = bench_api(target)
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


def run_timed_suite(suite: str, report: dict, options, sizes: dict[str, int]) -> None:
    """bench/pages.py or bench/metrics.py on a kept database per backend."""
    args = [] if options.samples is None else ["--samples", str(options.samples)]
    if options.case:
        args += ["--only", options.case]
    runs = report.setdefault(suite, {})
    for backend, deals in sizes.items():
        print(f"{suite} on {backend}, {deals:,} deals...")
        with kept_database(backend, deals, options.seed) as target:
            cases = run_suite(suite, target, args)
        runs[backend] = {
            "deals": deals,
            "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "cases": cases,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", action="append", choices=SUITES, help="Only this suite (repeatable)."
    )
    parser.add_argument("--deals", type=int, default=100_000, help="Demo suite: deals (100000).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="Demo suite: runs per database (1).")
    parser.add_argument(
        "--backend",
        action="append",
        choices=("sqlite", "postgresql"),
        help="Only this database (repeatable); default: both (pages: SQLite).",
    )
    parser.add_argument("--pages-deals", type=int, default=100_000)
    parser.add_argument("--metrics-sqlite-deals", type=int, default=200_000)
    parser.add_argument("--metrics-pg-deals", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, help="Pages and metrics: samples per case.")
    parser.add_argument("--case", help="Pages and metrics: only cases whose name contains this.")
    parser.add_argument("--output", type=Path, default=RESULTS, help="Where to write results.")
    options = parser.parse_args(argv)
    suites = options.only or list(SUITES)
    backends = options.backend or ["sqlite", "postgresql"]

    report: dict = {}
    if "demo" in suites:
        run_demo(report, options, backends)
    if "pages" in suites:
        page_backends = options.backend or ["sqlite"]
        run_timed_suite("pages", report, options, dict.fromkeys(page_backends, options.pages_deals))
    if "metrics" in suites:
        sizes = {"sqlite": options.metrics_sqlite_deals, "postgresql": options.metrics_pg_deals}
        run_timed_suite("metrics", report, options, {b: sizes[b] for b in backends})
    save(report, options.output)


def save(new: dict, output: Path) -> None:
    """Merge this run's figures into latest.json, read now (not at the start: another run may
    have written it meanwhile): the demo figures replace the old ones, the pages and metrics
    figures replace those of the same database only."""
    latest = output / "latest.json"
    report = json.loads(latest.read_text()) if latest.exists() else {}
    for suite in ("pages", "metrics"):
        report.setdefault(suite, {}).update(new.pop(suite, {}))
    report |= new
    report["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    output.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, output / "latest.md")
    print((output / "latest.md").read_text())


if __name__ == "__main__":
    main()
