"""The pipeline board: one column per stage, loaded lazily page by page, with the column
totals computed by one GROUP BY query."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ruche.accounts.models import Team
from ruche.api.pagination import paginate
from ruche.billing.models import Invoice
from ruche.billing.selectors import deal_payment_states
from ruche.core.custom_fields import definitions
from ruche.core.exceptions import ValidationError
from ruche.core.models import CustomField, Lookup
from ruche.core.money import round_half_up
from ruche.pipelines.models import Deal, Pipeline, Stage
from ruche.pipelines.selectors import pipeline_list, stage_list
from ruche.web import formatting
from ruche.web.filters import CUSTOM_PREFIX, DealFilters, active_lookups
from ruche.web.views.common import STATUS_LABELS, web_view
from ruche.web.views.lists import saved_filters

PAGE_SIZE = 20

# The deal's payment state (ruche.billing.selectors.deal_payment_states), shown as a badge.
PAYMENT_LABELS = {
    Invoice.Status.ISSUED: _("Invoiced"),
    Invoice.Status.PARTIALLY_PAID: _("Partly paid"),
    Invoice.Status.PAID: _("Paid"),
    Invoice.Status.OVERDUE: _("Overdue"),
    Invoice.Status.CREDITED: _("Credited"),
}


def set_payment_badges(user, deals: list[Deal]) -> None:
    """Give each deal `payment` ({"status", "label"}) or None, in one query for all of them."""
    states = deal_payment_states(user, [deal.pk for deal in deals]) if deals else {}
    for deal in deals:
        state = states.get(deal.pk)
        deal.payment = (
            {"status": state["status"], "label": PAYMENT_LABELS[state["status"]]} if state else None
        )


def _pipeline(pipeline_id: int) -> Pipeline:
    pipeline = pipeline_list().filter(pk=pipeline_id).first()
    if pipeline is None:
        raise Http404
    return pipeline


def is_rotting(deal: Deal, stage: Stage, now: dt.datetime) -> bool:
    """Idle longer than the stage allows since it entered the stage or its last activity."""
    if deal.status != Deal.Status.OPEN or stage.days_to_rotten is None:
        return False
    idle_since = deal.stage_change_time
    if deal.last_activity_date is not None:
        day_start = timezone.make_aware(dt.datetime.combine(deal.last_activity_date, dt.time.min))
        idle_since = max(idle_since, day_start)
    return now - idle_since > dt.timedelta(days=stage.days_to_rotten)


def stage_summaries(user, pipeline: Pipeline, filters: DealFilters, stages: list[Stage]) -> dict:
    """{stage_id: {"count", "total", "weighted"}}, amounts as formatted text per currency."""
    rows = (
        filters.deals(user)
        .filter(pipeline=pipeline)
        .order_by()
        .values("stage_id", "currency")
        .annotate(
            count=Count("id"),
            total=Sum("value_minor"),
            weighted=Sum(F("value_minor") * Coalesce("probability", "stage__deal_probability")),
        )
    )
    summaries = {stage.pk: {"count": 0, "total": [], "weighted": []} for stage in stages}
    for row in rows:
        summary = summaries.get(row["stage_id"])
        if summary is None:
            continue
        summary["count"] += row["count"]
        summary["total"].append(formatting.money(row["total"] or 0, row["currency"]))
        weighted = round_half_up(Decimal(row["weighted"] or 0) / 100)
        summary["weighted"].append(formatting.money(weighted, row["currency"]))
    return summaries


def board_context(request: HttpRequest, pipeline: Pipeline) -> dict:
    filters = DealFilters.from_params(request.GET)
    stages = list(stage_list(pipeline.pk))
    return {
        "pipeline": pipeline,
        "stages": stages,
        "filters": filters,
        "query": filters.querystring(board=True),
        "summaries": stage_summaries(request.user, pipeline, filters, stages),
    }


@web_view
def board_home(request: HttpRequest) -> HttpResponse:
    pipeline = pipeline_list().first()
    if pipeline is None:
        raise Http404
    query = request.GET.urlencode()
    return redirect(f"/pipelines/{pipeline.pk}/board/" + (f"?{query}" if query else ""))


def custom_filter_fields(filters: DealFilters, owners: list) -> list[dict]:
    """One filter per deal custom field: a choice list where the field has options (or is a
    user), else a box the value is typed in."""
    fields = []
    for custom_field in definitions(CustomField.Entity.DEAL).values():
        kind = custom_field.field_type
        options = None
        if kind in (CustomField.FieldType.SINGLE_CHOICE, CustomField.FieldType.MULTIPLE_CHOICE):
            options = [(str(option["id"]), option["label"]) for option in custom_field.options]
        elif kind == CustomField.FieldType.USER:
            options = [(str(owner.pk), str(owner)) for owner in owners]
        fields.append(
            {
                "name": f"{CUSTOM_PREFIX}{custom_field.key}",
                "label": custom_field.name,
                "value": filters.custom_value(custom_field.key),
                "options": options,
                "input": "date" if kind == CustomField.FieldType.DATE else "text",
            }
        )
    return fields


@web_view
def board(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    pipeline = _pipeline(pipeline_id)
    context = board_context(request, pipeline)
    owners = list(get_user_model().objects.filter(is_active=True).order_by("name", "email"))
    lookups = active_lookups(
        Lookup.Kind.LABEL, Lookup.Kind.FORECAST_CATEGORY, Lookup.Kind.LOSS_REASON
    )
    context |= {
        "pipelines": list(pipeline_list()),
        "owners": owners,
        "labels": lookups[Lookup.Kind.LABEL],
        "forecast_categories": lookups[Lookup.Kind.FORECAST_CATEGORY],
        "teams": list(Team.objects.order_by("name")),
        "loss_reasons": lookups[Lookup.Kind.LOSS_REASON],
        "status_labels": STATUS_LABELS,
        "custom_filters": custom_filter_fields(context["filters"], owners),
        "saved_filters": saved_filters(request.user, "board"),
        "save_query": context["query"],
    }
    return render(request, "web/board/board.html", context)


@web_view
def board_summary(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    """The column headers alone, refreshed after a card moves."""
    return render(request, "web/board/summary.html", board_context(request, _pipeline(pipeline_id)))


@web_view
def board_column(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    """One page of a column's cards, newest first, and the button for the next page."""
    pipeline = _pipeline(pipeline_id)
    stages = list(stage_list(pipeline.pk))
    stage = next((s for s in stages if s.pk == stage_id), None)
    if stage is None:
        raise Http404
    filters = DealFilters.from_params(request.GET)
    deals = (
        filters.deals(request.user)
        .filter(pipeline=pipeline, stage=stage)
        .select_related("org", "owner", "next_activity")
    )
    try:
        cards, next_cursor = paginate(
            deals,
            limit=PAGE_SIZE,
            cursor=request.GET.get("cursor"),
            sort_by="id",
            sort_direction="desc",
        )
    except ValidationError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    now, today = timezone.now(), timezone.localdate()
    for deal in cards:
        deal.stage = stage
        deal.rotting = is_rotting(deal, stage, now)
        deal.overdue = deal.next_activity_date is not None and deal.next_activity_date < today
    set_payment_badges(request.user, cards)
    return render(
        request,
        "web/board/column.html",
        {
            "pipeline": pipeline,
            "stage": stage,
            "stages": stages,
            "cards": cards,
            "next_cursor": next_cursor,
            "query": filters.querystring(board=True),
            "board_url": f"/pipelines/{pipeline.pk}/board/?{filters.querystring(board=True)}",
        },
    )
