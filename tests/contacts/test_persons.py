import pytest

from ruche.contacts.services import person_create, person_delete, person_update
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.history import history_for
from ruche.core.models import Visibility
from tests.factories import OrganizationFactory


def test_emails_and_phones_are_normalised(rep_actor):
    person = person_create(
        actor=rep_actor,
        data={
            "first_name": "Léa",
            "last_name": "Martin",
            "emails": ["  lea@martin.fr ", {"value": "lea.perso@gmail.com", "label": "home"}],
            "phones": [{"value": " +33 6 12 34 56 78", "label": "mobile"}, "03 20 00 00 00"],
        },
    )
    person.refresh_from_db()
    assert person.name == "Léa Martin"
    assert person.emails == [
        {"value": "lea@martin.fr", "label": "work", "primary": True},
        {"value": "lea.perso@gmail.com", "label": "home", "primary": False},
    ]
    assert person.phones == [
        {"value": "+33 6 12 34 56 78", "label": "mobile", "primary": True},
        {"value": "03 20 00 00 00", "label": "work", "primary": False},
    ]


def test_exactly_one_primary_contact_point(rep_actor):
    person = person_create(
        actor=rep_actor,
        data={
            "name": "Paul",
            "emails": ["a@ruche.test", {"value": "b@ruche.test", "primary": True}],
            "phones": [
                {"value": "0102030405", "primary": False},
                {"value": "0605040302", "primary": False},
            ],
        },
    )
    assert [e["primary"] for e in person.emails] == [False, True]
    assert [p["primary"] for p in person.phones] == [True, False]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"emails": ["lea@martin.fr", "pas-un-email"]}, "emails[1]"),
        ({"emails": [{"label": "work"}]}, "emails[0]"),
        ({"emails": [42]}, "emails[0]"),
        ({"emails": "lea@martin.fr"}, "emails"),
        ({"phones": ["12"]}, "phones[0]"),
        ({"phones": ["0" * 41]}, "phones[0]"),
        ({"phones": ["0102030405", "appelez-moi"]}, "phones[1]"),
        ({"name": ""}, "name"),
        ({"org_id": 10**9}, "org_id"),
    ],
)
def test_invalid_persons_are_refused_naming_the_field(rep_actor, unchanged, data, field):
    with unchanged(), pytest.raises(ValidationError) as error:
        person_create(actor=rep_actor, data={"name": "Léa"} | data)
    assert list(error.value.field_errors) == [field]


def test_update_renames_from_first_and_last_name(rep, rep_actor):
    person = person_create(actor=rep_actor, data={"first_name": "Léa", "last_name": "Martin"})
    person_update(actor=rep_actor, person_id=person.pk, data={"last_name": "Durand"})
    person.refresh_from_db()
    assert (person.name, person.version) == ("Léa Durand", 2)
    assert [(r.field, r.old_value, r.new_value) for r in history_for("person", person.pk)][1:] == [
        ("name", "Léa Martin", "Léa Durand"),
        ("last_name", "Martin", "Durand"),
    ]


def test_person_linked_to_a_visible_organization_only(rep, rep_actor, other_rep, unchanged):
    mine = OrganizationFactory(owner=rep)
    hidden = OrganizationFactory(owner=other_rep, visible_to=Visibility.OWNER)
    person = person_create(actor=rep_actor, data={"name": "Léa", "org_id": mine.pk})
    assert person.org == mine
    with unchanged(person), pytest.raises(ValidationError) as error:
        person_update(actor=rep_actor, person_id=person.pk, data={"org_id": hidden.pk})
    assert error.value.field_errors == {"org_id": f"No such organization: {hidden.pk}."}


def test_relations_are_given_by_id_only(rep_actor, rep, other_rep):
    org = OrganizationFactory(owner=rep)
    person = person_create(actor=rep_actor, data={"name": "Léa", "org": org.pk, "owner": 1})
    assert (person.org, person.owner) == (None, rep)


def test_hidden_person_cannot_be_changed_or_deleted(rep_actor, other_rep_actor, unchanged):
    person = person_create(actor=rep_actor, data={"name": "Léa", "visible_to": Visibility.TEAM})
    with unchanged(person), pytest.raises(NotFound):
        person_update(actor=other_rep_actor, person_id=person.pk, data={"name": "X"})
    with unchanged(person), pytest.raises(NotFound):
        person_delete(actor=other_rep_actor, person_id=person.pk)
