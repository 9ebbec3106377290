"""`python -m bench`: time what Ruche does at scale, write bench/results/latest.{json,md}.

Suites, each a function of a freshly loaded database (`Target`):

- demo load: `ruche demo --deals N` on a fresh SQLite file and a fresh PostgreSQL database
  (`ruche_bench`, created and dropped here), after `ruche migrate`;
- API: bench/api.py serves the loaded database with `ruche serve`, creates a token for the
  demo admin, times the deals list (first and deep page), GET and PATCH of one deal, and
  measures GET throughput with wrk.

Every figure is wall-clock seconds on this machine; with --repeat R each is run R times and
reported as median and p95.
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
from bench.harness import Target, fresh_database, run_timed, serving, summarize

RESULTS = Path(__file__).resolve().parent / "results"
DEMO_LOGIN = "admin@ruche.demo"


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
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, options.output / "latest.md")
    print((options.output / "latest.md").read_text())


if __name__ == "__main__":
    main()
