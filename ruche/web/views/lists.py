"""The lists of deals, organisations, persons, products and activities: one machinery for all.
Each list reads through the API's selectors (ruche.web.filters), sorts on a never-null column,
pages by keyset so any page costs what the first one costs, shows the columns each user chose
(custom fields included), exports exactly what is filtered, and keeps saved filters."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import DateField, F, Func
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ruche.accounts.models import Team
from ruche.core.custom_fields import definitions
from ruche.core.exceptions import NotFound, RucheError, ValidationError
from ruche.core.models import CustomField, Lookup
from ruche.core.money import to_major
from ruche.core.spreadsheets import FORMATS, download
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import deal_queryset, pipeline_list, stage_list
from ruche.pipelines.services import deal_delete, deal_update
from ruche.transfer.exports import DEAL_COLUMNS, deal_row
from ruche.web import formatting
from ruche.web.filters import (
    ActivityFilters,
    BadCursor,
    DealFilters,
    OrganizationFilters,
    PersonFilters,
    ProductFilters,
    Sort,
    active_lookups,
    keyset_page,
    ordered,
    parse_sort,
)
from ruche.web.models import ListColumns, SavedFilter
from ruche.web.views.common import (
    ACTIVITY_TYPE_LABELS,
    STATUS_LABELS,
    actor,
    error_text,
    int_or_none,
    web_view,
)

PAGE_SIZE = 50
CUSTOM_COLUMN = "cf:"
MAX_SAVED_NAME = 100
Type = CustomField.FieldType


# Columns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    url: str | None = None
    numeric: bool = False

    def __html__(self) -> str:
        """The <td>, escaped, built here rather than in the template: a page has 500 cells
        and the template engine's lookups were most of its time."""
        css = ' class="num"' if self.numeric else ""
        if self.url:
            return format_html(
                '<td{}><a href="{}">{}</a></td>', mark_safe(css), self.url, self.text
            )
        return format_html("<td{}>{}</td>", mark_safe(css), self.text)


@dataclass(frozen=True)
class Column:
    """`value` gives what an export writes; `kind` says how a page shows it; `link` where the
    cell leads; `sort` the Sort key when the header sorts the list."""

    key: str
    label: str
    value: Callable[[Any], Any]
    kind: str = "text"  # text, number, date (a datetime shows its day), money: (minor, currency)
    link: Callable[[Any], str | None] | None = None
    sort: str | None = None
    default: bool = True

    def cell(self, record) -> Cell:
        value = self.value(record)
        url = self.link(record) if self.link else None
        if self.kind == "money":
            return Cell(formatting.money(*value), url, numeric=True)
        if self.kind == "number":
            return Cell(formatting.number(value), url, numeric=True)
        if self.kind == "date":
            day = timezone.localtime(value).date() if isinstance(value, dt.datetime) else value
            return Cell(formatting.date(day), url)
        return Cell("" if value is None else str(value), url)

    def export(self, record):
        value = self.value(record)
        if self.kind == "money":
            return None if value[0] is None else to_major(*value)
        return value


def _url(name: str, attribute: str) -> Callable[[Any], str | None]:
    def link(record) -> str | None:
        pk = getattr(record, attribute)
        return reverse(f"web:{name}", args=[pk]) if pk else None

    return link


def _name(attribute: str) -> Callable[[Any], str]:
    """The related record's name, "" when there is none (select_related keeps it in memory)."""

    def name(record) -> str:
        related = getattr(record, attribute)
        return "" if related is None else str(related)

    return name


def _primary(attribute: str) -> Callable[[Any], str]:
    """The first email or phone of a person's JSON list."""

    def first(record) -> str:
        values = getattr(record, attribute) or []
        return values[0].get("value", "") if values and isinstance(values[0], dict) else ""

    return first


def _yes_no(attribute: str) -> Callable[[Any], str]:
    return lambda record: _("Yes") if getattr(record, attribute) else _("No")


def _timestamps() -> tuple[Column, ...]:
    return (
        Column("add_time", gettext_lazy("Created"), _attr("add_time"), "date", sort="add_time"),
        Column(
            "update_time", gettext_lazy("Updated"), _attr("update_time"), "date", sort="update_time"
        ),
    )


def _attr(attribute: str) -> Callable[[Any], Any]:
    return lambda record: getattr(record, attribute)


def _timestamp_sorts() -> dict[str, Sort]:
    return {
        "add_time": Sort("add_time", "datetime"),
        "update_time": Sort("update_time", "datetime"),
    }


# Custom fields as columns: values live in each record's custom_fields JSON.


def _option_labels(custom_field: CustomField) -> dict[int, str]:
    return {option["id"]: option["label"] for option in custom_field.options}


def custom_text(custom_field: CustomField, value, users: dict[int, str]) -> str:
    if value is None:
        return ""
    kind = custom_field.field_type
    if kind == Type.NUMBER:
        return formatting.number(Decimal(value))
    if kind == Type.MONEY:
        return formatting.money(value["amount_minor"], value["currency"])
    if kind == Type.DATE:
        return formatting.date(dt.date.fromisoformat(value))
    if kind == Type.SINGLE_CHOICE:
        return _option_labels(custom_field).get(value, "")
    if kind == Type.MULTIPLE_CHOICE:
        labels = _option_labels(custom_field)
        return ", ".join(labels.get(option, "") for option in value)
    if kind == Type.USER:
        return users.get(value, "")
    return str(value)


def custom_export(custom_field: CustomField, value, users: dict[int, str]):
    """Numbers and amounts stay numbers, dates stay dates; the rest as the page shows it."""
    if value is None:
        return None
    if custom_field.field_type == Type.NUMBER:
        return Decimal(value)
    if custom_field.field_type == Type.MONEY:
        return to_major(value["amount_minor"], value["currency"])
    if custom_field.field_type == Type.DATE:
        return dt.date.fromisoformat(value)
    return custom_text(custom_field, value, users)


@dataclass(frozen=True)
class CustomColumn:
    custom_field: CustomField
    users: dict[int, str]
    default = False
    sort = None

    @property
    def key(self) -> str:
        return f"{CUSTOM_COLUMN}{self.custom_field.key}"

    @property
    def label(self) -> str:
        return self.custom_field.name

    def stored(self, record):
        return (record.custom_fields or {}).get(self.custom_field.key)

    def cell(self, record) -> Cell:
        numeric = self.custom_field.field_type in (Type.NUMBER, Type.MONEY)
        return Cell(custom_text(self.custom_field, self.stored(record), self.users), None, numeric)

    def export(self, record):
        return custom_export(self.custom_field, self.stored(record), self.users)


def custom_columns(entity: str) -> list[CustomColumn]:
    """The entity's custom fields as columns; activities have none (entity "")."""
    fields = list(definitions(entity).values()) if entity else []
    users = {}
    if any(f.field_type == Type.USER for f in fields):
        users = {user.pk: str(user) for user in get_user_model().objects.all()}
    return [CustomColumn(custom_field, users) for custom_field in fields]


# The lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterField:
    name: str
    label: str
    options: list[tuple[Any, str]]
    selected: Any


@dataclass(frozen=True)
class RecordList:
    key: str
    title: str
    entity: str
    read_filters: Callable[[Any], Any]
    sorts: dict[str, Sort]
    default_sort: str
    columns: tuple[Column, ...]
    related: tuple[str, ...]
    filter_fields: Callable[[Any], list[FilterField]]
    template: str = "web/lists/list.html"
    # The export's header and row when it must match another export (the deals' one matches
    # the API's and the import's columns); by default every column, then the custom fields.
    export_format: tuple[tuple[str, ...], Callable] | None = None

    @property
    def url_name(self) -> str:
        return f"web:{self.key}"


def _owners() -> list[tuple[int, str]]:
    users = get_user_model().objects.filter(is_active=True).order_by("name", "email")
    return [(user.pk, str(user)) for user in users]


def _owner_field(filters) -> FilterField:
    return FilterField("owner", _("Owner"), _owners(), filters.params().get("owner"))


def _yes_no_field(filters, name: str, label: str) -> FilterField:
    options = [("yes", _("Yes")), ("no", _("No"))]
    return FilterField(name, label, options, filters.params().get(name))


def _activity_fields(filters) -> list[FilterField]:
    types = list(ACTIVITY_TYPE_LABELS.items())
    return [
        _owner_field(filters),
        FilterField("type", _("Type"), types, filters.params().get("type")),
        _yes_no_field(filters, "done", _("Done")),
    ]


DEALS = RecordList(
    key="deals",
    title=gettext_lazy("Deals"),
    entity=CustomField.Entity.DEAL,
    read_filters=lambda params: DealFilters.from_params(params, default_status="all"),
    sorts={
        "title": Sort("title"),
        "value_minor": Sort("value_minor", "int"),
        "stage_change_time": Sort("stage_change_time", "datetime"),
    }
    | _timestamp_sorts(),
    default_sort="-update_time",
    columns=(
        Column(
            "title", gettext_lazy("Title"), _attr("title"), link=_url("deal", "pk"), sort="title"
        ),
        Column(
            "organization",
            gettext_lazy("Organisation"),
            _name("org"),
            link=_url("organization", "org_id"),
        ),
        Column(
            "value",
            gettext_lazy("Value"),
            lambda deal: (deal.value_minor, deal.currency),
            "money",
            sort="value_minor",
        ),
        *_timestamps(),
        Column(
            "stage_change_time",
            gettext_lazy("In stage since"),
            _attr("stage_change_time"),
            "date",
            sort="stage_change_time",
        ),
        Column("stage", gettext_lazy("Stage"), _name("stage")),
        Column("status", gettext_lazy("Status"), lambda deal: STATUS_LABELS[deal.status]),
        Column("owner", gettext_lazy("Owner"), _name("owner")),
        Column(
            "expected_close_date",
            gettext_lazy("Expected close date"),
            _attr("expected_close_date"),
            "date",
        ),
        Column(
            "person",
            gettext_lazy("Contact person"),
            _name("person"),
            link=_url("person", "person_id"),
            default=False,
        ),
        Column("pipeline", gettext_lazy("Pipeline"), _name("pipeline"), default=False),
        Column(
            "probability",
            gettext_lazy("Probability (%)"),
            _attr("probability"),
            "number",
            default=False,
        ),
        Column(
            "forecast_category",
            gettext_lazy("Forecast category"),
            _name("forecast_category"),
            default=False,
        ),
        Column(
            "labels",
            gettext_lazy("Labels"),
            lambda deal: ", ".join(label.name for label in deal.labels.all()),
            default=False,
        ),
        Column(
            "next_activity_date",
            gettext_lazy("Next activity"),
            _attr("next_activity_date"),
            "date",
            default=False,
        ),
    ),
    related=("org", "owner", "stage", "person", "pipeline", "forecast_category", "lost_reason"),
    filter_fields=lambda filters: [],
    template="web/deals/list.html",
    export_format=(DEAL_COLUMNS, deal_row),
)

ORGANIZATIONS = RecordList(
    key="organizations",
    title=gettext_lazy("Organisations"),
    entity=CustomField.Entity.ORGANIZATION,
    read_filters=OrganizationFilters.from_params,
    sorts={
        "name": Sort("name"),
        "city": Sort("city"),
    }
    | _timestamp_sorts(),
    default_sort="name",
    columns=(
        Column(
            "name",
            gettext_lazy("Name"),
            _attr("name"),
            link=_url("organization", "pk"),
            sort="name",
        ),
        Column("address", gettext_lazy("Address"), _attr("address")),
        Column("postal_code", gettext_lazy("Postal code"), _attr("postal_code"), default=False),
        Column("city", gettext_lazy("City"), _attr("city"), sort="city"),
        Column("country", gettext_lazy("Country"), _attr("country"), default=False),
        Column("siren", gettext_lazy("SIREN"), _attr("siren")),
        Column("vat_number", gettext_lazy("VAT number"), _attr("vat_number"), default=False),
        Column("industry", gettext_lazy("Industry"), _attr("industry"), default=False),
        Column("owner", gettext_lazy("Owner"), _name("owner")),
        *_timestamps(),
    ),
    related=("owner",),
    filter_fields=lambda filters: [_owner_field(filters)],
)

PERSONS = RecordList(
    key="persons",
    title=gettext_lazy("Persons"),
    entity=CustomField.Entity.PERSON,
    read_filters=PersonFilters.from_params,
    sorts={"name": Sort("name")} | _timestamp_sorts(),
    default_sort="name",
    columns=(
        Column("name", gettext_lazy("Name"), _attr("name"), link=_url("person", "pk"), sort="name"),
        Column(
            "organization",
            gettext_lazy("Organisation"),
            _name("org"),
            link=_url("organization", "org_id"),
        ),
        Column("email", gettext_lazy("Email"), _primary("emails")),
        Column("phone", gettext_lazy("Phone"), _primary("phones")),
        Column("job_title", gettext_lazy("Job title"), _attr("job_title"), default=False),
        Column("owner", gettext_lazy("Owner"), _name("owner")),
        *_timestamps(),
    ),
    related=("org", "owner"),
    filter_fields=lambda filters: [_owner_field(filters)],
)

PRODUCTS = RecordList(
    key="products",
    title=gettext_lazy("Products"),
    entity=CustomField.Entity.PRODUCT,
    read_filters=ProductFilters.from_params,
    sorts={
        "name": Sort("name"),
        "code": Sort("code"),
        "unit_price_minor": Sort("unit_price_minor", "int"),
    }
    | _timestamp_sorts(),
    default_sort="name",
    columns=(
        Column("name", gettext_lazy("Name"), _attr("name"), sort="name"),
        Column("code", gettext_lazy("Code"), _attr("code"), sort="code"),
        Column(
            "unit_price",
            gettext_lazy("Unit price"),
            lambda product: (product.unit_price_minor, product.currency),
            "money",
            sort="unit_price_minor",
        ),
        Column("currency", gettext_lazy("Currency"), _attr("currency"), default=False),
        Column("unit", gettext_lazy("Unit"), _attr("unit")),
        Column("vat_rate", gettext_lazy("VAT rate (%)"), _attr("vat_rate"), "number"),
        Column("is_active", gettext_lazy("Active"), _yes_no("is_active")),
        Column("description", gettext_lazy("Description"), _attr("description"), default=False),
        *_timestamps(),
    ),
    related=(),
    filter_fields=lambda filters: [_yes_no_field(filters, "active", _("Active"))],
)

# Activities without a due date sort after every dated one. The date is written into the SQL
# rather than bound as a parameter, so that an index on this same expression can serve the sort.
DUE_SORT = Func(
    F("due_date"), template="COALESCE(%(expressions)s, '9999-12-31')", output_field=DateField()
)

ACTIVITIES = RecordList(
    key="activities",
    title=gettext_lazy("Activities"),
    entity="",
    read_filters=ActivityFilters.from_params,
    sorts={
        "subject": Sort("subject"),
        "due": Sort("due_sort", "date", DUE_SORT),
    }
    | _timestamp_sorts(),
    default_sort="due",
    columns=(
        Column("subject", gettext_lazy("Subject"), _attr("subject"), sort="subject"),
        Column("type", gettext_lazy("Type"), lambda activity: ACTIVITY_TYPE_LABELS[activity.type]),
        Column("due_date", gettext_lazy("Due date"), _attr("due_date"), "date", sort="due"),
        Column("deal", gettext_lazy("Deal"), _name("deal"), link=_url("deal", "deal_id")),
        Column("person", gettext_lazy("Person"), _name("person"), link=_url("person", "person_id")),
        Column(
            "organization",
            gettext_lazy("Organisation"),
            _name("org"),
            link=_url("organization", "org_id"),
        ),
        Column("owner", gettext_lazy("Owner"), _name("owner")),
        Column("done", gettext_lazy("Done"), _yes_no("done")),
        Column("note", gettext_lazy("Note"), _attr("note"), default=False),
        *_timestamps(),
    ),
    related=("deal", "person", "org", "owner"),
    filter_fields=_activity_fields,
)

LISTS = {spec.key: spec for spec in (DEALS, ORGANIZATIONS, PERSONS, PRODUCTS, ACTIVITIES)}


def record_list(list_key: str) -> RecordList:
    spec = LISTS.get(list_key)
    if spec is None:
        raise Http404
    return spec


def all_columns(spec: RecordList) -> list:
    return [*spec.columns, *custom_columns(spec.entity)]


def chosen_columns(user, spec: RecordList, columns: list) -> list:
    """The user's choice for this list, in its order, else the list's default columns."""
    choice = ListColumns.objects.filter(user=user, list_key=spec.key).first()
    by_key = {column.key: column for column in columns}
    chosen = [by_key[key] for key in (choice.columns if choice else []) if key in by_key]
    return chosen or [column for column in columns if column.default]


# Pages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    spec: RecordList
    filters: Any
    sort: str
    descending: bool
    errors: list[str]

    @classmethod
    def read(cls, spec: RecordList, params) -> "Page":
        filters = spec.read_filters(params)
        sort, descending, sort_error = parse_sort(params.get("sort"), spec.sorts, spec.default_sort)
        return cls(spec, filters, sort, descending, [*filters.errors, sort_error])

    @property
    def sort_param(self) -> str:
        return f"{'-' if self.descending else ''}{self.sort}"

    def records(self, user):
        return self.filters.records(user).select_related(*self.spec.related)

    def header(self, column) -> dict:
        """A column header: its link sorts by it, the other way round when it already does."""
        header = {"label": column.label, "sort": column.sort, "current": column.sort == self.sort}
        if column.sort:
            flip = header["current"] and not self.descending
            header["query"] = self.filters.querystring(sort=f"{'-' if flip else ''}{column.sort}")
        return header


@web_view
def list_view(request: HttpRequest, list_key: str) -> HttpResponse:
    spec = record_list(list_key)
    page = Page.read(spec, request.GET)
    if spec is DEALS and request.GET.get("matching") == "count":
        return matching_banner(request, page.filters)
    try:
        records, next_cursor = keyset_page(
            page.records(request.user),
            sort=spec.sorts[page.sort],
            descending=page.descending,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except BadCursor:
        return HttpResponseBadRequest(
            _("This page link is not valid any more: reload the list."), content_type="text/plain"
        )
    available = all_columns(spec)
    columns = chosen_columns(request.user, spec, available)
    context = {
        "spec": spec,
        "page": page,
        "filters": page.filters,
        "columns": columns,
        "rows": [(record, row_html(record, columns)) for record in records],
        "query": page.filters.querystring(sort=page.sort_param),
        "next_cursor": next_cursor,
        "selectable": spec is DEALS,
    }
    if request.headers.get("HX-Request") and request.GET.get("cursor"):
        return render(request, "web/lists/rows.html", context)
    return render(request, spec.template, context | page_context(request, page, columns, available))


def row_html(record, columns: list) -> str:
    """The row's cells; each one is escaped by format_html, so the joined text is safe."""
    return mark_safe("".join(column.cell(record).__html__() for column in columns))


def page_context(request: HttpRequest, page: Page, columns: list, available: list) -> dict:
    """What the full page adds to the rows: headers, filter choices, chooser, saved filters."""
    spec = page.spec
    context = {
        "headers": [page.header(column) for column in columns],
        "filter_fields": spec.filter_fields(page.filters),
        "export_url": reverse(f"web:{spec.key}_export"),
        "chooser": column_chooser(available, columns),
        "saved_filters": saved_filters(request.user, spec.key),
        "save_query": page.filters.querystring(sort=page.sort_param),
        "errors": [error for error in page.errors if error],
    }
    if spec is DEALS:
        context |= deal_choices()
    return context


def deal_choices() -> dict:
    """The options of the deals' filters and bulk actions."""
    lookups = active_lookups(Lookup.Kind.LABEL, Lookup.Kind.FORECAST_CATEGORY)
    return {
        "owners": list(get_user_model().objects.filter(is_active=True).order_by("name", "email")),
        "labels": lookups[Lookup.Kind.LABEL],
        "forecast_categories": lookups[Lookup.Kind.FORECAST_CATEGORY],
        "teams": list(Team.objects.order_by("name")),
        "pipelines": list(pipeline_list()),
        "all_stages": list(stage_list().select_related("pipeline")),
        "status_labels": STATUS_LABELS,
    }


def column_chooser(available: list, chosen: list) -> list[dict]:
    chosen_keys = [column.key for column in chosen]
    return [
        {"key": column.key, "label": column.label, "checked": column.key in chosen_keys}
        for column in available
    ]


@web_view
def list_export(request: HttpRequest, list_key: str) -> HttpResponse:
    """The current list, filtered and sorted as shown, through the same selectors; CSV or XLSX
    by ?format=, made formula-safe by ruche.core.spreadsheets."""
    spec = record_list(list_key)
    file_format = request.GET.get("format", "csv")
    if file_format not in FORMATS:
        return HttpResponseBadRequest(
            _("Unknown export format “%(format)s”: csv or xlsx.") % {"format": file_format[:20]},
            content_type="text/plain",
        )
    page = Page.read(spec, request.GET)
    records = ordered(page.records(request.user), spec.sorts[page.sort], descending=page.descending)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return download(export_rows(spec, records), f"{spec.key}-{stamp}", file_format)


def export_rows(spec: RecordList, records):
    customs = custom_columns(spec.entity)

    def columns_row(record) -> list:
        return [record.pk, *(column.export(record) for column in spec.columns)]

    if spec.export_format:
        header, row = spec.export_format
    else:
        header, row = ("id", *(column.key for column in spec.columns)), columns_row
    yield [*header, *(column.label for column in customs)]
    for record in records.iterator(chunk_size=2000):
        yield [*row(record), *(column.export(record) for column in customs)]


# Column chooser and saved filters -------------------------------------------------------------


def back_to(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
@web_view
def list_columns(request: HttpRequest, list_key: str) -> HttpResponse:
    """Remember the columns this user wants in this list; "reset" goes back to the default."""
    spec = record_list(list_key)
    known = [column.key for column in all_columns(spec)]
    wanted = [key for key in request.POST.getlist("columns") if key in known]
    if request.POST.get("reset") or not wanted:
        ListColumns.objects.filter(user=request.user, list_key=spec.key).delete()
    else:
        ListColumns.objects.update_or_create(
            user=request.user, list_key=spec.key, defaults={"columns": wanted}
        )
    return redirect(back_to(request, reverse(spec.url_name)))


SAVED_FILTER_LISTS = ("board", *LISTS)


def saved_filters(user, list_key: str) -> list[SavedFilter]:
    return list(SavedFilter.objects.filter(user=user, list_key=list_key))


def normalised_query(list_key: str, query: str) -> str:
    """The filters as the list reads them back, so a saved filter holds nothing unreadable."""
    params = dict(parse_qsl(query))
    if list_key == "board":
        return DealFilters.from_params(params).querystring(board=True)
    page = Page.read(LISTS[list_key], params)
    return page.filters.querystring(sort=page.sort_param)


@require_POST
@web_view
def saved_filter_add(request: HttpRequest, list_key: str) -> HttpResponse:
    if list_key not in SAVED_FILTER_LISTS:
        raise Http404
    fallback = reverse("web:board_home") if list_key == "board" else reverse(f"web:{list_key}")
    back = back_to(request, fallback)
    name = request.POST.get("name", "").strip()
    if not name or len(name) > MAX_SAVED_NAME:
        messages.error(request, _("A saved filter needs a name of at most 100 characters."))
        return redirect(back)
    query = normalised_query(list_key, request.POST.get("query", ""))
    try:
        with transaction.atomic():
            SavedFilter.objects.create(user=request.user, list_key=list_key, name=name, query=query)
    except IntegrityError:
        messages.error(
            request, _("You already have a saved filter named “%(name)s”.") % {"name": name}
        )
        return redirect(back)
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
    return redirect(back)


@require_POST
@web_view
def saved_filter_delete(request: HttpRequest, filter_id: int) -> HttpResponse:
    """Only the user's own saved filters: anyone else's is the same 404 as a missing one."""
    saved = SavedFilter.objects.filter(user=request.user, pk=filter_id).first()
    if saved is None:
        raise Http404
    saved.delete()
    return redirect(back_to(request, reverse("web:board_home")))


# Bulk actions on deals ----------------------------------------------------------------------

# One request changes at most this many deals, each through the services: 500 took 3 s on
# SQLite and 5 s on PostgreSQL (2 busy cores), well within a request's time.
MAX_BULK = 500
BULK_ACTIONS = ("owner", "stage", "label", "delete")


def bulk_ids(request: HttpRequest) -> list[int] | None:
    """The ticked deals, None when one id is not an id."""
    ids = [int_or_none(value) for value in request.POST.getlist("ids")]
    return None if None in ids else list(dict.fromkeys(ids))


def bulk_change(action: str, post, deal: Deal) -> dict:
    """The deal_update input of one action, for one deal. A stage stays within the deal's
    pipeline: naming the pipeline makes the service refuse a stage of another one."""
    chosen = int_or_none(post.get(action))
    if action in ("owner", "stage") and chosen is None:
        missing = {"owner": _("Choose the new owner."), "stage": _("Choose the new stage.")}
        raise ValidationError({action: missing[action]})
    if action == "owner":
        return {"owner_id": chosen}
    if action == "stage":
        return {"stage_id": chosen, "pipeline_id": deal.pipeline_id}
    return {"label_ids": [chosen] if chosen else []}


def bulk_apply(request: HttpRequest, action: str, ids: list[int]) -> int:
    """Every deal through the services, all in one transaction: the first refusal undoes all.
    A deal the user may not see is refused like a missing one."""
    by_actor = actor(request)
    with transaction.atomic():
        deals = deal_queryset(request.user).in_bulk(ids)
        for deal_id in ids:
            deal = deals.get(deal_id)
            if deal is None:
                raise NotFound(f"Deal {deal_id} not found.")
            if action == "delete":
                deal_delete(actor=by_actor, deal_id=deal_id)
            else:
                deal_update(
                    actor=by_actor, deal_id=deal_id, data=bulk_change(action, request.POST, deal)
                )
    return len(ids)


def bulk_page(request, *, action: str, ids: list[int], error: str = "", status: int = 200):
    deals = deal_queryset(request.user).filter(pk__in=ids).order_by("title", "id")[:MAX_BULK]
    context = {
        "action": action,
        "ids": ids,
        "deals": deals,
        "error": error,
        "next": back_to(request, reverse("web:deals")),
    }
    return render(request, "web/lists/bulk.html", context, status=status)


# "Select all matching": the bulk form posts the list's query string (`matching`) and the count
# its banner named (`expected`) instead of ids; the server reads the deals again through the
# list's own filters, hence deal_list and its visibility rule, then goes the ids' way.


def matching_ids(user, filters: DealFilters) -> list[int]:
    """The ids of the deals the list shows with these filters, at most MAX_BULK + 1 (enough to
    know there are too many), in id order so concurrent batches lock rows in the same order."""
    deals = filters.deals(user).order_by().values_list("pk", flat=True)
    return sorted(deals[: MAX_BULK + 1])


def matching_banner(request: HttpRequest, filters: DealFilters) -> HttpResponse:
    """The offer to extend the selection from the shown rows to every matching deal."""
    ids = matching_ids(request.user, filters)
    context = {
        "count": len(ids),
        "shown": int_or_none(request.GET.get("shown")) or 0,
        "too_many": len(ids) > MAX_BULK,
        "max_bulk": MAX_BULK,
        "matching": filters.querystring(),
    }
    return render(request, "web/lists/select_all.html", context)


def matching_selection(request: HttpRequest) -> tuple[list[int], str]:
    """The deals "select all matching" names, or why none: unreadable filters, more than
    MAX_BULK deals, or not the count the banner showed (the list changed in between)."""
    filters = DEALS.read_filters(QueryDict(request.POST["matching"]))
    if filters.errors:
        return [], _("Nothing was changed: the list's filters could not be read.")
    ids = matching_ids(request.user, filters)
    if len(ids) > MAX_BULK:
        refusal = _(
            "Nothing was changed: more than %(max)s deals match these filters, and a bulk change "
            "takes at most %(max)s. Narrow the filters."
        )
        return [], refusal % {"max": MAX_BULK}
    expected = int_or_none(request.POST.get("expected")) or 0
    if expected != len(ids):
        refusal = ngettext(
            "Nothing was changed: %(count)s deal matches these filters now, not %(expected)s. "
            "Check the list and try again.",
            "Nothing was changed: %(count)s deals match these filters now, not %(expected)s. "
            "Check the list and try again.",
            len(ids),
        )
        return [], refusal % {"count": len(ids), "expected": expected}
    return ids, ""


@require_POST
@web_view
def deal_bulk(request: HttpRequest) -> HttpResponse:
    """Change the owner, stage or label of the ticked deals, or of every deal matching the
    list's filters, or delete them once confirmed."""
    action = request.POST.get("action", "")
    ids = bulk_ids(request)
    if action not in BULK_ACTIONS or ids is None or len(ids) > MAX_BULK:
        return HttpResponseBadRequest(
            _("Choose an action and at most %(count)s deals.") % {"count": MAX_BULK},
            content_type="text/plain",
        )
    back = back_to(request, reverse("web:deals"))
    if "matching" in request.POST:
        ids, refusal = matching_selection(request)
        if refusal:
            messages.error(request, refusal)
            return redirect(back)
    if not ids:
        messages.error(request, _("Tick the deals to change first."))
        return redirect(back)
    if action == "delete" and request.POST.get("confirm") != "yes":
        return bulk_page(request, action=action, ids=ids)
    try:
        count = bulk_apply(request, action, ids)
    except RucheError as refusal:
        error = _("Nothing was changed: %(reason)s") % {"reason": error_text(refusal)}
        return bulk_page(request, action=action, ids=ids, error=error, status=422)
    messages.success(
        request,
        ngettext("%(count)s deal changed.", "%(count)s deals changed.", count) % {"count": count},
    )
    return redirect(back)
