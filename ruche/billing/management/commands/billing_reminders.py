"""`ruche billing_reminders [--date YYYY-MM-DD] [--schedule]`: send today's payment reminders
now, or (--schedule) enqueue the daily job that `ruche worker` runs every morning."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from ruche.billing import reminders
from ruche.billing.tasks import schedule_daily_reminders, send_due_reminders


class Command(BaseCommand):
    help = "Send due payment reminders now, or schedule the daily reminder job."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Act as if today were this date (YYYY-MM-DD).")
        parser.add_argument(
            "--schedule", action="store_true", help="Enqueue the daily job for the worker."
        )

    def handle(self, *args, date=None, schedule=False, **options):
        if schedule:
            send_due_reminders.enqueue(reschedule=True)
            self.stdout.write("Daily reminder job enqueued; `ruche worker` runs it.")
            return
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date: not a date (YYYY-MM-DD): {date!r}") from None
        result = reminders.send_due_reminders(day)
        self.stdout.write(
            f"{result['reminders']} reminder(s), {result['overdue_notices']} overdue notice(s)."
        )


__all__ = ["Command", "schedule_daily_reminders"]
