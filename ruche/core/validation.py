"""Field validation shared by every service, so the API, the CLI and imports refuse the same
input with the same message naming the field."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from ruche.core.exceptions import ValidationError

MAX_TEXT_LENGTH = 100_000
# Ids are 64-bit integers in both databases.
MAX_ID = 2**63 - 1


def clean_model_fields(instance: models.Model, *, renamed: dict[str, str] | None = None) -> None:
    """Run Django's per-field checks (length, choices, blank, ranges); relations are resolved
    and checked by the services themselves, so they are skipped here to save a query each."""
    for field in instance._meta.fields:
        setattr(
            instance,
            field.attname,
            normalised(instance, field.name, getattr(instance, field.attname)),
        )
    relation_names = [f.name for f in instance._meta.fields if f.is_relation]
    errors: dict[str, str] = {}
    try:
        instance.clean_fields(exclude=relation_names)
    except DjangoValidationError as error:
        for field, messages in error.message_dict.items():
            errors[(renamed or {}).get(field, field)] = " ".join(messages)
    for field in instance._meta.fields:
        if isinstance(field, models.TextField):
            text = getattr(instance, field.attname) or ""
            if len(text) > MAX_TEXT_LENGTH:
                errors[field.name] = f"At most {MAX_TEXT_LENGTH} characters."
    if errors:
        raise ValidationError(errors)


def normalised(instance: models.Model, field: str, value):
    """None for a text column that is never null means empty: clients send `null` to clear."""
    if value is None:
        model_field = instance._meta.get_field(field)
        if isinstance(model_field, models.CharField | models.TextField) and not model_field.null:
            return ""
    return value


def changed_fields(instance: models.Model, new_values: dict, fields: Iterable[str]) -> dict:
    """{field: (old, new)} for the fields whose value differs, then applies the new values."""
    changes = {}
    for field in fields:
        if field not in new_values:
            continue
        old, new = getattr(instance, field), normalised(instance, field, new_values[field])
        if old != new:
            changes[field] = (old, new)
            setattr(instance, field, new)
    return changes
