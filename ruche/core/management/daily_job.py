"""The shape of `ruche billing_reminders` and `ruche reports_deliver`: run what is due today
now (or on `--date`), or with `--schedule` enqueue the daily job that `ruche worker` runs."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError


class DailyJobCommand(BaseCommand):
    task = None  # the django-tasks task that runs the job and enqueues the next day's run
    scheduled_message = ""

    def run(self, day: dt.date | None) -> str:
        """Do what is due on `day` (today if None); return a one-line summary."""
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Act as if today were this date (YYYY-MM-DD).")
        parser.add_argument(
            "--schedule", action="store_true", help="Enqueue the daily job for the worker."
        )

    def handle(self, *args, date=None, schedule=False, **options):
        if schedule:
            self.task.enqueue(reschedule=True)
            self.stdout.write(self.scheduled_message)
            return
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date: not a date (YYYY-MM-DD): {date!r}") from None
        self.stdout.write(self.run(day))
