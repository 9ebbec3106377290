"""Import benchmark: 100,000 deals with their organisations and persons, from one CSV with
French formats, on SQLite and on PostgreSQL. Reports wall-clock seconds of `ruche import deals`,
the importing process's CPU seconds and peak memory (ru_maxrss), and on PostgreSQL the CPU
seconds of the server process that ran the import (read from /proc when the server is on this
machine): memory stays flat from 10,000 to 300,000 deals, because the file is streamed and
records are matched in the database.

    .venv/bin/python -m bench.import_bench [--deals 100000] [--only sqlite|postgresql]
        [--output FILE]   (default: bench/results/import.json, or import-<deals>.json)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "ruche_import_bench"
STAGES = ["Lead", "Prospect", "Meeting", "Qualified / quote sent", "Negotiation"]


def write_file(path: Path, deals: int) -> None:
    rng = random.Random(6)
    orgs = max(1, deals // 5)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            "Réf;Intitulé;Montant;Étape;Statut;Raison de la perte;Société;SIREN;"
            "Contact;E-mail;Créé le;Clôture prévue\n"
        )
        for i in range(deals):
            org = rng.randrange(orgs)
            person = org * 2 + rng.randrange(2)
            status = rng.choice(["", "", "gagné", "perdu"])
            reason = "Prix trop élevé" if status == "perdu" else ""
            euros, cents = rng.randrange(100, 200000), rng.randrange(100)
            amount = f"{euros:,}".replace(",", ".") + f",{cents:02d} €"
            handle.write(
                f"B{i};Affaire {i};{amount};{rng.choice(STAGES)};{status};{reason};"
                f"Société {org} SAS;;Contact {person};contact{person}@exemple.fr;"
                f"{rng.randrange(1, 28):02d}/{rng.randrange(1, 13):02d}/2024;"
                f"{rng.randrange(1, 28):02d}/{rng.randrange(1, 13):02d}/2025\n"
            )


# Runs `ruche ARGS` and prints the process's own CPU time, peak memory (KiB) and its database
# server process's CPU time last on stderr.
MEASURED = (
    "import resource, sys\n"
    "from bench.import_bench import report_server_cpu_on_close\n"
    "from ruche.cli import main\n"
    "report_server_cpu_on_close()\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "finally:\n"
    "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print(f'CPU_S={usage.ru_utime + usage.ru_stime:.2f}', file=sys.stderr)\n"
    "    print(f'PEAK_KB={usage.ru_maxrss}', file=sys.stderr)\n"
)


def report_server_cpu_on_close() -> None:
    """Before a management command closes its connections, print its PostgreSQL backend's
    CPU time (see `print_server_cpu`)."""
    from django.db import connections

    close_all = connections.close_all

    def measured_close_all():
        print_server_cpu()
        close_all()

    connections.close_all = measured_close_all


def print_server_cpu() -> None:
    """SERVER_CPU_S=seconds on stderr: the CPU time of this process's PostgreSQL backend, when
    the server runs on this machine."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return
    seconds = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    print(f"SERVER_CPU_S={seconds:.2f}", file=sys.stderr)


def ruche(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", MEASURED, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def measured(done: subprocess.CompletedProcess, name: str) -> float:
    for line in reversed(done.stderr.splitlines()):
        if line.startswith(f"{name}="):
            return float(line.split("=")[1])
    return 0.0


def run_one(database: str, csv_path: Path, work: Path) -> dict:
    env = dict(os.environ)
    if database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    else:
        subprocess.run(
            ["psql", PG_SERVER + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_DATABASE}"],
            check=True,
        )
        subprocess.run(
            ["psql", PG_SERVER + "/postgres", "-qc", f"CREATE DATABASE {PG_DATABASE}"], check=True
        )
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
    for args in (
        ("migrate", "-v0"),
        (
            "user",
            "create",
            "bench@ruche.test",
            "--role",
            "admin",
            "--password",
            "bench-Import-2026!",
        ),
    ):
        done = ruche(env, *args)
        if done.returncode:
            raise SystemExit(done.stderr)
    start = time.perf_counter()
    done = ruche(env, "import", "deals", str(csv_path), "--json", "--user", "bench@ruche.test")
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-3000:] + done.stdout[-3000:])
    report = json.loads(done.stdout)
    if database != "sqlite":
        subprocess.run(
            ["psql", PG_SERVER + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_DATABASE}"],
            check=False,
        )
    return {
        "database": database,
        "seconds": round(seconds, 2),
        # CPU time of the importing process: on a shared machine, wall-clock time also
        # counts the waits for other processes.
        "cpu_seconds": measured(done, "CPU_S"),
        **({"server_cpu_seconds": measured(done, "SERVER_CPU_S")} if database != "sqlite" else {}),
        "peak_memory_mb": round(measured(done, "PEAK_KB") / 1024, 1),
        "rows": report["rows"],
        "created": report["created"],
        "file_mb": round(csv_path.stat().st_size / 1024 / 1024, 1),
        "related_created": report["related_created"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--output", type=Path, help="where to write the figures")
    options = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "deals.csv"
        write_file(csv_path, options.deals)
        for database in ("sqlite", "postgresql"):
            if options.only and options.only != database:
                continue
            result = run_one(database, csv_path, work)
            results.append(result)
            print(json.dumps(result), flush=True)
    name = "import.json" if options.deals == 100_000 else f"import-{options.deals}.json"
    out = options.output or ROOT / "bench" / "results" / name
    out.write_text(json.dumps({"deals": options.deals, "results": results}, indent=2))


if __name__ == "__main__":
    main()
