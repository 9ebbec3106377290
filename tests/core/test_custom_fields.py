import pytest

from ruche.core.custom_fields import clean_custom_fields, definitions, present_custom_fields
from ruche.core.exceptions import ValidationError
from ruche.core.models import CustomField
from ruche.pipelines.services import deal_create, deal_update
from tests.factories import DealFactory, UserFactory

Type = CustomField.FieldType
OPTIONS = [{"id": 1, "label": "PME"}, {"id": 2, "label": "ETI"}, {"id": 3, "label": "GE"}]


@pytest.fixture
def fields(db):
    for order_nr, (key, field_type) in enumerate(
        [
            ("notes", Type.TEXT),
            ("score", Type.NUMBER),
            ("budget", Type.MONEY),
            ("kickoff", Type.DATE),
            ("segment", Type.SINGLE_CHOICE),
            ("channels", Type.MULTIPLE_CHOICE),
            ("sponsor", Type.USER),
        ]
    ):
        CustomField.objects.create(
            entity="deal",
            key=key,
            name=key.title(),
            field_type=field_type,
            options=OPTIONS if field_type in (Type.SINGLE_CHOICE, Type.MULTIPLE_CHOICE) else [],
            order_nr=order_nr,
        )
    return definitions("deal")


def test_valid_values_are_stored_in_their_canonical_form(fields, rep):
    cleaned = clean_custom_fields(
        "deal",
        {
            "notes": "Client historique",
            "score": 7.5,
            "budget": {"value": "12500.50", "currency": "eur"},
            "kickoff": "2030-09-01",
            "segment": 2,
            "channels": [3, 1, 3],
            "sponsor": rep.pk,
        },
    )
    assert cleaned == {
        "notes": "Client historique",
        "score": "7.5",
        "budget": {"amount_minor": 1_250_050, "currency": "EUR"},
        "kickoff": "2030-09-01",
        "segment": 2,
        "channels": [1, 3],
        "sponsor": rep.pk,
    }
    shown = present_custom_fields(fields, cleaned)
    assert str(shown["budget"]["value"]) == "12500.50"


@pytest.mark.parametrize(
    ("key", "value", "error_field"),
    [
        ("notes", 42, "custom_fields.notes"),
        ("notes", "x" * 100_001, "custom_fields.notes"),
        ("score", "beaucoup", "custom_fields.score"),
        ("score", True, "custom_fields.score"),
        ("score", "NaN", "custom_fields.score"),
        ("budget", 100, "custom_fields.budget"),
        ("budget", {"value": "1"}, "custom_fields.budget"),
        ("budget", {"value": "1.001", "currency": "EUR"}, "custom_fields.budget.value"),
        ("budget", {"value": "1", "currency": "ZZZ"}, "custom_fields.budget.currency"),
        ("kickoff", "31/12/2030", "custom_fields.kickoff"),
        ("kickoff", "2030-02-30", "custom_fields.kickoff"),
        ("kickoff", 20300101, "custom_fields.kickoff"),
        ("segment", 9, "custom_fields.segment"),
        ("segment", "2", "custom_fields.segment"),
        ("segment", True, "custom_fields.segment"),
        ("channels", 1, "custom_fields.channels"),
        ("channels", [1, 9], "custom_fields.channels"),
        ("channels", [1, [2]], "custom_fields.channels"),
        ("channels", [True], "custom_fields.channels"),
        ("sponsor", 10**9, "custom_fields.sponsor"),
        ("sponsor", "1", "custom_fields.sponsor"),
        ("sponsor", True, "custom_fields.sponsor"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(fields, key, value, error_field):
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("deal", {key: value})
    assert list(error.value.field_errors) == [error_field]


def test_inactive_user_is_refused(fields):
    gone = UserFactory(is_active=False)
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("deal", {"sponsor": gone.pk})
    assert error.value.field_errors == {"custom_fields.sponsor": f"Unknown user {gone.pk}."}


def test_unknown_key_is_refused(fields):
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("deal", {"notes": "ok", "colour": "bleu"})
    assert error.value.field_errors == {"custom_fields.colour": "Unknown custom field."}


def test_a_field_of_another_entity_is_unknown(fields):
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("person", {"notes": "ok"})
    assert list(error.value.field_errors) == ["custom_fields.notes"]


def test_not_an_object_is_refused(fields):
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("deal", ["notes"])
    assert list(error.value.field_errors) == ["custom_fields"]


def test_partial_update_merges_and_none_clears(fields):
    current = {"notes": "a", "score": "1"}
    assert clean_custom_fields("deal", {"score": 2, "notes": None}, current) == {"score": "2"}
    assert current == {"notes": "a", "score": "1"}


def test_required_field(fields):
    CustomField.objects.filter(key="segment").update(is_required=True)
    with pytest.raises(ValidationError) as error:
        clean_custom_fields("deal", {"notes": "a"})
    assert error.value.field_errors == {"custom_fields.segment": "This field is required."}
    assert clean_custom_fields("deal", {"segment": 1}) == {"segment": 1}


def test_deal_services_store_custom_fields_and_refuse_bad_ones(fields, rep, rep_actor, unchanged):
    deal = deal_create(
        actor=rep_actor, data={"title": "CF", "custom_fields": {"segment": 1, "score": "3"}}
    )
    assert deal.custom_fields == {"segment": 1, "score": "3"}
    deal = deal_update(
        actor=rep_actor, deal_id=deal.pk, data={"custom_fields": {"score": None, "segment": 3}}
    )
    deal.refresh_from_db()
    assert deal.custom_fields == {"segment": 3}
    assert deal.version == 2
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(
            actor=rep_actor,
            deal_id=deal.pk,
            data={"title": "Changed", "custom_fields": {"segment": 4}},
        )
    assert error.value.field_errors == {"custom_fields.segment": "Unknown option 4."}
    other = DealFactory(owner=rep)
    with unchanged(other), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=other.pk, data={"custom_fields": {"nope": 1}})
    assert error.value.field_errors == {"custom_fields.nope": "Unknown custom field."}
