"""Validation of custom field values against the admin's definitions.

Stored forms: text -> str, double -> str of a Decimal, monetary -> {"amount_minor", "currency"},
date -> "YYYY-MM-DD", enum -> option id, set -> [option ids], user -> user id.
"""

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event
from ruche.core.models import CustomField
from ruche.core.money import to_major, to_minor, validate_currency
from ruche.core.validation import MAX_ID, MAX_TEXT_LENGTH, clean_model_fields

Type = CustomField.FieldType


def definitions(entity: str) -> dict[str, CustomField]:
    return {field.key: field for field in CustomField.objects.filter(entity=entity)}


def _option_ids(field: CustomField) -> set[int]:
    return {option["id"] for option in field.options}


def _clean_value(field: CustomField, value: Any) -> Any:
    name = f"custom_fields.{field.key}"
    if field.field_type == Type.TEXT:
        if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
            raise ValidationError({name: f"A text of at most {MAX_TEXT_LENGTH} characters."})
        return value
    if field.field_type == Type.NUMBER:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError({name: "A number is expected."}) from None
        if isinstance(value, bool) or not number.is_finite():
            raise ValidationError({name: "A number is expected."})
        return str(number)
    if field.field_type == Type.MONEY:
        if not isinstance(value, dict) or set(value) != {"value", "currency"}:
            raise ValidationError({name: 'Expected {"value": number, "currency": "EUR"}.'})
        currency = validate_currency(value["currency"], field=f"{name}.currency")
        return {
            "amount_minor": to_minor(value["value"], currency, field=f"{name}.value"),
            "currency": currency,
        }
    if field.field_type == Type.DATE:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise ValidationError({name: "A date YYYY-MM-DD is expected."}) from None
    if field.field_type == Type.SINGLE_CHOICE:
        if value not in _option_ids(field) or isinstance(value, bool):
            raise ValidationError({name: f"Unknown option {value!r}."})
        return value
    if field.field_type == Type.MULTIPLE_CHOICE:
        if (
            not isinstance(value, list)
            or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
            or not set(value) <= _option_ids(field)
        ):
            raise ValidationError({name: "A list of known option ids is expected."})
        return sorted(set(value))
    if field.field_type == Type.USER:
        if (
            isinstance(value, bool)
            or not get_user_model()
            .objects.filter(
                pk=value if isinstance(value, int) and 0 < value <= MAX_ID else None, is_active=True
            )
            .exists()
        ):
            raise ValidationError({name: f"Unknown user {value!r}."})
        return value
    raise AssertionError(field.field_type)


def clean_custom_fields(entity: str, values: Any, current: dict | None = None) -> dict:
    """Merge `values` (a partial update; None clears a field) into `current`, validated."""
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "An object keyed by field key is expected."})
    fields = definitions(entity)
    merged = dict(current or {})
    for key, value in values.items():
        if key not in fields:
            raise ValidationError({f"custom_fields.{key}": "Unknown custom field."})
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _clean_value(fields[key], value)
    missing = [key for key, field in fields.items() if field.is_required and key not in merged]
    if missing:
        raise ValidationError({f"custom_fields.{missing[0]}": "This field is required."})
    return merged


def present_custom_fields(entity_fields: dict[str, CustomField], stored: dict) -> dict:
    """Stored values as the API shows them (money back in major units)."""
    shown = {}
    for key, value in stored.items():
        field = entity_fields.get(key)
        if field is not None and field.field_type == Type.MONEY:
            value = {
                "value": to_major(value["amount_minor"], value["currency"]),
                "currency": value["currency"],
            }
        shown[key] = value
    return shown


def _clean_options(options: Any, start_id: int = 1) -> list[dict]:
    if not isinstance(options, list) or not all(
        isinstance(o, dict) and isinstance(o.get("label"), str) and 0 < len(o["label"]) <= 255
        for o in options
    ):
        raise ValidationError({"options": 'A list of {"label": "..."} objects is expected.'})
    return [
        {"id": o.get("id") or start_id + index, "label": o["label"]}
        for index, o in enumerate(options)
    ]


def _actor(user) -> Actor:
    return Actor.for_user(user) if user is not None else Actor.for_job("custom fields")


def _require_admin(user) -> None:
    if user is not None and not user.is_admin:
        raise PermissionDenied("Only an admin can define custom fields.")


@transaction.atomic
def custom_field_create(*, user, entity: str, data: dict) -> CustomField:
    _require_admin(user)
    field_type = data.get("field_type")
    if field_type not in Type.values:
        raise ValidationError({"field_type": f"One of {', '.join(Type.values)}."})
    options = (
        _clean_options(data.get("options") or [])
        if field_type in (Type.SINGLE_CHOICE, Type.MULTIPLE_CHOICE)
        else []
    )
    field = CustomField(
        entity=entity,
        key=secrets.token_hex(20),
        name=data.get("name") or "",
        field_type=field_type,
        options=options,
        is_required=bool(data.get("is_required")),
    )
    clean_model_fields(field)
    field.save()
    record_created(
        "custom_field",
        field.pk,
        _actor(user),
        {
            "entity": entity,
            "key": field.key,
            "name": field.name,
            "field_type": field_type,
            "options": options,
            "is_required": field.is_required,
        },
    )
    return field


@transaction.atomic
def custom_field_update(*, user, entity: str, key: str, data: dict) -> CustomField:
    _require_admin(user)
    field = access_custom_field(entity, key)
    before = {"name": field.name, "options": field.options, "is_required": field.is_required}
    if "name" in data:
        field.name = data["name"]
    if "options" in data and field.field_type in (Type.SINGLE_CHOICE, Type.MULTIPLE_CHOICE):
        known = max((o["id"] for o in field.options), default=0)
        field.options = _clean_options(data["options"], start_id=known + 1)
    if "is_required" in data:
        field.is_required = bool(data["is_required"])
    clean_model_fields(field)
    field.update_time = timezone.now()
    field.save()
    changes = {
        name: (old, getattr(field, name))
        for name, old in before.items()
        if old != getattr(field, name)
    }
    if changes:
        record_changes("custom_field", field.pk, _actor(user), changes)
    return field


@transaction.atomic
def custom_field_delete(*, user, entity: str, key: str) -> None:
    _require_admin(user)
    field = access_custom_field(entity, key)
    record_event(
        "custom_field", field.pk, Event.DELETED, _actor(user), field="name", old=field.name
    )
    field.delete()


def access_custom_field(entity: str, key: str) -> CustomField:
    field = CustomField.objects.filter(entity=entity, key=key).first()
    if field is None:
        raise NotFound(f"Custom field {key} not found.")
    return field
