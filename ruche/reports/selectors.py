"""Reads: which reports, schedules and alerts a user may see. A report is seen by its owner, or
by everyone once shared; what it shows is always restricted to the viewer's deals."""

from django.db.models import Q, QuerySet

from ruche.core.exceptions import NotFound
from ruche.reports.models import Alert, Report, Schedule


def report_queryset(user) -> QuerySet[Report]:
    reports = Report.objects.filter(is_deleted=False)
    if user is None:
        return reports
    return reports.filter(Q(owner_id=user.pk) | Q(shared=True))


def report_list(user, *, filters: dict | None = None) -> QuerySet[Report]:
    """Mine and those shared with everyone; `kind`, `shared` and `mine` narrow the list."""
    filters = filters or {}
    reports = report_queryset(user).select_related("owner")
    if filters.get("kind") is not None:
        reports = reports.filter(kind=filters["kind"])
    if filters.get("shared") is not None:
        reports = reports.filter(shared=filters["shared"])
    if filters.get("mine"):
        reports = reports.filter(owner_id=user.pk)
    return reports


def access_report_by_id(user, report_id: int) -> Report:
    report = report_queryset(user).filter(pk=report_id).first()
    if report is None:
        raise NotFound(f"Report {report_id} not found.")
    return report


def can_read(report: Report, user) -> bool:
    return report.shared or report.owner_id == user.pk


def schedule_list(user, *, report_id: int | None = None) -> QuerySet[Schedule]:
    """The schedules the user set up."""
    schedules = Schedule.objects.filter(owner=user, report__is_deleted=False)
    if report_id is not None:
        schedules = schedules.filter(report_id=report_id)
    return schedules.select_related("report").prefetch_related("recipients").order_by("id")


def alert_list(user) -> QuerySet[Alert]:
    """The alerts the user set up."""
    return (
        Alert.objects.filter(owner=user)
        .select_related("target_user", "target_team", "pipeline")
        .prefetch_related("recipients")
    )
