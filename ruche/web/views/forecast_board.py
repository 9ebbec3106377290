"""The forecast board: deals in columns by month, as Pipedrive's forecast view shows them.
Open deals sit in the month of their expected close date, won deals in the month they were won.
Each column shows won, open and total, weighted by probability or not. Moving a card to
another month changes the deal's expected close date through the deal service (history and
rules apply); a form on each card does the same without a mouse or without script."""

import calendar as month_grid
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ruche.core.exceptions import RucheError, ValidationError
from ruche.core.money import round_half_up
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import access_deal_by_id, deal_queryset, pipeline_list
from ruche.pipelines.services import deal_update
from ruche.web import formatting
from ruche.web.views.common import actor, error_text, int_or_none, web_view

MONTHS_SHOWN = 6
CARDS_PER_MONTH = 50
Status = Deal.Status


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_month(text: str | None, *, field: str) -> dt.date:
    """ "2026-11" as the first day of that month."""
    try:
        return dt.datetime.strptime(text or "", "%Y-%m").date()
    except ValueError:
        raise ValidationError({field: _("A month as YYYY-MM is expected.")}) from None


def _start(request: HttpRequest) -> dt.date:
    """The first month shown, this month unless another is asked for within sane years."""
    try:
        start = parse_month(request.GET.get("start"), field="start")
    except ValidationError:
        start = None
    if start is None or not 1900 <= start.year <= 2999:
        return timezone.localdate().replace(day=1)
    return start


def _month_start_time(month: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(month, dt.time.min))


class ForecastFilters:
    """Pipeline, owner, first month shown and whether amounts are weighted."""

    def __init__(self, request: HttpRequest):
        pipelines = list(pipeline_list().order_by("order_nr", "id"))
        wanted = int_or_none(request.GET.get("pipeline"))
        self.pipelines = pipelines
        self.pipeline = next((p for p in pipelines if p.pk == wanted), None) or (
            pipelines[0] if pipelines else None
        )
        if self.pipeline is None:
            raise Http404
        self.owner_id = int_or_none(request.GET.get("owner"))
        self.start = _start(request)
        self.weighted = request.GET.get("weighted") == "1"
        self.months = [add_months(self.start, n) for n in range(MONTHS_SHOWN)]

    @property
    def end(self) -> dt.date:
        return add_months(self.start, MONTHS_SHOWN)

    def params(self, **changes) -> str:
        values = {
            "pipeline": self.pipeline.pk,
            "owner": self.owner_id or "",
            "start": self.start.strftime("%Y-%m"),
            "weighted": "1" if self.weighted else "",
        } | changes
        return "&".join(f"{key}={value}" for key, value in values.items() if value != "")

    def deals(self, user):
        deals = deal_queryset(user).filter(pipeline=self.pipeline)
        return deals.filter(owner_id=self.owner_id) if self.owner_id else deals

    def in_month(self, first: dt.date, last: dt.date) -> Q:
        """Open deals expected to close, and won deals won, from `first` to before `last`."""
        return Q(
            status=Status.OPEN, expected_close_date__gte=first, expected_close_date__lt=last
        ) | Q(
            status=Status.WON,
            won_time__gte=_month_start_time(first),
            won_time__lt=_month_start_time(last),
        )


WEIGHTED = F("value_minor") * Coalesce("probability", "stage__deal_probability")


def month_totals(user, filters: ForecastFilters) -> dict:
    """{month: {"won", "open", "total"}}, each a list of formatted amounts, one per currency;
    two GROUP BY queries for every column."""
    deals = filters.deals(user).order_by()
    won = (
        deals.filter(filters.in_month(filters.start, filters.end), status=Status.WON)
        .annotate(month=TruncMonth("won_time"))
        .values("month", "currency")
        .annotate(count=Count("id"), amount=Sum("value_minor"))
    )
    open_ = (
        deals.filter(filters.in_month(filters.start, filters.end), status=Status.OPEN)
        .annotate(month=TruncMonth("expected_close_date"))
        .values("month", "currency")
        .annotate(count=Count("id"), amount=Sum("value_minor"), weighted=Sum(WEIGHTED))
    )
    minor = {month: defaultdict(lambda: defaultdict(int)) for month in filters.months}
    counts = {month: defaultdict(int) for month in filters.months}
    for kind, rows in (("won", won), ("open", open_)):
        for row in rows:
            month = _as_date(row["month"])
            amount = row["amount"] or 0
            if kind == "open" and filters.weighted:
                amount = round_half_up(Decimal(row["weighted"] or 0) / 100)
            minor[month][kind][row["currency"]] += amount
            minor[month]["total"][row["currency"]] += amount
            counts[month][kind] += row["count"]
    return {
        month: {
            kind: [
                formatting.money(amount, currency)
                for currency, amount in sorted(minor[month][kind].items())
            ]
            for kind in ("won", "open", "total")
        }
        | {"won_count": counts[month]["won"], "open_count": counts[month]["open"]}
        for month in filters.months
    }


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def month_cards(user, filters: ForecastFilters, month: dt.date) -> list[Deal]:
    """The month's deals, open ones first by expected close date; one query per column."""
    return list(
        filters.deals(user)
        .filter(filters.in_month(month, add_months(month, 1)))
        .select_related("org", "owner")
        .order_by("status", "expected_close_date", "id")[:CARDS_PER_MONTH]
    )


def _columns(user, filters: ForecastFilters) -> list[dict]:
    totals = month_totals(user, filters)
    return [
        {
            "month": month,
            "key": month.strftime("%Y-%m"),
            "label": formatting.month(month),
            "totals": totals[month],
            "cards": month_cards(user, filters, month),
        }
        for month in filters.months
    ]


def _page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    filters = ForecastFilters(request)
    context = {
        "filters": filters,
        "columns": _columns(request.user, filters),
        "owners": list(get_user_model().objects.filter(is_active=True).order_by("name", "email")),
        "previous": filters.params(start=add_months(filters.start, -1).strftime("%Y-%m")),
        "following": filters.params(start=add_months(filters.start, 1).strftime("%Y-%m")),
        "weighted_toggle": filters.params(weighted="" if filters.weighted else "1"),
        "error": error,
    }
    return render(request, "web/forecast_board/board.html", context, status=status)


@web_view
def forecast_board(request: HttpRequest) -> HttpResponse:
    return _page(request)


def moved_close_date(current: dt.date | None, month: dt.date) -> dt.date:
    """The same day of the new month (the last day when the month is shorter)."""
    day = current.day if current else 1
    return month.replace(day=min(day, month_grid.monthrange(month.year, month.month)[1]))


@web_view
@require_POST
def forecast_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Move an open deal to another month: `month` as YYYY-MM. A drag sends it by fetch and
    gets 204 or 422 with the reason; the card's form gets the board again."""
    deal = access_deal_by_id(request.user, deal_id)  # NotFound is a 404
    try:
        month = parse_month(request.POST.get("month"), field="month")
        if deal.status != Status.OPEN:
            raise ValidationError({"month": _("Only an open deal moves to another month.")})
        deal_update(
            actor=actor(request),
            deal_id=deal.pk,
            data={"expected_close_date": moved_close_date(deal.expected_close_date, month)},
        )
    except RucheError as error:
        if request.headers.get("X-Requested-With") == "fetch":
            return HttpResponse(error_text(error), status=422, content_type="text/plain")
        return _page(request, error=error_text(error), status=422)
    if request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(status=204)
    messages.success(request, _("Expected close date changed."))
    # The card's form posts to this URL with the board's own filters as the query string.
    query = request.GET.urlencode()
    return redirect(reverse("web:forecast_board") + (f"?{query}" if query else ""))
