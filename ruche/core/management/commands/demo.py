"""`ruche demo`: load a realistic French company into an empty database."""

import argparse
import datetime as dt

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ruche.accounts.models import User
from ruche.demo import data
from ruche.demo.generator import DemoError, existing_data, generate


class Command(BaseCommand):
    help = (
        "Load demo data (a French company's last three years of selling) into an empty "
        "database. The same --seed and --today always give the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--deals", type=int, default=5000, help="Number of deals (5000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (1).")
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Reference date YYYY-MM-DD (default: today); every past event is before it.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="ERASE EVERYTHING in the database first (like `ruche flush`), then load.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (exit 0) when the database already holds data.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask to confirm --reset.",
        )
        parser.add_argument("--chunk-size", type=int, default=2000, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        found = existing_data()
        if found and options["if_empty"] and not options["reset"]:
            self.stdout.write(
                "The database already holds data; demo not loaded ("
                + ", ".join(f"{count} {kind}" for kind, count in found.items())
                + ")."
            )
            self._print_login(only_if_present=True)
            return
        if found and not options["reset"]:
            raise CommandError(
                "The database is not empty ("
                + ", ".join(f"{count} {kind}" for kind, count in found.items())
                + "). `ruche demo` loads into an empty database only; "
                "`ruche demo --reset` erases ALL data first."
            )
        if options["reset"]:
            if options["interactive"]:
                answer = input(
                    "This erases ALL data in the database, then loads the demo. "
                    "Type 'yes' to continue: "
                )
                if answer != "yes":
                    raise CommandError("Cancelled.")
            call_command("flush", interactive=False, verbosity=0)

        deals = options["deals"]
        self.stdout.write(f"Loading the demo: {deals:,} deals, seed {options['seed']}...")

        shown = [0]

        def progress(done: int, total: int, seconds: float) -> None:
            # About every 5 %, for loads big enough to wait for.
            if options["verbosity"] < 1 or total < 20_000 or done < shown[0] + total // 20:
                return
            shown[0] = done
            rate = done / seconds if seconds else 0
            self.stdout.write(f"  {done:>10,} / {total:,} deals  {seconds:7.1f} s  {rate:,.0f}/s")

        try:
            result = generate(
                deals=deals,
                seed=options["seed"],
                today=options["today"],
                chunk_size=options["chunk_size"],
                progress=progress,
            )
        except DemoError as error:
            raise CommandError(str(error)) from None
        counts = ", ".join(f"{count:,} {kind}" for kind, count in sorted(result.counts.items()))
        self.stdout.write(f"Demo loaded in {result.seconds:.1f} s: {counts}.")
        self._print_login()

    def _print_login(self, only_if_present: bool = False) -> None:
        if only_if_present and not User.objects.filter(email=data.ADMIN_EMAIL).exists():
            return
        self.stdout.write(
            self.style.SUCCESS(f"Demo login: {data.ADMIN_EMAIL} / {data.DEMO_PASSWORD}")
            + " (every demo user has this password)"
        )
