import pytest

from ruche.contacts.models import Organization
from ruche.contacts.services import (
    organization_create,
    organization_delete,
    organization_update,
)
from ruche.core.exceptions import NotFound, PreconditionFailed, ValidationError
from ruche.core.history import history_for
from ruche.core.models import Visibility
from tests.factories import OrganizationFactory

DANONE_SIREN = "552032534"
# SIREN 732 829 320 and one of its establishments.
SIREN = "732829320"
SIRET = "73282932000074"
VAT = "FR40303265045"


def test_create_with_valid_identifiers(rep, rep_actor, source):
    org = organization_create(
        actor=rep_actor,
        data={
            "name": "Boulangerie Martin",
            "siren": "732 829 320",
            "siret": "732 829 320 00074",
            "vat_number": "fr 40 303 265 045",
            "country": "fr",
            "source_id": source.pk,
        },
    )
    org.refresh_from_db()
    assert (org.siren, org.siret, org.vat_number, org.country) == (SIREN, SIRET, VAT, "FR")
    assert (org.owner, org.visible_to, org.source, org.version) == (
        rep,
        Visibility.EVERYONE,
        source,
        1,
    )
    [created] = history_for("organization", org.pk)
    assert created.event == "created"
    assert created.new_value["siren"] == SIREN


def test_siren_is_taken_from_the_siret(rep_actor):
    org = organization_create(actor=rep_actor, data={"name": "Établissement", "siret": SIRET})
    assert (org.siren, org.siret) == (SIREN, SIRET)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"siren": "732829321"},
            "siren",
            "Invalid SIREN: The number's checksum or check digit is invalid.",
        ),
        ({"siren": "12345"}, "siren", "Invalid SIREN: The number has an invalid length."),
        (
            {"siret": "73282932000075"},
            "siret",
            "Invalid SIRET: The number's checksum or check digit is invalid.",
        ),
        (
            {"vat_number": "FR00303265045"},
            "vat_number",
            "Invalid VAT number: The number's checksum or check digit is invalid.",
        ),
        (
            {"vat_number": "XX123"},
            "vat_number",
            "Invalid VAT number: One of the parts of the number are invalid or unknown.",
        ),
        (
            {"siren": DANONE_SIREN, "siret": SIRET},
            "siret",
            f"SIRET {SIRET} does not belong to SIREN {DANONE_SIREN}.",
        ),
    ],
)
def test_invalid_identifiers_are_refused_naming_the_field(
    rep_actor, unchanged, data, field, message
):
    with unchanged(), pytest.raises(ValidationError) as error:
        organization_create(actor=rep_actor, data={"name": "X"} | data)
    assert error.value.field_errors == {field: message}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "country": "FRA"}, "country"),
        ({"name": "x", "size": "huge"}, "size"),
        ({"name": "x", "visible_to": 2}, "visible_to"),
        ({"name": "x", "source_id": 10**9}, "source_id"),
        ({"name": "x", "owner_id": 10**9}, "owner_id"),
    ],
)
def test_invalid_fields_are_refused(rep_actor, unchanged, data, field):
    with unchanged(), pytest.raises(ValidationError) as error:
        organization_create(actor=rep_actor, data=data)
    assert list(error.value.field_errors) == [field]


def test_update_records_each_field_and_bumps_the_version(rep, rep_actor):
    org = organization_create(actor=rep_actor, data={"name": "Avant", "city": "Lille"})
    organization_update(
        actor=rep_actor,
        organization_id=org.pk,
        data={"name": "Après", "city": "Lille", "siren": SIREN},
        expected_version=1,
    )
    org.refresh_from_db()
    assert (org.name, org.siren, org.version) == ("Après", SIREN, 2)
    assert [
        (r.event, r.field, r.old_value, r.new_value, r.actor_user_id)
        for r in history_for("organization", org.pk)
    ][1:] == [
        ("updated", "name", "Avant", "Après", rep.pk),
        ("updated", "siren", "", SIREN, rep.pk),
    ]


def test_a_siret_of_another_company_is_refused_on_update(rep_actor, unchanged):
    org = organization_create(actor=rep_actor, data={"name": "Danone", "siren": DANONE_SIREN})
    with unchanged(org), pytest.raises(ValidationError) as error:
        organization_update(actor=rep_actor, organization_id=org.pk, data={"siret": SIRET})
    assert list(error.value.field_errors) == ["siret"]


def test_refused_updates_change_nothing(rep_actor, other_rep_actor, unchanged):
    org = organization_create(
        actor=rep_actor, data={"name": "Privée", "visible_to": Visibility.OWNER}
    )
    with unchanged(org), pytest.raises(ValidationError):
        organization_update(
            actor=rep_actor, organization_id=org.pk, data={"name": "X", "siren": "1"}
        )
    with unchanged(org), pytest.raises(PreconditionFailed):
        organization_update(
            actor=rep_actor, organization_id=org.pk, data={"name": "X"}, expected_version=7
        )
    with unchanged(org), pytest.raises(NotFound):
        organization_update(actor=other_rep_actor, organization_id=org.pk, data={"name": "X"})
    with unchanged(org), pytest.raises(NotFound):
        organization_delete(actor=other_rep_actor, organization_id=org.pk)


def test_relations_are_given_by_id_only(rep_actor, admin, source):
    org = organization_create(actor=rep_actor, data={"name": "Sûre", "owner": admin.pk})
    assert org.owner == rep_actor.user
    organization_update(
        actor=rep_actor,
        organization_id=org.pk,
        data={"owner": admin.pk, "source": source.pk, "city": "Lens"},
    )
    org.refresh_from_db()
    assert (org.owner, org.source, org.city) == (rep_actor.user, None, "Lens")


def test_delete_is_soft_and_recorded(rep, rep_actor):
    org = OrganizationFactory(owner=rep)
    organization_delete(actor=rep_actor, organization_id=org.pk)
    org = Organization.objects.get(pk=org.pk)
    assert (org.is_deleted, org.version) == (True, 2)
    assert history_for("organization", org.pk).last().event == "deleted"
    with pytest.raises(NotFound):
        organization_update(actor=rep_actor, organization_id=org.pk, data={"name": "Revenue"})
