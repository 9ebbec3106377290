from typing import Any

from django.core.validators import validate_email
from django.db import transaction
from stdnum.eu import vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret

from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor
from ruche.core.models import Lookup
from ruche.core.permissions import restrict
from ruche.core.services import (
    create_recorded,
    lock,
    owned_values,
    resolve,
    resolve_lookup,
    save_changes,
    soft_delete,
)

ORGANIZATION_FIELDS = (
    "name",
    "address",
    "postal_code",
    "city",
    "country",
    "siren",
    "siret",
    "vat_number",
    "industry",
    "size",
    "source",
    "owner",
    "visible_to",
    "custom_fields",
    "external_id",
)
PERSON_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "emails",
    "phones",
    "org",
    "job_title",
    "owner",
    "visible_to",
    "custom_fields",
    "external_id",
)


# Relations arrive as `<field>_id` and are resolved with an access check; a raw "owner" or
# "org" key in the input is ignored, like any other unknown key.
RELATIONS = ("owner", "org", "source")
NUMBER_LABELS = {"siren": "SIREN", "siret": "SIRET", "vat_number": "VAT number"}


def _validated_number(module, value: str, field: str) -> str:
    if not value:
        return ""
    try:
        return module.validate(value)
    except StdnumError as error:
        message = str(error).rstrip(".")
        raise ValidationError({field: f"Invalid {NUMBER_LABELS[field]}: {message}."}) from None


def _organization_values(data: dict[str, Any], actor: Actor, current: Organization | None):
    values = {k: v for k, v in data.items() if k in ORGANIZATION_FIELDS and k not in RELATIONS}
    for number_field, module in (("siren", siren), ("siret", siret), ("vat_number", vat)):
        if number_field in data:
            values[number_field] = _validated_number(module, data[number_field] or "", number_field)
    siren_ = values.get("siren", current.siren if current else "")
    if values.get("siret") and not siren_:
        values["siren"] = values["siret"][:9]
    elif values.get("siret") and not values["siret"].startswith(siren_):
        raise ValidationError(
            {"siret": f"SIRET {values['siret']} does not belong to SIREN {siren_}."}
        )
    if "country" in data:
        values["country"] = (data["country"] or "").upper()
    if "source_id" in data:
        values["source"] = resolve_lookup(Lookup.Kind.SOURCE, data["source_id"], field="source_id")
    return owned_values(values, data, actor, "organization", current)


@transaction.atomic
def organization_create(*, actor: Actor, data: dict[str, Any]) -> Organization:
    return create_recorded(
        Organization(),
        entity="organization",
        actor=actor,
        values=_organization_values(data, actor, None),
    )


@transaction.atomic
def organization_update(
    *, actor: Actor, organization_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Organization:
    organization = lock(
        restrict(Organization.objects, actor.user),
        organization_id,
        label="Organization",
        expected_version=expected_version,
    )
    save_changes(
        organization,
        entity="organization",
        actor=actor,
        values=_organization_values(data, actor, organization),
        fields=ORGANIZATION_FIELDS,
    )
    return organization


def _clean_contact_points(items: Any, field: str, check) -> list[dict]:
    """Emails or phones as Pipedrive sends them: strings or {value, label, primary} objects."""
    if not isinstance(items, list):
        raise ValidationError({field: "A list is expected."})
    cleaned = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise ValidationError({f"{field}[{index}]": "Expected {value, label, primary}."})
        value = item["value"].strip()
        check(value, f"{field}[{index}]")
        cleaned.append(
            {"value": value, "label": str(item.get("label") or "work")[:32], "primary": False}
        )
    # Exactly one primary: the first marked so, else the first.
    flagged = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("primary")]
    if cleaned:
        cleaned[flagged[0] if flagged else 0]["primary"] = True
    return cleaned


def _check_email(value: str, field: str) -> None:
    try:
        validate_email(value)
    except Exception:
        raise ValidationError({field: f"Not an email address: {value!r}."}) from None


def _check_phone(value: str, field: str) -> None:
    digits = [c for c in value if c.isdigit()]
    if not 3 <= len(digits) <= 20 or len(value) > 40:
        raise ValidationError({field: f"Not a phone number: {value!r}."})


def _person_values(data: dict[str, Any], actor: Actor, current: Person | None) -> dict:
    values = {k: v for k, v in data.items() if k in PERSON_FIELDS and k not in RELATIONS}
    if "emails" in data:
        values["emails"] = _clean_contact_points(data["emails"] or [], "emails", _check_email)
    if "phones" in data:
        values["phones"] = _clean_contact_points(data["phones"] or [], "phones", _check_phone)
    if "org_id" in data:
        values["org"] = resolve(
            restrict(Organization.objects, actor.user), data["org_id"], field="org_id"
        )
    if not data.get("name") and ("first_name" in data or "last_name" in data):
        first = data.get("first_name", current.first_name if current else "")
        last = data.get("last_name", current.last_name if current else "")
        values["name"] = f"{first or ''} {last or ''}".strip()
    return owned_values(values, data, actor, "person", current)


@transaction.atomic
def person_create(*, actor: Actor, data: dict[str, Any]) -> Person:
    return create_recorded(
        Person(), entity="person", actor=actor, values=_person_values(data, actor, None)
    )


@transaction.atomic
def person_update(
    *, actor: Actor, person_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Person:
    person = lock(
        restrict(Person.objects, actor.user),
        person_id,
        label="Person",
        expected_version=expected_version,
    )
    save_changes(
        person,
        entity="person",
        actor=actor,
        values=_person_values(data, actor, person),
        fields=PERSON_FIELDS,
    )
    return person


@transaction.atomic
def organization_delete(*, actor: Actor, organization_id: int) -> None:
    soft_delete(
        restrict(Organization.objects, actor.user),
        organization_id,
        entity="organization",
        actor=actor,
    )


@transaction.atomic
def person_delete(*, actor: Actor, person_id: int) -> None:
    soft_delete(restrict(Person.objects, actor.user), person_id, entity="person", actor=actor)
