"""`ruche serve`: collect static files, then replace this process with gunicorn."""

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections


def default_workers() -> int:
    return min(2 * (os.cpu_count() or 1) + 1, 8)


class Command(BaseCommand):
    help = "Serve Ruche with gunicorn (config.wsgi); static files are served by WhiteNoise."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port (8000).")
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help=f"Gunicorn worker processes (2 x CPUs + 1, at most 8: {default_workers()}).",
        )
        parser.add_argument(
            "--no-collectstatic",
            action="store_false",
            dest="collectstatic",
            help="Do not collect static files first.",
        )

    def handle(self, *args, host, port, workers, collectstatic, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        self.check(display_num_errors=False)
        if collectstatic:
            # Copies only what changed since the last run, so it is quick after the first.
            call_command("collectstatic", interactive=False, verbosity=0)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
        ]
        self.stdout.write(f"Ruche on http://{bind}/ ({workers} workers). Ctrl-C stops it.")
        self.stdout.flush()
        connections.close_all()
        os.execv(sys.executable, command)
