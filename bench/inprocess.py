"""Timing inside one Django process on the target's database. The pages and metrics suites
(`python -m bench.pages`, `python -m bench.metrics`) run here; bench/__main__.py starts them
with the target's environment (bench.harness.run_suite) and reads the JSON they write.

Each case is called once untimed with its SQL captured (the query count, the slowest query),
then timed `samples` times without capture, stopping early once `budget` seconds are spent
(never under MIN_SAMPLES), so a slow case on a million deals does not run for an hour. A case
whose first call alone takes longer than the budget is not called again: that call (with its
SQL captured) is its one sample, and `n` says so. `sql_s` is the time the first call spent in
SQL (the sum of its queries' durations): the database part of the case.

A call running past `--timeout` seconds (120) is stopped (SQLite: a progress handler
interrupts the statement; PostgreSQL: statement_timeout) and the case is reported as timed
out, like a case that fails (the code under test may be mid-change): `{"error": ...}`, and
the other cases still run.

Next to the wall-clock figures, `cpu` gives the CPU seconds this process spent per sample.
On SQLite the database engine runs in this process, so on a machine busy with other work the
CPU time is the better estimate of what the request costs on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import summarize

MIN_SAMPLES = 5
SQL_SHOWN = 20000  # characters of the slowest query kept in the JSON


@dataclass
class Case:
    """A named thing to time; `call(i)` does the i-th sample (so samples can vary the deal,
    the pipeline, ...)."""

    name: str
    call: Callable[[int], object]
    prepare: Callable[[], object] | None = None  # run once before timing, when selected


def sql_seconds(queries: list[dict]) -> float:
    return sum(float(query["time"]) for query in queries)


def setup_django(timeout: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.db.backends.signals import connection_created

    django.setup()
    connection_created.connect(_limit_statements(timeout), weak=False)


class Deadline:
    """When the case being timed must stop; SQLite's progress handler reads it."""

    at = float("inf")


def _limit_statements(timeout: float) -> Callable:
    def limit(sender, connection, **kwargs):
        if connection.vendor == "sqlite":
            connection.connection.set_progress_handler(
                lambda: int(time.monotonic() > Deadline.at), 100_000
            )
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(timeout * 1000)}")

    return limit


def _cancel_postgresql_after_deadline(wrapper, done: threading.Event) -> None:
    """A case is many statements: once past the deadline, cancel whichever is running on
    `wrapper`, the timing thread's connection (Django's are per thread)."""
    while not done.wait(0.5):
        if time.monotonic() > Deadline.at and wrapper.connection is not None:
            wrapper.connection.cancel()


def guarded(case: Case, timeout: float) -> Case:
    """The case with each call stopped after `timeout` seconds."""
    from django.db import DEFAULT_DB_ALIAS, connections

    def call(i: int):
        Deadline.at = time.monotonic() + timeout
        done = threading.Event()
        wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's (`connection` is a proxy)
        if wrapper.vendor == "postgresql":
            threading.Thread(
                target=_cancel_postgresql_after_deadline, args=(wrapper, done), daemon=True
            ).start()
        try:
            return case.call(i)
        finally:
            done.set()
            Deadline.at = float("inf")

    return Case(case.name, call)


def measure_case(case: Case, samples: int, budget: float) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # captured_queries reads the connection's log, which the next request empties: copy it.
    started, cpu_started = time.perf_counter(), time.process_time()
    with CaptureQueriesContext(connection) as capture:
        case.call(0)
    first, first_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    queries = list(capture.captured_queries)
    slowest = max(queries, key=lambda q: float(q["time"]), default=None)
    times, cpu = ([first], [first_cpu]) if first > budget else ([], [])
    spent_since = time.perf_counter()
    for i in range(0 if times else samples):
        started, cpu_started = time.perf_counter(), time.process_time()
        case.call(i)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        if len(times) >= MIN_SAMPLES and time.perf_counter() - spent_since > budget:
            break
    return summarize(times) | {
        "cpu": summarize(cpu),
        "queries": len(queries),
        "sql_s": round(sql_seconds(queries), 4),
        "slowest_sql_s": float(slowest["time"]) if slowest else 0.0,
        "slowest_sql": slowest["sql"][:SQL_SHOWN] if slowest else "",
    }


def run_cases(
    cases: list[Case], *, samples: int, budget: float, timeout: float, only: str | None
) -> dict:
    from django.db import connection

    results = {}
    for case in cases:
        if only and only.lower() not in case.name.lower():
            continue
        try:
            if case.prepare is not None:
                case.prepare()
            results[case.name] = measure_case(guarded(case, timeout), samples, budget)
        except (Exception, SystemExit) as error:  # timed out, or the code is mid-change
            if connection.vendor == "postgresql":
                connection.close()  # a cancelled statement leaves an aborted connection
            text = f"{type(error).__name__}: {str(error)[:300]}"
            if any(word in text for word in ("interrupted", "canceling statement")):
                text = f"timed out after {timeout:g} s"
            results[case.name] = {"error": text}
            print(f"    {case.name}: {results[case.name]['error']}", flush=True)
            continue
        figures = results[case.name]
        print(
            f"    {case.name}: median {figures['median'] * 1000:.1f} ms, "
            f"p95 {figures['p95'] * 1000:.1f} ms (n={figures['n']}, "
            f"{figures['queries']} queries)",
            flush=True,
        )
    return results


def main(description: str, build_cases: Callable[[], list[Case]], samples: int) -> None:
    """The command line of a suite module: time its cases, write the JSON to --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--samples", type=int, default=samples, help=f"Per case ({samples}).")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="Seconds per case before stopping early (20)."
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="Seconds before a call is stopped (120)."
    )
    parser.add_argument("--only", help="Only the cases whose name contains this text.")
    parser.add_argument("--out", type=Path, help="Write the figures here as JSON.")
    options = parser.parse_args()
    setup_django(options.timeout)
    results = run_cases(
        build_cases(),
        samples=options.samples,
        budget=options.budget,
        timeout=options.timeout,
        only=options.only,
    )
    if options.out:
        options.out.write_text(json.dumps(results, indent=2) + "\n")
