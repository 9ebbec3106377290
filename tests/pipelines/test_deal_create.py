import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.exceptions import ValidationError
from ruche.core.models import Lookup, Visibility
from ruche.pipelines.models import Deal, StageEntry
from ruche.pipelines.services import deal_create, deal_update
from tests.factories import DealFactory, OrganizationFactory, PersonFactory


def test_defaults_from_the_organization_and_the_company(rep, rep_actor, stages, source):
    org = OrganizationFactory(name="Boulangerie Martin", owner=rep, source=source)
    deal = deal_create(actor=rep_actor, data={"org_id": org.pk})
    deal.refresh_from_db()
    assert deal.title == "Boulangerie Martin"
    assert deal.expected_close_date == timezone.localdate() + dt.timedelta(days=42)
    assert deal.source == source
    assert (deal.pipeline, deal.stage) == (stages[0].pipeline, stages[0])
    assert (deal.status, deal.value_minor, deal.currency) == ("open", 0, "EUR")
    assert (deal.owner, deal.creator, deal.visible_to) == (rep, rep, Visibility.EVERYONE)
    # No probability of its own: the stage's default applies (Lead: 10 %).
    assert deal.probability is None
    assert deal.stage.deal_probability == 10
    assert (deal.won_time, deal.lost_time, deal.close_time) == (None, None, None)
    [entry] = StageEntry.objects.filter(deal=deal)
    assert (entry.stage, entry.from_stage, entry.left_at) == (stages[0], None, None)


def test_company_settings_change_the_defaults(rep, rep_actor, company):
    company.default_close_days = 7
    company.default_visibility = Visibility.TEAM
    company.currency = "CHF"
    company.save()
    deal = deal_create(actor=rep_actor, data={"title": "Suisse", "value": "10.05"})
    assert deal.expected_close_date == timezone.localdate() + dt.timedelta(days=7)
    assert (deal.visible_to, deal.currency, deal.value_minor) == (Visibility.TEAM, "CHF", 1005)


def test_given_values_win_over_defaults(rep, rep_actor, stages, source, other_rep):
    org = OrganizationFactory(owner=rep, source=source)
    fair = Lookup.objects.get(kind=Lookup.Kind.SOURCE, name="Site web")
    deal = deal_create(
        actor=rep_actor,
        data={
            "title": "Explicite",
            "org_id": org.pk,
            "source_id": fair.pk,
            "expected_close_date": "2031-01-15",
            "stage_id": stages[3].pk,
            "probability": 35,
            "owner_id": other_rep.pk,
            "visible_to": Visibility.OWNER,
            "currency": "usd",
            "value": "99.99",
        },
    )
    deal.refresh_from_db()
    assert (deal.title, deal.source, deal.expected_close_date) == (
        "Explicite",
        fair,
        dt.date(2031, 1, 15),
    )
    assert (deal.stage, deal.probability, deal.owner, deal.creator) == (
        stages[3],
        35,
        other_rep,
        rep,
    )
    assert (deal.visible_to, deal.currency, deal.value_minor) == (Visibility.OWNER, "USD", 9999)


def test_a_source_explicitly_cleared_stays_cleared(rep, rep_actor, source):
    org = OrganizationFactory(owner=rep, source=source)
    deal = deal_create(actor=rep_actor, data={"org_id": org.pk, "source_id": None})
    assert deal.source is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x" * 256}, "title"),
        ({"title": "t", "value": "12.345"}, "value"),
        ({"title": "t", "value": "abc"}, "value"),
        ({"title": "t", "currency": "EURO"}, "currency"),
        ({"title": "t", "org_id": 10**9}, "org_id"),
        ({"title": "t", "org_id": "1"}, "org_id"),
        ({"title": "t", "person_id": 10**9}, "person_id"),
        ({"title": "t", "stage_id": 10**9}, "stage_id"),
        ({"title": "t", "pipeline_id": 10**9}, "pipeline_id"),
        ({"title": "t", "owner_id": 10**9}, "owner_id"),
        ({"title": "t", "visible_to": 5}, "visible_to"),
        ({"title": "t", "probability": -1}, "probability"),
        ({"title": "t", "revenue_type": "barter"}, "revenue_type"),
        ({"title": "t", "label_ids": [10**9]}, "label_ids"),
        ({"title": "t", "status": "lost"}, "lost_reason"),
        ({"title": "t", "recurring_monthly": "1.001"}, "recurring_monthly"),
    ],
)
def test_invalid_creations_are_refused_naming_the_field(rep_actor, unchanged, data, field):
    with unchanged(), pytest.raises(ValidationError) as error:
        deal_create(actor=rep_actor, data=data)
    assert list(error.value.field_errors) == [field]


def test_a_hidden_organization_or_person_cannot_be_linked(rep_actor, other_rep, unchanged):
    hidden_org = OrganizationFactory(owner=other_rep, visible_to=Visibility.OWNER)
    hidden_person = PersonFactory(owner=other_rep, visible_to=Visibility.OWNER)
    with unchanged(), pytest.raises(ValidationError) as error:
        deal_create(actor=rep_actor, data={"org_id": hidden_org.pk})
    assert error.value.field_errors == {"org_id": f"No such organization: {hidden_org.pk}."}
    with unchanged(), pytest.raises(ValidationError) as error:
        deal_create(actor=rep_actor, data={"title": "t", "person_id": hidden_person.pk})
    assert list(error.value.field_errors) == ["person_id"]


def test_created_won(rep_actor):
    deal = deal_create(actor=rep_actor, data={"title": "Signé", "status": "won", "value": "5"})
    assert (deal.status, deal.probability) == ("won", 100)
    assert deal.won_time is not None and deal.won_time == deal.close_time


def test_labels_on_creation(rep_actor):
    labels = list(Lookup.objects.filter(kind=Lookup.Kind.LABEL).values_list("pk", flat=True))
    assert len(labels) == 3
    deal = deal_create(actor=rep_actor, data={"title": "Étiqueté", "label_ids": labels[1:]})
    assert sorted(deal.labels.values_list("pk", flat=True)) == sorted(labels[1:])


def test_changing_the_currency_keeps_the_amount(rep, rep_actor, unchanged):
    deal = DealFactory(owner=rep, value="1500.00", recurring_monthly="125.00")
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"currency": "JPY"})
    deal.refresh_from_db()
    assert (deal.currency, deal.value_minor, deal.recurring_monthly_minor) == ("JPY", 1500, 125)
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"currency": "KWD"})
    deal.refresh_from_db()
    assert (deal.value_minor, deal.recurring_monthly_minor) == (1_500_000, 125_000)
    cents = DealFactory(owner=rep, value="10.50")
    with unchanged(cents), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=cents.pk, data={"currency": "JPY"})
    assert error.value.field_errors == {"value": "JPY amounts have at most 0 decimals."}
    # With a new value in the same call, the value is read in the new currency.
    deal_update(actor=rep_actor, deal_id=cents.pk, data={"currency": "JPY", "value": "1100"})
    assert Deal.objects.filter(pk=cents.pk).values_list("currency", "value_minor").get() == (
        "JPY",
        1100,
    )
