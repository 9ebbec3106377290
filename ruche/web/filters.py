"""The filters of the board and the lists, parsed from the query string, and the keyset paging
the lists share. Filters go to the same selectors as the API (deal_list, person_search, ...);
the few the selectors do not know narrow the selector's queryset. A value that cannot be read
is ignored and named in `errors`, so the page says so instead of failing."""

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _

from ruche.accounts.models import Company
from ruche.catalog.selectors import product_list, product_search
from ruche.contacts.selectors import (
    organization_list,
    organization_search,
    person_list,
    person_search,
)
from ruche.core.custom_fields import definitions
from ruche.core.exceptions import ValidationError
from ruche.core.models import CustomField, Lookup
from ruche.core.money import to_minor
from ruche.pipelines.models import Activity, Deal
from ruche.pipelines.selectors import activity_list, deal_list, deal_search
from ruche.web.views.common import decimal_text, int_or_none

STATUSES = {"open", "won", "lost"}
CUSTOM_PREFIX = "cf_"
MAX_SEARCH = 200
Type = CustomField.FieldType


class ParamReader:
    """Reads typed values out of a query string, noting each unreadable one."""

    def __init__(self, params):
        self.params = params
        self.errors: list[str] = []

    def raw(self, name: str) -> str:
        return (self.params.get(name) or "").strip()

    def refuse(self, name: str, value: str) -> None:
        self.errors.append(
            _("“%(value)s” is not a valid value for “%(name)s”: this filter is ignored.")
            % {"value": value[:50], "name": name}
        )

    def id(self, name: str) -> int | None:
        value = self.raw(name)
        number = int_or_none(value)
        if value and number is None:
            self.refuse(name, value)
        return number

    def date(self, name: str) -> dt.date | None:
        value = self.raw(name)
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            self.refuse(name, value)
            return None

    def choice(self, name: str, allowed, default=None):
        value = self.raw(name)
        if value and value not in allowed:
            self.refuse(name, value)
            return default
        return value or default

    def yes_no(self, name: str) -> bool | None:
        return {"yes": True, "no": False, None: None}[self.choice(name, ("yes", "no"))]

    def text(self, name: str) -> str:
        return self.raw(name)[:MAX_SEARCH]


def active_lookups(*kinds: str) -> dict[str, list[Lookup]]:
    """The active values of several lookup lists, in one query."""
    found = {kind: [] for kind in kinds}
    for lookup in Lookup.objects.filter(kind__in=kinds, is_active=True):
        found[lookup.kind].append(lookup)
    return found


# Custom fields ----------------------------------------------------------------------------


def custom_field_q(custom_field: CustomField, value: str) -> Q:
    """Deals whose custom field matches `value` as a user types it; ValueError if unreadable.
    Values are stored as ruche.core.custom_fields documents them."""
    path = f"custom_fields__{custom_field.key}"
    kind = custom_field.field_type
    if kind == Type.TEXT:
        return Q(**{f"{path}__icontains": value})
    if kind == Type.NUMBER:
        try:
            number = Decimal(decimal_text(value))
        except InvalidOperation:
            raise ValueError(value) from None
        return Q(**{path: str(number)})
    if kind == Type.MONEY:
        currency = Company.current().currency
        try:
            amount = to_minor(decimal_text(value), currency)
        except ValidationError:
            raise ValueError(value) from None
        return Q(**{f"{path}__amount_minor": amount, f"{path}__currency": currency})
    if kind == Type.DATE:
        return Q(**{path: dt.date.fromisoformat(value).isoformat()})
    option = int(value)
    if not 0 < option < 2**31:
        raise ValueError(value)
    if kind == Type.MULTIPLE_CHOICE:
        # A JSON list of ids: match the id between brackets, commas or spaces, on both databases.
        return Q(**{f"{custom_field.key}_text__regex": rf"[\[,\s]{option}[\],]"})
    return Q(**{path: option})


def custom_filters(reader: ParamReader, entity: str) -> dict[CustomField, str]:
    """The `cf_<key>` filters the query string holds, with their field definitions."""
    names = [name for name in reader.params if name.startswith(CUSTOM_PREFIX)]
    if not names:
        return {}
    fields = definitions(entity)
    found = {}
    for name in names:
        value = reader.raw(name)
        custom_field = fields.get(name.removeprefix(CUSTOM_PREFIX))
        if custom_field is None:
            reader.refuse(name, value)
        elif value:
            try:
                custom_field_q(custom_field, value)
            except ValueError:
                reader.refuse(custom_field.name, value)
            else:
                found[custom_field] = value
    return found


def apply_custom_filters(records: QuerySet, custom: dict[CustomField, str]) -> QuerySet:
    for custom_field, value in custom.items():
        if custom_field.field_type == Type.MULTIPLE_CHOICE:
            records = records.annotate(
                **{f"{custom_field.key}_text": KT(f"custom_fields__{custom_field.key}")}
            )
        records = records.filter(custom_field_q(custom_field, value))
    return records


# Deals --------------------------------------------------------------------------------------


@dataclass
class DealFilters:
    owner_id: int | None = None
    team_id: int | None = None
    status: str = "open"
    label_id: int | None = None
    forecast_category_id: int | None = None
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    q: str = ""
    custom: dict[CustomField, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params, *, default_status: str = "open") -> "DealFilters":
        reader = ParamReader(params)
        return cls(
            owner_id=reader.id("owner"),
            team_id=reader.id("team"),
            status=reader.choice("status", STATUSES | {"all"}, default_status),
            label_id=reader.id("label"),
            forecast_category_id=reader.id("forecast"),
            close_from=reader.date("close_from"),
            close_to=reader.date("close_to"),
            pipeline_id=reader.id("pipeline"),
            stage_id=reader.id("stage"),
            q=reader.text("q"),
            custom=custom_filters(reader, CustomField.Entity.DEAL),
            errors=reader.errors,
        )

    def selector_filters(self) -> dict:
        return {
            "owner_id": self.owner_id,
            "statuses": [] if self.status == "all" else [self.status],
            "pipeline_id": self.pipeline_id,
            "stage_id": self.stage_id,
        }

    def deals(self, user) -> QuerySet[Deal]:
        if self.q:
            deals = deal_search(user, term=self.q, filters=self.selector_filters())
        else:
            deals = deal_list(user, filters=self.selector_filters())
        narrowing = {
            "owner__team_id": self.team_id,
            "labels": self.label_id,
            "forecast_category_id": self.forecast_category_id,
            "expected_close_date__gte": self.close_from,
            "expected_close_date__lte": self.close_to,
        }
        deals = deals.filter(**{k: v for k, v in narrowing.items() if v is not None})
        return apply_custom_filters(deals, self.custom)

    records = deals

    def custom_value(self, key: str) -> str:
        return next((value for f, value in self.custom.items() if f.key == key), "")

    def params(self, *, board: bool = False) -> dict:
        values = {
            "owner": self.owner_id,
            "team": self.team_id,
            "status": self.status,
            "label": self.label_id,
            "forecast": self.forecast_category_id,
            "close_from": self.close_from.isoformat() if self.close_from else None,
            "close_to": self.close_to.isoformat() if self.close_to else None,
            "q": self.q,
        }
        if not board:
            values |= {"pipeline": self.pipeline_id, "stage": self.stage_id}
        values |= {f"{CUSTOM_PREFIX}{f.key}": value for f, value in self.custom.items()}
        return {key: value for key, value in values.items() if value not in (None, "")}

    def querystring(self, *, board: bool = False, **extra) -> str:
        values = self.params(board=board) | {k: v for k, v in extra.items() if v is not None}
        return urlencode(values)


# Organisations, persons, products, activities ---------------------------------------------


class RecordFilters:
    """Declared filters read from the query string: PARAMS maps a parameter to "id", "yes_no"
    or a tuple of allowed values; `q` is the full-text search. Subclasses pick the selectors."""

    PARAMS: dict[str, Any] = {}
    ENTITY = ""

    def __init__(self, params):
        reader = ParamReader(params)
        self.q = reader.text("q")
        self.values = {name: self._read(reader, name, kind) for name, kind in self.PARAMS.items()}
        self.custom = custom_filters(reader, self.ENTITY)
        self.errors = reader.errors

    @classmethod
    def from_params(cls, params) -> "RecordFilters":
        return cls(params)

    @staticmethod
    def _read(reader: ParamReader, name: str, kind):
        if kind == "id":
            return reader.id(name)
        if kind == "yes_no":
            return reader.yes_no(name)
        return reader.choice(name, kind)

    def params(self) -> dict:
        shown = {True: "yes", False: "no"}
        values = {name: shown.get(value, value) for name, value in self.values.items()}
        values |= {f"{CUSTOM_PREFIX}{f.key}": value for f, value in self.custom.items()}
        values["q"] = self.q
        return {key: value for key, value in values.items() if value not in (None, "")}

    def querystring(self, **extra) -> str:
        return urlencode(self.params() | {k: v for k, v in extra.items() if v is not None})

    def records(self, user) -> QuerySet:
        return apply_custom_filters(self.selected(user), self.custom)

    def selected(self, user) -> QuerySet:
        raise NotImplementedError


class OrganizationFilters(RecordFilters):
    PARAMS = {"owner": "id"}
    ENTITY = CustomField.Entity.ORGANIZATION

    def selected(self, user) -> QuerySet:
        if self.q:
            found = organization_search(user, term=self.q)
            owner = self.values["owner"]
            return found if owner is None else found.filter(owner_id=owner)
        return organization_list(user, filters={"owner_id": self.values["owner"]})


class PersonFilters(RecordFilters):
    PARAMS = {"owner": "id", "org": "id"}
    ENTITY = CustomField.Entity.PERSON

    def selected(self, user) -> QuerySet:
        filters = {"owner_id": self.values["owner"], "org_id": self.values["org"]}
        if self.q:
            found = person_search(user, term=self.q)
            return found.filter(**{k: v for k, v in filters.items() if v is not None})
        return person_list(user, filters=filters)


class ProductFilters(RecordFilters):
    PARAMS = {"active": "yes_no"}
    ENTITY = CustomField.Entity.PRODUCT

    def selected(self, user) -> QuerySet:
        products = product_search(term=self.q) if self.q else product_list(filters={})
        active = self.values["active"]
        return products if active is None else products.filter(is_active=active)


class ActivityFilters(RecordFilters):
    PARAMS = {"owner": "id", "type": tuple(Activity.Type.values), "done": "yes_no"}
    ENTITY = ""  # activities have no custom fields

    def selected(self, user) -> QuerySet:
        activities = activity_list(
            user, filters={"owner_id": self.values["owner"], "done": self.values["done"]}
        )
        if self.values["type"]:
            activities = activities.filter(type=self.values["type"])
        if self.q:
            # The API has no activity search: the subject and the note are what users type.
            activities = activities.filter(Q(subject__icontains=self.q) | Q(note__icontains=self.q))
        return activities


# Keyset paging ------------------------------------------------------------------------------


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Sort:
    """A sortable column: a never-null field (or annotation), so (value, id) orders every row
    exactly once. `kind` says how the cursor's JSON value is read back."""

    field: str
    kind: str = "text"  # text, int, date, datetime
    annotation: Any = None


def encode_cursor(value, pk: int) -> str:
    shown = value.isoformat() if isinstance(value, dt.date) else value
    raw = json.dumps({"v": shown, "id": pk})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BIGINT = 2**63


def _exactly(kind: type):
    def read(value):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, int) and not -BIGINT < value < BIGINT:
            raise OverflowError(value)
        return value

    return read


READERS = {
    "text": _exactly(str),
    "int": _exactly(int),
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
}
CURSOR_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,600}$")


def decode_cursor(cursor: str, kind: str) -> tuple[Any, int]:
    if not CURSOR_SHAPE.match(cursor):
        raise BadCursor(cursor)
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, pk = READERS[kind](data["v"]), _exactly(int)(data["id"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise BadCursor(cursor) from None
    return value, pk


def ordered(records: QuerySet, sort: Sort, *, descending: bool) -> QuerySet:
    """`records` in (sort, id) order: every row has one place, ties broken by id."""
    if sort.annotation is not None:
        records = records.annotate(**{sort.field: sort.annotation})
    prefix = "-" if descending else ""
    return records.order_by(f"{prefix}{sort.field}", f"{prefix}id")


def keyset_page(
    records: QuerySet, *, sort: Sort, descending: bool, cursor: str | None, limit: int
) -> tuple[list, str | None]:
    """Rows after the cursor in (sort, id) order, and the next page's cursor: the database
    seeks past the cursor instead of counting rows, so page N costs what page 1 costs."""
    records = ordered(records, sort, descending=descending)
    if cursor:
        value, pk = decode_cursor(cursor, sort.kind)
        after = "lt" if descending else "gt"
        # `field <= value` first: the database seeks the sort column's index to the cursor
        # instead of reading every row before it; the OR then breaks ties by id.
        records = records.filter(
            Q(**{f"{sort.field}__{after}e": value})
            & (Q(**{f"{sort.field}__{after}": value}) | Q(**{f"id__{after}": pk}))
        )
    # The page's ids first, from the deal table alone, then their rows with what they join:
    # the database sorts narrow rows instead of joining every row the filters keep.
    ids = list(records.values_list("pk", flat=True)[: limit + 1])
    found = records.in_bulk(ids)
    rows = [found[pk] for pk in ids]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, sort.field), last.pk)


def parse_sort(value: str | None, sorts: dict[str, Sort], default: str) -> tuple[str, bool, str]:
    """(sort key, descending, error): an unknown column falls back to the default, said so."""
    wanted = value or default
    descending = wanted.startswith("-")
    key = wanted.lstrip("-")
    if key in sorts:
        return key, descending, ""
    error = _("“%(value)s” is not a column this list can be sorted by.") % {"value": wanted[:50]}
    return default.lstrip("-"), default.startswith("-"), error
