"""/reports (list, get, add, update, delete) and /reports/{id}/data: thin routes over
ruche.reports' selectors and services, with the envelopes and ETags of ruche.api.crud."""

import datetime as dt
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.pagination import SortedPageParams
from ruche.api.schemas import Id
from ruche.reports import selectors, services
from ruche.reports.figures import GROUPING_LABELS, report_data
from ruche.reports.models import Report

router = Router(tags=["Reports"])

Kind = Literal["revenue", "forecast", "funnel", "activities", "win_loss", "deals_by_stage"]
Period = Literal[
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_12_months",
    "last_24_months",
    "all_time",
    "custom",
]
Chart = Literal["bar", "line", "pie", "table"]
Grouping = Literal[tuple(GROUPING_LABELS)]  # type: ignore[valid-type]


class ReportOut(Schema):
    id: int
    name: str
    kind: str
    shared: bool
    owner_id: int
    filter_owner_id: int | None
    filter_team_id: int | None
    filter_pipeline_id: int | None
    period: str
    date_from: dt.date | None
    date_to: dt.date | None
    grouping: str
    chart: str
    add_time: dt.datetime
    update_time: dt.datetime
    version: int


class ReportIn(Schema):
    name: str | None = Field(None, max_length=120)
    kind: Kind | None = None
    shared: bool | None = None
    filter_owner_id: Id | None = None
    filter_team_id: Id | None = None
    filter_pipeline_id: Id | None = None
    period: Period | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    grouping: Grouping | None = None
    chart: Chart | None = None


class ReportCreate(ReportIn):
    name: str = Field(..., min_length=1, max_length=120)
    kind: Kind


class ReportFilters(SortedPageParams):
    kind: Kind | None = None
    shared: bool | None = None
    mine: bool | None = Field(None, description="Only the reports the caller owns")


REPORTS = Resource(
    singular="Report",
    plural="Reports",
    path="/reports",
    out=ReportOut,
    create_in=ReportCreate,
    update_in=ReportIn,
    filters=ReportFilters,
    list_queryset=lambda user, values: selectors.report_list(user, filters=values),
    load=selectors.access_report_by_id,
    create=lambda actor, data: services.report_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.report_update(
        actor=actor, report_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.report_delete(actor=actor, report_id=pk),
)
add_crud_routes(router, REPORTS)


class ReportDataResponse(Schema):
    success: bool = True
    data: list[dict[str, Any]]
    additional_data: dict[str, Any]


def _data_rows(data) -> list[dict]:
    return [
        {"key": row["key"], "label": str(row["label"])} | {c.key: row[c.key] for c in data.columns}
        for row in data.rows
    ]


@router.get(
    "/reports/{int:id}/data",
    response=ReportDataResponse,
    operation_id="getReportData",
    summary="A report's figures, as the caller may see them",
)
def get_report_data(request, id: Id):
    report: Report = selectors.access_report_by_id(request.auth, id)
    data = report_data(request.auth, report, timezone.localdate())
    return {
        "success": True,
        "data": _data_rows(data),
        "additional_data": {
            "report_id": report.pk,
            "kind": report.kind,
            "grouping": report.grouping,
            "chart": report.chart,
            "currency": data.currency,
            "from": data.date_from,
            "to": data.date_to,
            "columns": [
                {"key": c.key, "label": str(c.label), "type": c.type} for c in data.columns
            ],
        },
    }
