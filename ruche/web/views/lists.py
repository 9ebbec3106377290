"""The deals list: the API's selectors (deal_list, deal_search), sorted, keyset-paged so any
page costs the same, and exported to CSV exactly as filtered."""

import base64
import binascii
import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ruche.accounts.models import Team
from ruche.core.models import Lookup
from ruche.core.spreadsheets import download
from ruche.pipelines.selectors import pipeline_list, stage_list
from ruche.transfer.exports import DEAL_COLUMNS, deal_row
from ruche.web.filters import DealFilters
from ruche.web.views.common import STATUS_LABELS, web_view

PAGE_SIZE = 50
# Sortable columns: never-null fields, so (value, id) orders every row exactly once.
SORTS = {
    "title": _("Title"),
    "value_minor": _("Value"),
    "add_time": _("Created"),
    "update_time": _("Updated"),
    "stage_change_time": _("In stage since"),
}
DATETIME_SORTS = {"add_time", "update_time", "stage_change_time"}


def encode_cursor(value, pk: int) -> str:
    raw = json.dumps(
        {"v": value.isoformat() if isinstance(value, dt.datetime) else value, "id": pk}
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str):
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, pk = data["v"], int(data["id"])
        if sort in DATETIME_SORTS:
            value = dt.datetime.fromisoformat(value)
        elif sort == "value_minor":
            value = int(value)
        else:
            value = str(value)
        return value, pk
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        return None


def keyset_page(deals: QuerySet, *, sort: str, descending: bool, cursor: str | None, limit: int):
    """Rows after the cursor in (sort, id) order, and the next page's cursor."""
    prefix, after = ("-", "lt") if descending else ("", "gt")
    if cursor and (decoded := decode_cursor(cursor, sort)) is not None:
        value, pk = decoded
        deals = deals.filter(
            Q(**{f"{sort}__{after}": value}) | Q(**{sort: value, f"id__{after}": pk})
        )
    rows = list(deals.order_by(f"{prefix}{sort}", f"{prefix}id")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, sort), last.pk)


def _sort(request: HttpRequest) -> tuple[str, bool]:
    sort = request.GET.get("sort", "-update_time")
    descending = sort.startswith("-")
    sort = sort.lstrip("-")
    if sort not in SORTS:
        return "update_time", True
    return sort, descending


@web_view
def deal_list_page(request: HttpRequest) -> HttpResponse:
    filters = DealFilters.from_params(request.GET, default_status="all")
    sort, descending = _sort(request)
    deals = filters.deals(request.user).select_related("org", "owner", "stage", "person")
    rows, next_cursor = keyset_page(
        deals, sort=sort, descending=descending, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
    )
    sort_param = f"{'-' if descending else ''}{sort}"
    context = {
        "deals": rows,
        "filters": filters,
        "query": filters.querystring(sort=sort_param),
        "base_query": filters.querystring(),
        "next_cursor": next_cursor,
        "sort": sort,
        "descending": descending,
        "sorts": SORTS,
        "status_labels": STATUS_LABELS,
    }
    if request.headers.get("HX-Request") and request.GET.get("cursor"):
        return render(request, "web/deals/list_rows.html", context)
    context |= {
        "owners": list(get_user_model().objects.filter(is_active=True).order_by("name", "email")),
        "labels": list(Lookup.objects.filter(kind=Lookup.Kind.LABEL, is_active=True)),
        "teams": list(Team.objects.order_by("name")),
        "pipelines": list(pipeline_list()),
        "all_stages": list(stage_list().select_related("pipeline")),
    }
    return render(request, "web/deals/list.html", context)


@web_view
def deal_export(request: HttpRequest) -> HttpResponse:
    """The current list as CSV, through the same selectors, formula-safe."""
    filters = DealFilters.from_params(request.GET, default_status="all")
    deals = (
        filters.deals(request.user)
        .select_related("org", "person", "owner", "pipeline", "stage", "lost_reason")
        .order_by("id")
    )

    def rows():
        yield list(DEAL_COLUMNS)
        for deal in deals.iterator(chunk_size=2000):
            yield deal_row(deal)

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return download(rows(), f"deals-{stamp}")
