"""GET /exports/fec, /exports/quickbooks and /exports/xero?from=YYYY-MM-DD&to=YYYY-MM-DD:
the accounting exports of a period, for admins and managers (included by ruche.billing.api)."""

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from ruche.billing.exports import check_exporter, check_period
from ruche.billing.exports.csv_layouts import export_quickbooks, export_xero
from ruche.billing.exports.fec import export_fec, filename
from ruche.billing.models import BillingProfile

router = Router(tags=["Accounting exports"])


class PeriodParams(Schema):
    start: str = Field(..., alias="from", max_length=10, description="First day, YYYY-MM-DD")
    end: str = Field(..., alias="to", max_length=10, description="Last day, YYYY-MM-DD")


def _period(request, params: PeriodParams):
    check_exporter(request.auth)
    return check_period(params.start, params.end)


def _file(text: str, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/exports/fec", operation_id="exportFec", summary="FEC of a period (tab-separated)")
def fec(request, params: Query[PeriodParams]):
    start, end = _period(request, params)
    text = export_fec(request.auth, start, end)
    name = filename(BillingProfile.current().siren, end)
    return _file(text, "text/tab-separated-values; charset=utf-8", name)


@router.get(
    "/exports/quickbooks",
    operation_id="exportQuickbooks",
    summary="Invoices of a period in QuickBooks Online's import layout (CSV)",
)
def quickbooks(request, params: Query[PeriodParams]):
    start, end = _period(request, params)
    text = export_quickbooks(request.auth, start, end)
    return _file(text, "text/csv; charset=utf-8", f"quickbooks-invoices-{start}-{end}.csv")


@router.get(
    "/exports/xero",
    operation_id="exportXero",
    summary="Sales invoices and credit notes of a period in Xero's import layout (CSV)",
)
def xero(request, params: Query[PeriodParams]):
    start, end = _period(request, params)
    text = export_xero(request.auth, start, end)
    return _file(text, "text/csv; charset=utf-8", f"xero-sales-invoices-{start}-{end}.csv")
