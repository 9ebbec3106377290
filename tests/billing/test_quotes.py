"""Quotes: made from a deal or from scratch, numbered and revised, moved only along the declared
transitions; accepting one wins its deal at the quote's total excluding VAT."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from ruche.billing import services
from ruche.billing.models import Quote
from ruche.core.exceptions import Conflict, ValidationError
from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal
from tests.billing.conftest import MIXED_LINES, add_lines
from tests.factories import DealFactory


@pytest.fixture
def open_deal(rep, rep_actor, customer, profile):
    deal = DealFactory(owner=rep, org=customer, title="Refonte")
    add_lines(rep_actor, deal, MIXED_LINES)
    return deal


def test_quote_from_deal_copies_lines_and_customer(open_deal, rep_actor, customer):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": open_deal.pk})
    assert quote.number == f"D{timezone.localdate().year}-00001"
    assert (quote.revision, quote.status, quote.currency) == (1, "draft", "EUR")
    assert quote.valid_until == timezone.localdate() + dt.timedelta(days=30)
    assert [
        (line.name, line.quantity, line.unit_price_minor, line.total_minor)
        for line in quote.lines.all()
    ] == [
        ("Conseil", Decimal("2"), 123456, 222221),
        ("Travaux", Decimal("3.5"), 9999, 34997),
        ("Livres", Decimal("1"), 1999, 1339),
    ]
    open_deal.refresh_from_db()
    assert quote.total_excl_vat_minor == open_deal.value_minor == 258557
    assert (quote.customer_name, quote.customer_siren, quote.org_id) == (
        "Atelier Dupont SARL",
        "552100554",
        customer.pk,
    )


def test_quote_refuses_a_rate_outside_french_rates(rep_actor, customer, profile):
    with pytest.raises(ValidationError) as error:
        services.quote_create(
            actor=rep_actor,
            data={
                "org_id": customer.pk,
                "lines": [{"name": "X", "unit_price": "1", "vat_rate": "19.6"}],
            },
        )
    assert "lines[0].vat_rate" in error.value.field_errors
    assert Quote.objects.count() == 0


def test_transitions_are_enforced_and_recorded(open_deal, rep_actor, unchanged):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": open_deal.pk})
    with unchanged(quote, open_deal), pytest.raises(Conflict):
        services.quote_accept(actor=rep_actor, quote_id=quote.pk)  # a draft is sent first
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    services.quote_decline(actor=rep_actor, quote_id=quote.pk)
    with unchanged(quote), pytest.raises(Conflict):
        services.quote_send(actor=rep_actor, quote_id=quote.pk)
    statuses = list(
        ChangeRecord.objects.filter(entity="quote", entity_id=quote.pk, field="status").values_list(
            "old_value", "new_value"
        )
    )
    assert statuses == [("draft", "sent"), ("sent", "declined")]
    with unchanged(quote), pytest.raises(Conflict):
        services.quote_update(actor=rep_actor, quote_id=quote.pk, data={"title": "Autre"})


def test_revision_keeps_the_number(open_deal, rep_actor):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": open_deal.pk})
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    revision = services.quote_revise(actor=rep_actor, quote_id=quote.pk)
    assert (revision.number, revision.revision, revision.status) == (quote.number, 2, "draft")
    assert revision.lines.count() == 3
    services.quote_update(
        actor=rep_actor,
        quote_id=revision.pk,
        data={"lines": [{"name": "Forfait", "unit_price": "1000", "vat_rate": "20"}]},
    )
    revision.refresh_from_db()
    assert (revision.total_excl_vat_minor, revision.total_incl_vat_minor) == (100000, 120000)
    services.quote_send(actor=rep_actor, quote_id=revision.pk)
    with pytest.raises(Conflict):
        services.quote_accept(actor=rep_actor, quote_id=quote.pk)  # superseded
    assert Quote.objects.get(pk=quote.pk).status == "sent"


def test_accepting_wins_the_deal_at_the_quote_total(open_deal, rep_actor):
    quote = services.quote_create(
        actor=rep_actor,
        data={
            "deal_id": open_deal.pk,
            "lines": [
                {
                    "name": "Audit",
                    "quantity": "3",
                    "unit_price": "333.33",
                    "discount_percent": "5",
                    "vat_rate": "20",
                },
                {"name": "Formation", "unit_price": "800", "vat_rate": "10"},
            ],
        },
    )
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    services.quote_accept(actor=rep_actor, quote_id=quote.pk)
    deal = Deal.objects.get(pk=open_deal.pk)
    assert deal.status == "won"
    # 3 x 333.33 x 0.95 = 949.9905 -> 949.99; + 800.00
    assert deal.value_minor == quote.total_excl_vat_minor == 174999
    assert list(deal.lines.values_list("name", "total_minor")) == [
        ("Audit", 94999),
        ("Formation", 80000),
    ]
    events = set(
        ChangeRecord.objects.filter(entity="deal", entity_id=deal.pk).values_list(
            "event", flat=True
        )
    )
    assert {"line_removed", "line_added", "won"} <= events


def test_an_expired_quote_is_not_accepted(open_deal, rep_actor):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": open_deal.pk})
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    Quote.objects.filter(pk=quote.pk).update(valid_until=timezone.localdate() - dt.timedelta(1))
    with pytest.raises(Conflict):
        services.quote_accept(actor=rep_actor, quote_id=quote.pk)
    assert services.expire_quotes(actor=rep_actor) == 1
    assert Quote.objects.get(pk=quote.pk).status == "expired"
    assert Deal.objects.get(pk=open_deal.pk).status == "open"
