"""Report jobs (django-tasks), run by `ruche worker`.

`send_report_deliveries` runs once a day: at its end it enqueues its next run for tomorrow at
DELIVERY_HOUR (local time), so one enqueue (`ruche reports_deliver --schedule`) keeps it going.
Running it more than once a day is harmless: each delivery is decided once
(ruche.reports.deliveries).
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from ruche.reports import deliveries

DELIVERY_HOUR = 7


def next_run_time(now: dt.datetime | None = None) -> dt.datetime:
    now = timezone.localtime(now or timezone.now())
    naive = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(DELIVERY_HOUR))
    return timezone.make_aware(naive, timezone.get_current_timezone())


@task()
def send_report_deliveries(today: str | None = None, reschedule: bool = False) -> dict:
    """Send the report emails and alerts due on `today` (ISO date; default: today)."""
    result = deliveries.send_due_deliveries(dt.date.fromisoformat(today) if today else None)
    if reschedule:
        schedule_daily_deliveries()
    return result


def schedule_daily_deliveries(run_after: dt.datetime | None = None) -> None:
    """Enqueue the next daily run (after the current transaction commits)."""
    when = run_after or next_run_time()
    transaction.on_commit(
        lambda: send_report_deliveries.using(run_after=when).enqueue(reschedule=True)
    )
