"""The report pages: the list (mine and shared), the form, a report with its chart and table,
its CSV/XLSX export, its email schedules, and the alerts page.

Every write goes through ruche.reports.services: a refusal re-renders the form with status 422
and the message on the field it names, and changes nothing; changing someone else's report
answers 403 (404 when it is not even readable).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ruche.core.exceptions import PermissionDenied, RucheError, ValidationError
from ruche.core.spreadsheets import FORMATS, download
from ruche.reports import selectors, services
from ruche.reports.figures import GROUPINGS, report_data
from ruche.reports.tables import export_rows, header, span_text, text_rows
from ruche.reports.web.forms import (
    ALERT_LABELS,
    CHART_LABELS,
    FREQUENCY_LABELS,
    KIND_LABELS,
    PERIOD_LABELS,
    AlertForm,
    ReportForm,
    ScheduleForm,
)
from ruche.web.views.common import actor, error_text, web_view


def _own_report(request: HttpRequest, report_id: int):
    """The report to change: 404 if unreadable, 403 if readable but someone else's."""
    report = selectors.access_report_by_id(request.user, report_id)
    if report.owner_id != request.user.pk:
        raise DjangoPermissionDenied
    return report


@web_view
def report_list(request: HttpRequest) -> HttpResponse:
    reports = list(selectors.report_list(request.user))
    return render(
        request,
        "reports/list.html",
        {
            "mine": [r for r in reports if r.owner_id == request.user.pk],
            "shared": [r for r in reports if r.owner_id != request.user.pk],
            "kinds": KIND_LABELS,
        },
    )


def _form_page(request, form: ReportForm, report=None, status: int = 200) -> HttpResponse:
    offered = {kind: list(values) for kind, values in GROUPINGS.items()}
    return render(
        request,
        "reports/form.html",
        {"form": form, "report": report, "offered": offered},
        status=status,
    )


def _save_report(request: HttpRequest, report=None) -> HttpResponse:
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            if report is None:
                report = services.report_create(actor=actor(request), data=form.service_data())
            else:
                services.report_update(
                    actor=actor(request), report_id=report.pk, data=form.service_data()
                )
        except ValidationError as error:
            form.add_refusal(error)
        else:
            messages.success(request, _("Report saved."))
            return redirect("web:report", report_id=report.pk)
    return _form_page(request, form, report, status=422)


@web_view
def report_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_report(request)
    return _form_page(request, ReportForm(initial={"period": "this_year", "grouping": "month"}))


@web_view
def report_edit(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _own_report(request, report_id)
    if request.method == "POST":
        return _save_report(request, report)
    return _form_page(request, ReportForm(initial=ReportForm.initial_of(report)), report)


@web_view
@require_POST
def report_delete(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _own_report(request, report_id)
    services.report_delete(actor=actor(request), report_id=report.pk)
    messages.success(request, _("Report deleted."))
    return redirect("web:reports")


@web_view
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = selectors.access_report_by_id(request.user, report_id)
    context = {
        "report": report,
        "labels": {
            "kind": KIND_LABELS[report.kind],
            "period": PERIOD_LABELS[report.period],
            "chart": CHART_LABELS[report.chart],
        },
        "schedules": list(selectors.schedule_list(request.user, report_id=report.pk)),
        "schedule_form": ScheduleForm(user=request.user),
        "frequencies": FREQUENCY_LABELS,
        "formats": FORMATS,
    }
    status = 200
    try:
        data = report_data(request.user, report, timezone.localdate())
    except RucheError as error:
        context["error"] = error_text(error)
        status = 400
    else:
        context |= {
            "span": span_text(data),
            "header": header(data),
            "rows": text_rows(data),
            "chart": data.chart() if report.chart != report.Chart.TABLE else None,
        }
    return render(request, "reports/detail.html", context, status=status)


@web_view
def report_export(request: HttpRequest, report_id: int, file_format: str) -> HttpResponse:
    if file_format not in FORMATS:
        raise Http404
    report = selectors.access_report_by_id(request.user, report_id)
    try:
        data = report_data(request.user, report, timezone.localdate())
    except RucheError as error:  # a missing exchange rate: said on the report's page
        messages.error(request, error_text(error))
        return redirect("web:report", report_id=report.pk)
    name = slugify(report.name) or f"report-{report.pk}"
    return download(export_rows(data), name, file_format)


@web_view
@require_POST
def schedule_add(request: HttpRequest, report_id: int) -> HttpResponse:
    form = ScheduleForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            services.schedule_create(
                actor=actor(request), report_id=report_id, **form.service_data()
            )
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, _("The report will be emailed."))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("web:report", report_id=report_id)


@web_view
@require_POST
def schedule_remove(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = selectors.schedule_list(request.user).filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404
    services.schedule_delete(actor=actor(request), schedule_id=schedule.pk)
    messages.success(request, _("Schedule removed."))
    return redirect("web:report", report_id=schedule.report_id)


@web_view
def alert_list(request: HttpRequest) -> HttpResponse:
    form = AlertForm(user=request.user, initial={"period": "quarter", "min_count": 1})
    status = 200
    if request.method == "POST":
        form = AlertForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                services.alert_create(actor=actor(request), data=form.service_data())
            except ValidationError as error:
                form.add_refusal(error)
            else:
                messages.success(request, _("Alert saved."))
                return redirect("web:report_alerts")
        status = 422
    return render(
        request,
        "reports/alerts.html",
        {
            "form": form,
            "alerts": list(selectors.alert_list(request.user)),
            "kinds": ALERT_LABELS,
            "frequencies": FREQUENCY_LABELS,
        },
        status=status,
    )


@web_view
@require_POST
def alert_remove(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        services.alert_delete(actor=actor(request), alert_id=alert_id)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, _("Alert removed."))
    return redirect("web:report_alerts")
