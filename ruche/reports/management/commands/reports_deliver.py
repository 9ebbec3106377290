"""`ruche reports_deliver [--date YYYY-MM-DD] [--schedule]`: send the report emails and alerts
due today now, or (--schedule) enqueue the daily job that `ruche worker` runs every morning."""

from ruche.core.management.daily_job import DailyJobCommand
from ruche.reports import deliveries
from ruche.reports.tasks import send_report_deliveries


class Command(DailyJobCommand):
    help = "Send due report emails and alerts now, or schedule the daily delivery job."
    task = send_report_deliveries
    scheduled_message = "Daily report delivery job enqueued; `ruche worker` runs it."

    def run(self, day):
        result = deliveries.send_due_deliveries(day)
        return (
            f"{result['reports']} report email(s), {result['alerts']} alert(s), "
            f"{result['retried']} retried, {result['errors']} not computed."
        )
