"""A won deal is never invoiced beyond its value excluding VAT (2 585.57 EUR for `won_deal`):
a second full invoice, deposits plus a balance above the total, or draft lines raised past it
are refused with the field that made the amount, and nothing changes."""

from decimal import Decimal

import pytest

from ruche.billing import services
from ruche.billing.models import Invoice, InvoiceLine
from ruche.core.exceptions import ValidationError
from ruche.core.models import ChangeRecord


def rows() -> dict:
    return {
        "invoices": list(Invoice.objects.order_by("pk").values()),
        "lines": list(InvoiceLine.objects.order_by("pk").values()),
        "history": ChangeRecord.objects.count(),
    }


def refused(actor, data: dict) -> ValidationError:
    before = rows()
    with pytest.raises(ValidationError) as error:
        services.invoice_create(actor=actor, data=data)
    assert rows() == before
    return error.value


def deposit(actor, deal, percent) -> Invoice:
    data = {"deal_id": deal.pk, "mode": "deposit", "deposit_percent": percent}
    return services.invoice_create(actor=actor, data=data)


def test_a_second_full_invoice_is_refused(won_deal, rep_actor):
    services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    error = refused(rep_actor, {"deal_id": won_deal.pk})
    assert error.field_errors == {
        "deal_id": f"Deal {won_deal.pk} is worth 2585.57 EUR excl. VAT; with this invoice it "
        "would be invoiced 5171.14 EUR, 2585.57 EUR too much."
    }


def test_deposits_beyond_the_total_are_refused(won_deal, rep_actor):
    first = deposit(rep_actor, won_deal, 60)
    assert first.total_excl_vat_minor == 155134  # 1 333.33 + 209.98 + 8.03
    error = refused(rep_actor, {"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 41})
    assert list(error.field_errors) == ["deposit_percent"]
    assert error.field_errors["deposit_percent"].endswith("2611.43 EUR, 25.86 EUR too much.")
    second = deposit(rep_actor, won_deal, 40)
    assert first.total_excl_vat_minor + second.total_excl_vat_minor == 258557


def test_deposit_then_balance_is_exactly_the_total_and_nothing_more(won_deal, rep_actor):
    issued = services.invoice_issue(actor=rep_actor, invoice_id=deposit(rep_actor, won_deal, 30).pk)
    balance = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "balance"}
    )
    assert issued.total_excl_vat_minor + balance.total_excl_vat_minor == 258557
    assert list(refused(rep_actor, {"deal_id": won_deal.pk, "mode": "balance"}).field_errors) == [
        "deal_id"
    ]
    error = refused(rep_actor, {"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 1})
    assert list(error.field_errors) == ["deposit_percent"]


def test_a_balance_with_an_undeducted_draft_deposit_is_refused(won_deal, rep_actor):
    deposit(rep_actor, won_deal, 30)  # a draft: not deducted from the balance
    assert list(refused(rep_actor, {"deal_id": won_deal.pk, "mode": "balance"}).field_errors) == [
        "deal_id"
    ]


def test_lines_raised_past_the_deal_value_are_refused(won_deal, rep_actor):
    invoice = deposit(rep_actor, won_deal, 50)
    before = rows()
    with pytest.raises(ValidationError) as error:
        services.invoice_update(
            actor=rep_actor,
            invoice_id=invoice.pk,
            data={"lines": [{"name": "Tout", "unit_price": Decimal("2585.58"), "vat_rate": 20}]},
        )
    assert list(error.value.field_errors) == ["lines"]
    assert rows() == before
    services.invoice_update(
        actor=rep_actor,
        invoice_id=invoice.pk,
        data={"lines": [{"name": "Tout", "unit_price": Decimal("2585.57"), "vat_rate": 20}]},
    )


def test_a_credited_invoice_frees_its_amount(won_deal, rep_actor):
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    note = services.credit_note_create(actor=rep_actor, data={"invoice_id": invoice.pk})
    refused(rep_actor, {"deal_id": won_deal.pk})  # the credit note is still a draft
    services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    again = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert again.total_excl_vat_minor == 258557


def test_a_quote_invoice_after_a_full_invoice_is_refused(won_deal, rep_actor):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    services.quote_accept(actor=rep_actor, quote_id=quote.pk)
    services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert list(refused(rep_actor, {"quote_id": quote.pk}).field_errors) == ["quote_id"]
