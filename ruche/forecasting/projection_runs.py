"""The cached company-wide projection and backtest (ProjectionRun): pages read the latest run
and ask for a new one when it is stale; the job computes it. The projection and backtest are
computed without a user (every deal), so they are shown to those who see every deal."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ruche.core.exceptions import RucheError
from ruche.forecasting.backtest import backtest
from ruche.forecasting.metrics import MetricQuery
from ruche.forecasting.models import ProjectionRun
from ruche.forecasting.periods import local_tz
from ruche.forecasting.projection import HORIZON, projection

STALE_AFTER = dt.timedelta(hours=12)
RETRY_AFTER = dt.timedelta(hours=1)  # a requested run not done by then is requested again


def latest_run() -> ProjectionRun | None:
    """The latest computed run (one query)."""
    return ProjectionRun.objects.filter(computed_at__isnull=False).first()


def projection_for(user, *, months: int = HORIZON, query: MetricQuery | None = None) -> dict:
    """The projection of the request: the latest run's when it answers it (every deal, seen
    by `user`; no filter; HORIZON months; computed today, without error), else computed now
    (and, for such a request, a new run asked for as the dashboard does). The run is as of
    its `as_of`: deals won since are not in it."""
    query = query or MetricQuery()
    if (user is None or user.is_admin) and months == HORIZON and query == MetricQuery():
        run = latest_run()
        if (
            run is not None
            and not run.error
            and run.computed_at.astimezone(local_tz()).date() == timezone.localdate()
        ):
            return run.projection
        request_run(run)
    return projection(user, months=months, query=query)


def request_run(latest: ProjectionRun | None, *, now: dt.datetime | None = None) -> bool:
    """Ask the job for a new run when `latest` is missing or stale and no request is pending;
    True when one was requested."""
    now = now or timezone.now()
    if latest is not None and latest.computed_at > now - STALE_AFTER:
        return False
    if ProjectionRun.objects.filter(
        computed_at__isnull=True, requested_at__gt=now - RETRY_AFTER
    ).exists():
        return False
    from ruche.forecasting.tasks import refresh_projection

    run = ProjectionRun.objects.create(requested_at=now)
    transaction.on_commit(lambda: refresh_projection.enqueue(run.pk))
    return True


def compute_run(run_id: int) -> ProjectionRun:
    """Fill a requested run; a run already computed is left as it is (safe to run twice)."""
    run = ProjectionRun.objects.get(pk=run_id)
    if run.computed_at is not None:
        return run
    try:
        run.projection = projection(None)
        run.backtest = backtest(None)
    except RucheError as error:  # a missing exchange rate, for one
        run.error = str(error)
    run.computed_at = timezone.now()
    run.save(update_fields=["projection", "backtest", "error", "computed_at"])
    return run
