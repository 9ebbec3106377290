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
