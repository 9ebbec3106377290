"""`ruche billing_reminders [--date YYYY-MM-DD] [--schedule]`: send today's payment reminders
now, or (--schedule) enqueue the daily job that `ruche worker` runs every morning."""

from ruche.billing import reminders
from ruche.billing.tasks import send_due_reminders
from ruche.core.management.daily_job import DailyJobCommand


class Command(DailyJobCommand):
    help = "Send due payment reminders now, or schedule the daily reminder job."
    task = send_due_reminders
    scheduled_message = "Daily reminder job enqueued; `ruche worker` runs it."

    def run(self, day):
        result = reminders.send_due_reminders(day)
        return f"{result['reminders']} reminder(s), {result['overdue_notices']} overdue notice(s)."
