"""A deal's payment state never adds amounts of different currencies: one state per currency,
the top-level amounts in the deal's currency, and a status that sums up all of them."""

from decimal import Decimal

from ruche.billing import selectors, services
from ruche.billing.models import Invoice

# A 40 % deposit of won_deal: 888.88 + 139.99 + 5.36 excl. VAT; 177.78 + 14.00 + 0.29 VAT.
DEPOSIT_INCL_VAT = 122630


def deposit(actor, deal) -> Invoice:
    data = {"deal_id": deal.pk, "mode": "deposit", "deposit_percent": 40}
    return services.invoice_create(actor=actor, data=data)


def test_a_deal_invoiced_in_two_currencies(won_deal, rep, rep_actor, api_as):
    in_euros = services.invoice_issue(actor=rep_actor, invoice_id=deposit(rep_actor, won_deal).pk)
    draft = deposit(rep_actor, won_deal)
    Invoice.objects.filter(pk=draft.pk).update(currency="USD")  # a draft may still change
    in_dollars = services.invoice_issue(actor=rep_actor, invoice_id=draft.pk)
    assert in_euros.total_incl_vat_minor == in_dollars.total_incl_vat_minor == DEPOSIT_INCL_VAT
    services.payment_create(
        actor=rep_actor, data={"invoice_id": in_euros.pk, "amount": Decimal("1226.30")}
    )
    state = selectors.deal_payment_state(rep, won_deal.pk)
    assert [
        (s["currency"], s["status"], s["paid_minor"], s["balance_minor"])
        for s in state["by_currency"]
    ] == [
        ("EUR", "paid", 122630, 0),
        ("USD", "issued", 0, 122630),
    ]
    assert (state["status"], state["currency"], state["invoice_count"], state["balance_minor"]) == (
        "partially_paid",
        "EUR",
        2,
        0,
    )
    data = api_as(rep).get(f"/deals/{won_deal.pk}/payment_state").json()["data"]
    assert (data["status"], data["currency"], data["paid"]) == ("partially_paid", "EUR", 1226.3)
    assert [(row["currency"], row["balance"]) for row in data["by_currency"]] == [
        ("EUR", 0.0),
        ("USD", 1226.3),
    ]


def test_one_currency_keeps_its_single_state(issued_invoice, rep):
    state = selectors.deal_payment_state(rep, issued_invoice.deal_id)
    assert state["by_currency"] == [{k: v for k, v in state.items() if k != "by_currency"}]
    assert (state["status"], state["balance_minor"]) == ("issued", 306575)
