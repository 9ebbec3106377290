"""Writes for deals and their lines. Every change goes through `_save_deal`, which enforces the
status transitions, records stage entries and writes the history in the same transaction."""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from ruche.accounts.models import Company
from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.models import Lookup
from ruche.core.money import MAX_MAJOR_AMOUNT, to_major, to_minor, validate_currency
from ruche.core.permissions import restrict
from ruche.core.services import lock, owned_values, resolve, resolve_lookup, soft_delete
from ruche.core.validation import changed_fields, clean_model_fields
from ruche.forecasting.stage_tallies import take_writers_turn, tallies_follow, tally_deals
from ruche.integrations.events import publish
from ruche.pipelines.lines import line_total_minor, line_vat_minor
from ruche.pipelines.models import Deal, DealLine, Pipeline, Stage, StageEntry
from ruche.pipelines.selectors import deal_queryset
from ruche.pipelines.services.activities import copy_deal_visibility

Status = Deal.Status

# Which status a deal may move to from each status. Reopening and changing one's mind after a
# win or a loss are allowed; the history keeps every step.
STATUS_TRANSITIONS = {
    Status.OPEN: {Status.WON, Status.LOST},
    Status.WON: {Status.OPEN, Status.LOST},
    Status.LOST: {Status.OPEN, Status.WON},
}

DEAL_FIELDS = (
    "title",
    "org",
    "person",
    "owner",
    "visible_to",
    "custom_fields",
    "pipeline",
    "stage",
    "status",
    "value_minor",
    "currency",
    "expected_close_date",
    "probability",
    "forecast_category",
    "next_step",
    "source",
    "competitor",
    "lost_reason",
    "description",
    "win_loss_report",
    "revenue_type",
    "recurring_monthly_minor",
    "recurring_term_months",
    "recurring_start_date",
    "won_time",
    "lost_time",
    "close_time",
    "external_id",
)
# What the stage tallies and the MRR tally read of a deal (ruche.forecasting.stage_tallies,
# ruche.forecasting.mrr_tallies).
STAGE_TALLIED = frozenset(
    ("owner", "visible_to", "pipeline", "stage", "status", "currency", "won_time", "close_time")
)
MRR_TALLIED = frozenset(
    (
        *("status", "currency", "won_time", "org", "visible_to", "revenue_type"),
        *("recurring_monthly_minor", "recurring_term_months", "recurring_start_date"),
    )
)
COPIED_FIELDS = (
    "title",
    "next_step",
    "competitor",
    "description",
    "win_loss_report",
    "revenue_type",
    "recurring_term_months",
    "external_id",
)
# Model field -> the input name an error should mention.
INPUT_NAMES = {
    "value_minor": "value",
    "recurring_monthly_minor": "recurring_monthly",
    "org": "org_id",
    "person": "person_id",
    "stage": "stage_id",
    "pipeline": "pipeline_id",
    "lost_reason": "lost_reason_id",
}
LOOKUP_INPUTS = (
    ("forecast_category", Lookup.Kind.FORECAST_CATEGORY),
    ("source", Lookup.Kind.SOURCE),
)


def _parse_date(value: Any, field: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Not a valid date (YYYY-MM-DD): {value!r}."}) from None


def _parse_decimal(value: Any, field: str, *, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite():
        raise ValidationError({field: f"A number is expected, not {value!r}."})
    if not low <= number <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return number


def _placement(data: dict, current: Deal | None) -> dict:
    """Pipeline and stage: a stage implies its pipeline; a pipeline alone means its first
    stage; a stage of another pipeline than the one named is refused."""
    if "stage_id" not in data and "pipeline_id" not in data and current is not None:
        return {}
    pipeline = resolve(
        Pipeline.objects.filter(is_deleted=False), data.get("pipeline_id"), field="pipeline_id"
    )
    stage = resolve(Stage.objects.filter(is_deleted=False), data.get("stage_id"), field="stage_id")
    if stage is None:
        pipeline = pipeline or (
            current.pipeline if current else Pipeline.objects.filter(is_deleted=False).first()
        )
        if pipeline is None:
            raise ValidationError({"pipeline_id": "There is no pipeline yet."})
        if current is not None and current.pipeline_id == pipeline.pk:
            return {}
        stage = pipeline.stages.filter(is_deleted=False).first()
        if stage is None:
            raise ValidationError({"pipeline_id": f"Pipeline {pipeline.pk} has no stage."})
    elif pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise ValidationError(
            {
                "stage_id": f"Stage {stage.pk} belongs to pipeline "
                f"{stage.pipeline_id}, not to pipeline {pipeline.pk}."
            }
        )
    return {"stage": stage, "pipeline": stage.pipeline}


def _lost_reason(data: dict) -> Lookup | None:
    if data.get("lost_reason_id") is not None:
        return resolve_lookup(
            Lookup.Kind.LOSS_REASON, data["lost_reason_id"], field="lost_reason_id"
        )
    name = data.get("lost_reason")
    if not name:
        return None
    reason = Lookup.objects.filter(kind=Lookup.Kind.LOSS_REASON, name__iexact=str(name)).first()
    if reason is None:
        known = ", ".join(
            Lookup.objects.filter(kind=Lookup.Kind.LOSS_REASON, is_active=True).values_list(
                "name", flat=True
            )
        )
        raise ValidationError({"lost_reason": f"Unknown loss reason {name!r}. Known: {known}."})
    return reason


def _status_values(deal: Deal | None, data: dict, now: dt.datetime) -> dict:
    """The fields a status change sets, or {} when the status stays."""
    old = deal.status if deal else Status.OPEN
    new = data.get("status", old)
    if new not in Status.values:
        raise ValidationError({"status": f"One of {', '.join(Status.values)}, not {new!r}."})
    if new == old:
        return {}
    if new not in STATUS_TRANSITIONS[old]:
        raise ValidationError({"status": f"A {old} deal cannot become {new}."})
    reset = {
        "status": new,
        "won_time": None,
        "lost_time": None,
        "close_time": None,
        "lost_reason": None,
    }
    if new == Status.WON:
        return reset | {"probability": 100, "won_time": now, "close_time": now}
    if new == Status.LOST:
        reason = _lost_reason(data)
        if reason is None and Company.current().loss_reason_required:
            raise ValidationError({"lost_reason": "A loss reason is required to mark a deal lost."})
        return reset | {
            "probability": 0,
            "lost_time": now,
            "close_time": now,
            "lost_reason": reason,
        }
    return reset | {"probability": None}


def _rescaled(deal: Deal, currency: str, data: dict) -> dict:
    """The stored amounts `data` does not replace, in another currency's minor units,
    refusing what that currency cannot represent."""
    values = {}
    for field, amount in (
        ("value", deal.value_minor),
        ("recurring_monthly", deal.recurring_monthly_minor),
    ):
        if amount is not None and data.get(field) is None:
            major = to_major(amount, deal.currency)
            values[f"{field}_minor"] = to_minor(major, currency, field=field)
    return values


def _money_values(data: dict, deal: Deal | None) -> dict:
    values = {}
    has_lines = deal is not None and deal.lines.exists()
    currency = deal.currency if deal else Company.current().currency
    if data.get("currency") is not None:
        currency = validate_currency(data["currency"])
        if has_lines and currency != deal.currency:
            raise ValidationError(
                {"currency": "The currency cannot change while the deal has lines."}
            )
        values["currency"] = currency
        if deal is not None and currency != deal.currency:
            # The amounts keep their meaning in major units: 1500.00 EUR becomes 1500 JPY.
            values |= _rescaled(deal, currency, data)
    elif deal is None:
        values["currency"] = currency
    if data.get("value") is not None:
        if has_lines:
            raise ValidationError(
                {"value": "The value is the sum of the deal's lines; change the lines instead."}
            )
        values["value_minor"] = to_minor(data["value"], currency, field="value")
    if "recurring_monthly" in data:
        monthly = data["recurring_monthly"]
        values["recurring_monthly_minor"] = (
            None if monthly is None else to_minor(monthly, currency, field="recurring_monthly")
        )
        if (values["recurring_monthly_minor"] or 0) < 0:  # MRR is never negative
            raise ValidationError({"recurring_monthly": "The monthly amount cannot be negative."})
    return values


def _deal_values(data: dict[str, Any], actor: Actor, deal: Deal | None) -> dict:
    """Validated model values for the fields present in `data` (all defaults on creation)."""
    now = timezone.now()
    values = {field: data[field] for field in COPIED_FIELDS if field in data}
    if "org_id" in data:
        values["org"] = resolve(
            restrict(Organization.objects, actor.user), data["org_id"], field="org_id"
        )
    if "person_id" in data:
        values["person"] = resolve(
            restrict(Person.objects, actor.user), data["person_id"], field="person_id"
        )
    for field, kind in LOOKUP_INPUTS:
        if f"{field}_id" in data:
            values[field] = resolve_lookup(kind, data[f"{field}_id"], field=f"{field}_id")
    for field in ("expected_close_date", "recurring_start_date"):
        if field in data:
            values[field] = _parse_date(data[field], field)
    if "probability" in data:
        values["probability"] = (
            None
            if data["probability"] is None
            else int(
                _parse_decimal(
                    data["probability"], "probability", low=Decimal(0), high=Decimal(100)
                )
            )
        )
    values |= _placement(data, deal) | _money_values(data, deal) | _status_values(deal, data, now)
    if deal is None:
        _creation_defaults(values, data)
    if "lost_reason" not in values and ("lost_reason_id" in data or "lost_reason" in data):
        values["lost_reason"] = _lost_reason(data)
        lost = deal is not None and deal.status == Status.LOST
        if lost and values["lost_reason"] is None and Company.current().loss_reason_required:
            raise ValidationError({"lost_reason": "A lost deal keeps a loss reason."})
    return owned_values(values, data, actor, "deal", deal)


def _creation_defaults(values: dict, data: dict) -> None:
    org = values.get("org")
    if not values.get("title"):
        if org is None:
            raise ValidationError({"title": "A title is required when no organization is set."})
        values["title"] = org.name
    if "expected_close_date" not in values:
        values["expected_close_date"] = timezone.localdate() + dt.timedelta(
            days=Company.current().default_close_days
        )
    if "source" not in values and org is not None:
        values["source"] = org.source


def _labels(data: dict) -> list[Lookup] | None:
    if "label_ids" not in data:
        return None
    ids = data["label_ids"] or []
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise ValidationError({"label_ids": "A list of label ids is expected."})
    labels = list(Lookup.objects.filter(kind=Lookup.Kind.LABEL, pk__in=ids))
    if len(labels) != len(set(ids)):
        missing = sorted(set(ids) - {label.pk for label in labels})
        raise ValidationError({"label_ids": f"Unknown labels: {missing}."})
    return labels


def _enter_stage(deal: Deal, from_stage_id: int | None, at: dt.datetime) -> None:
    StageEntry.objects.filter(deal=deal, left_at__isnull=True).update(left_at=at)
    StageEntry.objects.create(
        deal=deal,
        pipeline_id=deal.pipeline_id,
        stage_id=deal.stage_id,
        from_stage_id=from_stage_id,
        entered_at=at,
    )


STATUS_EVENTS = {Status.WON: Event.WON, Status.LOST: Event.LOST, Status.OPEN: Event.REOPENED}


def _record_deal_changes(deal: Deal, changes: dict, actor: Actor) -> None:
    """Stage moves and status changes are events of their own; every other field is a row."""
    if "stage" in changes:
        old, new = changes.pop("stage")
        record_event("deal", deal.pk, Event.STAGE_MOVED, actor, "stage", old, new)
    if "status" in changes:
        old, new = changes.pop("status")
        record_event("deal", deal.pk, STATUS_EVENTS[new], actor, "status", old, new)
    owner_change = changes.pop("owner", None)
    if owner_change:
        record_event("deal", deal.pk, Event.OWNER_CHANGED, actor, "owner", *owner_change)
    record_changes("deal", deal.pk, actor, changes)


def _set_labels(deal: Deal, labels: list[Lookup] | None, actor: Actor, *, new: bool) -> bool:
    """Set the labels and record the change; True when they changed."""
    if labels is None:
        return False
    old_ids = [] if new else sorted(deal.labels.values_list("pk", flat=True))
    new_ids = sorted(label.pk for label in labels)
    if old_ids == new_ids:
        return False
    deal.labels.set(labels)
    if not new:
        record_changes("deal", deal.pk, actor, {"labels": (old_ids, new_ids)})
    return True


def _lock_deal(actor: Actor, deal_id: int, expected_version: int | None = None) -> Deal:
    """The deal, locked for this transaction, once it is this transaction's turn to write deals
    (ruche.forecasting.stage_tallies): the turn first, then the row, in every deal write."""
    take_writers_turn()
    return lock(deal_queryset(actor.user), deal_id, label="Deal", expected_version=expected_version)


@transaction.atomic
def deal_create(*, actor: Actor, data: dict[str, Any]) -> Deal:
    take_writers_turn()
    values = _deal_values(data, actor, None)
    deal = Deal(**values, creator=actor.user)
    if data.get("add_time"):
        deal.add_time = deal.update_time = deal.stage_change_time = data["add_time"]
    clean_model_fields(deal, renamed=INPUT_NAMES)
    deal.save()
    labels = _labels(data)
    _set_labels(deal, labels, actor, new=True)
    record_created(
        "deal",
        deal.pk,
        actor,
        values | ({"labels": [label.pk for label in labels]} if labels else {}),
    )
    _enter_stage(deal, None, deal.add_time)
    tally_deals(Q(deal_id=deal.pk))
    publish("deal.created", "deal", deal.pk)
    return deal


@transaction.atomic
def deal_update(
    *, actor: Actor, deal_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Deal:
    """Change any fields, the stage and the status of a deal in one versioned write."""
    deal = _lock_deal(actor, deal_id, expected_version=expected_version)
    labels = _labels(data)
    previous_stage_id = deal.stage_id
    changes = changed_fields(deal, _deal_values(data, actor, deal), DEAL_FIELDS)
    now = timezone.now()
    if "stage" in changes:
        deal.stage_change_time = now
    if changes:
        stages, mrr = bool(STAGE_TALLIED & changes.keys()), bool(MRR_TALLIED & changes.keys())
        with tallies_follow(Q(deal_id=deal.pk), stages=stages, mrr=mrr):
            clean_model_fields(deal, renamed=INPUT_NAMES)
            deal.version += 1
            deal.update_time = now
            deal.save()
            if "stage" in changes:
                _enter_stage(deal, previous_stage_id, now)
        if {"owner", "visible_to"} & changes.keys():
            copy_deal_visibility(deal)
        _record_deal_changes(deal, changes, actor)
    labelled = _set_labels(deal, labels, actor, new=False)
    if labelled and not changes:
        # Labels are a change like any other: the version (the API's ETag) moves with them.
        deal.version += 1
        deal.update_time = now
        deal.save(update_fields=["version", "update_time"])
    if changes or labelled:
        publish("deal.updated", "deal", deal.pk)
        new_status = changes.get("status", (None, None))[1]
        if new_status in (Status.WON, Status.LOST):
            publish(f"deal.{new_status}", "deal", deal.pk)
    return deal


def deal_move_to_stage(
    *, actor: Actor, deal_id: int, stage_id: int, expected_version: int | None = None
) -> Deal:
    return deal_update(
        actor=actor, deal_id=deal_id, data={"stage_id": stage_id}, expected_version=expected_version
    )


def deal_mark_won(*, actor: Actor, deal_id: int) -> Deal:
    return deal_update(actor=actor, deal_id=deal_id, data={"status": Status.WON})


def deal_mark_lost(*, actor: Actor, deal_id: int, lost_reason_id: int | None) -> Deal:
    return deal_update(
        actor=actor, deal_id=deal_id, data={"status": Status.LOST, "lost_reason_id": lost_reason_id}
    )


def deal_reopen(*, actor: Actor, deal_id: int) -> Deal:
    return deal_update(actor=actor, deal_id=deal_id, data={"status": Status.OPEN})


@transaction.atomic
def deal_delete(*, actor: Actor, deal_id: int) -> None:
    take_writers_turn()  # before its tallies are read: no other write in between
    with tallies_follow(Q(deal_id=deal_id)):
        soft_delete(deal_queryset(actor.user), deal_id, entity="deal", actor=actor)


# Lines ----------------------------------------------------------------------------------------

LINE_FIELDS = (
    "product",
    "name",
    "quantity",
    "unit_price_minor",
    "discount_percent",
    "vat_rate",
    "comments",
    "order_nr",
)
LINE_INPUT_NAMES = {
    "unit_price_minor": "unit_price",
    "product": "product_id",
    "discount_percent": "discount_percent",
    "vat_rate": "vat_rate",
}
MAX_QUANTITY = Decimal("99999999999")


def _line_values(data: dict[str, Any], deal: Deal, line: DealLine | None) -> dict:
    values = {k: data[k] for k in ("name", "comments", "order_nr") if k in data}
    product = None
    if data.get("product_id") is not None:
        product = resolve(
            Product.objects.filter(is_deleted=False), data["product_id"], field="product_id"
        )
        values["product"] = product
        values.setdefault("name", product.name)
    if "quantity" in data or line is None:
        values["quantity"] = _parse_decimal(
            data.get("quantity", 1), "quantity", low=Decimal("0.0001"), high=MAX_QUANTITY
        )
    if data.get("unit_price") is not None:
        values["unit_price_minor"] = to_minor(data["unit_price"], deal.currency, field="unit_price")
        if values["unit_price_minor"] < 0:
            raise ValidationError({"unit_price": "A unit price cannot be negative."})
    elif line is None:
        if product is None:
            raise ValidationError(
                {"unit_price": "A unit price is required for a line without a product."}
            )
        if product.currency != deal.currency:
            raise ValidationError(
                {
                    "unit_price": f"The product is priced in {product.currency} "
                    f"and the deal in {deal.currency}: give the "
                    f"unit price."
                }
            )
        values["unit_price_minor"] = product.unit_price_minor
    for field, default in (("discount_percent", 0), ("vat_rate", None)):
        if data.get(field) is not None:
            values[field] = _parse_decimal(data[field], field, low=Decimal(0), high=Decimal(100))
        elif line is None:
            values[field] = Decimal(
                default if default is not None else (product.vat_rate if product else 0)
            )
    if line is None and not values.get("name"):
        raise ValidationError({"name": "A line needs a product or a name."})
    return values


def _snapshot(line: DealLine) -> dict:
    return {
        "id": line.pk,
        "product_id": line.product_id,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price_minor": line.unit_price_minor,
        "discount_percent": line.discount_percent,
        "vat_rate": line.vat_rate,
        "total_minor": line.total_minor,
    }


def _save_line(line: DealLine) -> None:
    line.quantity = Decimal(line.quantity)
    line.total_minor = line_total_minor(
        line.quantity, line.unit_price_minor, Decimal(line.discount_percent)
    )
    line.vat_minor = line_vat_minor(line.total_minor, Decimal(line.vat_rate))
    # The deal's value, the sum of its lines, stays within what Ruche accepts as an amount,
    # so that it and every sum of deal values fit in a 64-bit integer on both databases.
    others = line.deal.lines.exclude(pk=line.pk).aggregate(total=Sum("total_minor"))["total"]
    if (others or 0) + line.total_minor > to_minor(MAX_MAJOR_AMOUNT, line.deal.currency):
        raise ValidationError(
            {"quantity": f"The deal's value would exceed {MAX_MAJOR_AMOUNT} {line.deal.currency}."}
        )
    clean_model_fields(line, renamed=LINE_INPUT_NAMES)
    line.update_time = timezone.now()
    line.save()


def _revalue(
    deal: Deal, actor: Actor, event: str, old_line: dict | None, new_line: dict | None
) -> None:
    """Record the line event, then make the deal's value the sum of its lines."""
    record_event("deal", deal.pk, event, actor, "lines", old_line, new_line)
    total = deal.lines.aggregate(total=Sum("total_minor"))["total"] or 0
    if total != deal.value_minor:
        record_changes("deal", deal.pk, actor, {"value_minor": (deal.value_minor, total)})
        deal.value_minor = total
    deal.version += 1
    deal.update_time = timezone.now()
    deal.save(update_fields=["value_minor", "version", "update_time"])


@transaction.atomic
def deal_line_add(*, actor: Actor, deal_id: int, data: dict[str, Any]) -> DealLine:
    deal = _lock_deal(actor, deal_id)
    line = DealLine(deal=deal, **_line_values(data, deal, None))
    _save_line(line)
    _revalue(deal, actor, Event.LINE_ADDED, None, _snapshot(line))
    return line


def _lock_line(actor: Actor, deal_id: int, line_id: int) -> tuple[Deal, DealLine]:
    deal = _lock_deal(actor, deal_id)
    return deal, lock(deal.lines.all(), line_id, label="Deal line")


@transaction.atomic
def deal_line_update(*, actor: Actor, deal_id: int, line_id: int, data: dict[str, Any]) -> DealLine:
    deal, line = _lock_line(actor, deal_id, line_id)
    before = _snapshot(line)
    if changed_fields(line, _line_values(data, deal, line), LINE_FIELDS):
        _save_line(line)
        _revalue(deal, actor, Event.LINE_UPDATED, before, _snapshot(line))
    return line


@transaction.atomic
def deal_line_remove(*, actor: Actor, deal_id: int, line_id: int) -> None:
    deal, line = _lock_line(actor, deal_id, line_id)
    before = _snapshot(line)
    line.delete()
    _revalue(deal, actor, Event.LINE_REMOVED, before, None)
