"""Billing jobs (django-tasks), run by `ruche worker`.

`send_due_reminders` runs once a day: at its end it enqueues its next run for tomorrow at
REMINDER_HOUR (local time), so one enqueue (`ruche billing_reminders --schedule`, or the first
run) keeps it going. Running it more than once a day is harmless: each (invoice, step) reminder
is decided once (ruche.billing.reminders).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from ruche.billing import reminders

REMINDER_HOUR = 8


def next_run_time(now: dt.datetime | None = None) -> dt.datetime:
    now = timezone.localtime(now or timezone.now())
    tomorrow = now.date() + dt.timedelta(days=1)
    naive = dt.datetime.combine(tomorrow, dt.time(REMINDER_HOUR))
    return timezone.make_aware(naive, timezone.get_current_timezone())


@task()
def send_due_reminders(today: str | None = None, reschedule: bool = False) -> dict:
    """Send the reminders and overdue notices due on `today` (ISO date; default: today)."""
    day = dt.date.fromisoformat(today) if today else None
    result = reminders.send_due_reminders(day)
    if reschedule:
        schedule_daily_reminders()
    return result


def schedule_daily_reminders(run_after: dt.datetime | None = None) -> None:
    """Enqueue the next daily run (after the current transaction commits)."""
    when = run_after or next_run_time()
    transaction.on_commit(lambda: send_due_reminders.using(run_after=when).enqueue(reschedule=True))
