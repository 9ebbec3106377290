"""Building blocks every domain service uses: locking with a version check, resolving the ids
an input refers to, and saving changed fields together with their history."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from ruche.accounts.models import Company
from ruche.core.custom_fields import clean_custom_fields
from ruche.core.exceptions import NotFound, PreconditionFailed, ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.models import Lookup, Visibility
from ruche.core.validation import MAX_ID, changed_fields, clean_model_fields


def lock(
    queryset: models.QuerySet, pk: int, *, label: str, expected_version: int | None = None
) -> models.Model:
    """Row-lock the record for this transaction; refuse if the client's version is stale."""
    try:
        # Only the record's own row: the visibility filter may outer-join the deal, person or
        # organisation a record is linked to, and PostgreSQL cannot lock a nullable side.
        instance = queryset.select_for_update(of=("self",)).get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} {pk} not found.") from None
    if expected_version is not None and instance.version != expected_version:
        raise PreconditionFailed(
            f"{label} {pk} was changed by someone else (version {instance.version}, "
            f"you sent {expected_version}). Reload it and try again."
        )
    return instance


def resolve(queryset: models.QuerySet, pk: Any, *, field: str) -> models.Model | None:
    """The record `pk` names in `queryset` (already restricted), None for None."""
    if pk is None:
        return None
    if isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk <= MAX_ID:
        raise ValidationError({field: f"An id is expected, not {pk!r}."})
    instance = queryset.filter(pk=pk).first()
    if instance is None:
        raise ValidationError({field: f"No such {queryset.model._meta.verbose_name}: {pk}."})
    return instance


def resolve_user(pk: Any, *, field: str = "owner_id"):
    return resolve(get_user_model().objects.filter(is_active=True), pk, field=field)


def resolve_lookup(kind: str, pk: Any, *, field: str) -> Lookup | None:
    return resolve(Lookup.objects.filter(kind=kind), pk, field=field)


def validate_visibility(value: Any) -> int:
    if value not in Visibility.values:
        raise ValidationError({"visible_to": f"One of {Visibility.values}, not {value!r}."})
    return value


def save_changes(
    instance: models.Model,
    *,
    entity: str,
    actor: Actor,
    values: dict,
    fields: Iterable[str],
    renamed: dict[str, str] | None = None,
) -> dict:
    """Apply `values`, validate, save what changed and record one history row per field."""
    changes = changed_fields(instance, values, fields)
    if not changes:
        return changes
    clean_model_fields(instance, renamed=renamed)
    instance.version += 1
    instance.update_time = timezone.now()
    instance.save()
    record_changes(entity, instance.pk, actor, changes)
    return changes


def create_recorded(
    instance: models.Model,
    *,
    entity: str,
    actor: Actor,
    values: dict,
    renamed: dict[str, str] | None = None,
) -> models.Model:
    """Save a new record and its creation entry, which lists every value it was given."""
    for field, value in values.items():
        setattr(instance, field, value)
    clean_model_fields(instance, renamed=renamed)
    instance.save()
    record_created(entity, instance.pk, actor, values)
    return instance


def soft_delete(queryset: models.QuerySet, pk: int, *, entity: str, actor: Actor) -> models.Model:
    """Deleted records stay in the database, flagged, so their history and links survive."""
    instance = lock(queryset, pk, label=entity.capitalize())
    instance.is_deleted = True
    instance.version += 1
    instance.update_time = timezone.now()
    instance.save(update_fields=["is_deleted", "version", "update_time"])
    record_event(entity, pk, Event.DELETED, actor)
    return instance


def owned_values(values: dict, data: dict, actor: Actor, entity: str, current) -> dict:
    """The fields every owned record shares: owner, visibility and custom fields, with the
    company's defaults on creation."""
    if "owner_id" in data or current is None:
        owner_id = data.get("owner_id") or (actor.user.pk if actor.user else None)
        if owner_id is None:
            raise ValidationError({"owner_id": "An owner is required."})
        values["owner"] = resolve_user(owner_id)
    if "visible_to" in data or current is None:
        values["visible_to"] = validate_visibility(
            data.get("visible_to") or Company.current().default_visibility
        )
    if "custom_fields" in data or current is None:
        values["custom_fields"] = clean_custom_fields(
            entity, data.get("custom_fields") or {}, current.custom_fields if current else None
        )
    return values


# Company-wide settings and lookup lists (admins only), with history ------------------------

COMPANY_FIELDS = (
    "name",
    "address",
    "siren",
    "vat_number",
    "currency",
    "fiscal_year_start_month",
    "default_visibility",
)
LOOKUP_KINDS = (
    Lookup.Kind.SOURCE,
    Lookup.Kind.LOSS_REASON,
    Lookup.Kind.FORECAST_CATEGORY,
    Lookup.Kind.LABEL,
)


def _require_admin(actor: Actor, what: str) -> None:
    from ruche.core.exceptions import PermissionDenied

    if actor.user is not None and not actor.user.is_admin:
        raise PermissionDenied(f"Only an admin can change {what}.")


def company_update(*, actor: Actor, data: dict[str, Any]) -> Company:
    """Change the company's details; SIREN and VAT numbers are checked and normalised."""
    from django.db import transaction
    from stdnum.eu import vat
    from stdnum.exceptions import ValidationError as StdnumError
    from stdnum.fr import siren

    from ruche.core.money import validate_currency

    _require_admin(actor, "the company settings")
    values = {k: data[k] for k in COMPANY_FIELDS if k in data}
    for field, module, label in (("siren", siren, "SIREN"), ("vat_number", vat, "VAT number")):
        if values.get(field):
            try:
                values[field] = module.validate(values[field])
            except StdnumError as error:
                message = str(error).rstrip(".")
                raise ValidationError({field: f"Invalid {label}: {message}."}) from None
    if "currency" in values:
        values["currency"] = validate_currency(values["currency"])
    month = values.get("fiscal_year_start_month", 1)
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValidationError({"fiscal_year_start_month": "A month from 1 to 12 is expected."})
    if "default_visibility" in values:
        try:
            validate_visibility(values["default_visibility"])
        except ValidationError:
            raise ValidationError({"default_visibility": f"One of {Visibility.values}."}) from None
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=Company.current().pk)
        changes = changed_fields(company, values, COMPANY_FIELDS)
        if changes:
            clean_model_fields(company)
            company.save()
            record_changes("company", company.pk, actor, changes)
    return company


def _lookup_kind(kind: str) -> str:
    if kind not in LOOKUP_KINDS:
        raise ValidationError({"kind": f"One of {', '.join(LOOKUP_KINDS)}."})
    return kind


def _unique_name(kind: str, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if Lookup.objects.filter(kind=kind, name__iexact=name).exclude(pk=exclude).exists():
        raise ValidationError({"name": f"“{name}” is already in this list."})
    return name


def lookup_create(*, actor: Actor, kind: str, name: str) -> Lookup:
    from django.db import transaction
    from django.db.models import Max

    _require_admin(actor, "the lookup lists")
    kind = _lookup_kind(kind)
    with transaction.atomic():
        name = _unique_name(kind, name)
        top = Lookup.objects.filter(kind=kind).aggregate(top=Max("order_nr"))["top"] or 0
        lookup = Lookup(kind=kind, name=name, order_nr=top + 1)
        clean_model_fields(lookup)
        lookup.save()
        record_created("lookup", lookup.pk, actor, {"kind": kind, "name": name})
    return lookup


def lookup_update(*, actor: Actor, kind: str, lookup_id: int, data: dict[str, Any]) -> Lookup:
    """Rename, deactivate or reactivate one value; deals keep the values they hold."""
    from django.db import transaction

    _require_admin(actor, "the lookup lists")
    kind = _lookup_kind(kind)
    with transaction.atomic():
        lookup = Lookup.objects.select_for_update().filter(kind=kind, pk=lookup_id).first()
        if lookup is None:
            raise NotFound(f"No such {kind}: {lookup_id}.")
        values = {}
        if "name" in data:
            values["name"] = _unique_name(kind, data["name"], exclude=lookup.pk)
        if "is_active" in data:
            if not isinstance(data["is_active"], bool):
                raise ValidationError({"is_active": "true or false is expected."})
            values["is_active"] = data["is_active"]
        changes = changed_fields(lookup, values, ("name", "is_active"))
        if changes:
            clean_model_fields(lookup)
            lookup.save()
            record_changes("lookup", lookup.pk, actor, changes)
    return lookup


def lookup_reorder(*, actor: Actor, kind: str, lookup_ids: list[int]) -> None:
    from django.db import transaction

    _require_admin(actor, "the lookup lists")
    kind = _lookup_kind(kind)
    with transaction.atomic():
        lookups = {item.pk: item for item in Lookup.objects.select_for_update().filter(kind=kind)}
        if sorted(lookup_ids, key=lambda x: x or 0) != sorted(lookups):
            raise ValidationError({"lookup_ids": "List each value of the list exactly once."})
        for order_nr, lookup_id in enumerate(lookup_ids, start=1):
            lookup = lookups[lookup_id]
            if lookup.order_nr != order_nr:
                change = {"order_nr": (lookup.order_nr, order_nr)}
                record_changes("lookup", lookup.pk, actor, change)
                lookup.order_nr = order_nr
                lookup.save(update_fields=["order_nr"])
