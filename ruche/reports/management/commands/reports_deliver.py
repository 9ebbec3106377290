"""`ruche reports_deliver [--date YYYY-MM-DD] [--schedule]`: send the report emails and alerts
due today now, or (--schedule) enqueue the daily job that `ruche worker` runs every morning."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from ruche.reports import deliveries
from ruche.reports.tasks import send_report_deliveries


class Command(BaseCommand):
    help = "Send due report emails and alerts now, or schedule the daily delivery job."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Act as if today were this date (YYYY-MM-DD).")
        parser.add_argument(
            "--schedule", action="store_true", help="Enqueue the daily job for the worker."
        )

    def handle(self, *args, date=None, schedule=False, **options):
        if schedule:
            send_report_deliveries.enqueue(reschedule=True)
            self.stdout.write("Daily report delivery job enqueued; `ruche worker` runs it.")
            return
        try:
            day = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise CommandError(f"--date: not a date (YYYY-MM-DD): {date!r}") from None
        result = deliveries.send_due_deliveries(day)
        self.stdout.write(
            f"{result['reports']} report email(s), {result['alerts']} alert(s), "
            f"{result['retried']} retried, {result['errors']} not computed."
        )
