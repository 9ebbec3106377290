"""The payment state on the board cards and the deal page's "Facturation" section: exact badge
per state, exact figures, visibility through the deal, and a bounded number of queries."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from ruche.billing import selectors
from ruche.billing import services as billing
from ruche.core.models import Visibility
from ruche.pipelines import services as deal_services
from ruche.web import formatting
from tests.billing import conftest as billing_fixtures
from tests.billing.conftest import MIXED_LINES, add_lines
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db
# The billing fixtures: a seller profile, a French business customer, a won deal, its invoice.
profile = billing_fixtures.profile
customer = billing_fixtures.customer
won_deal = billing_fixtures.won_deal
issued_invoice = billing_fixtures.issued_invoice
NNBSP, NBSP = "\u202f", "\xa0"
TOTAL = 306575  # 2 585,57 HT + 444,44 + 35,00 + 0,74 of VAT, from MIXED_LINES


def eur(text: str) -> str:
    return text.replace(" ", NNBSP).replace(NNBSP + "€", NBSP + "€")


def column_url(deal) -> str:
    return f"/pipelines/{deal.pipeline_id}/board/stages/{deal.stage_id}/?status=won"


def card(html: str, deal) -> str:
    start = html.index(f'id="card-{deal.pk}"')
    return html[start : html.index("</article>", start)]


def pay(actor, invoice, amount: str):
    billing.payment_create(
        actor=actor,
        data={
            "invoice_id": invoice.pk,
            "amount": Decimal(amount),
            "method": "transfer",
            "reference": "VIR-1",
            "date": timezone.localdate(),
        },
    )


def later(monkeypatch, days: int) -> None:
    """Move the billing selectors' calendar `days` ahead (the invoice is due in 30 days)."""
    day = timezone.localdate() + dt.timedelta(days=days)
    monkeypatch.setattr(selectors, "timezone", SimpleNamespace(localdate=lambda: day))


@pytest.mark.parametrize(
    ("paid", "days", "badge", "status"),
    [
        (None, 0, "Facturée", "issued"),
        ("1000.00", 0, "Partiellement payée", "partially_paid"),
        ("3065.75", 0, "Payée", "paid"),
        ("1000.00", 31, "En retard", "overdue"),
        ("3065.75", 31, "Payée", "paid"),
    ],
)
def test_the_card_shows_the_payment_state(
    web_as, rep, rep_actor, issued_invoice, monkeypatch, paid, days, badge, status
):
    assert issued_invoice.total_incl_vat_minor == TOTAL
    if paid:
        pay(rep_actor, issued_invoice, paid)
    later(monkeypatch, days)
    html = web_as(rep).get(column_url(issued_invoice.deal)).content.decode()
    assert f'<span class="badge payment pay-{status}" title="Paiement">{badge}</span>' in card(
        html, issued_invoice.deal
    )


def test_a_deal_without_issued_invoice_has_no_badge(web_as, rep, rep_actor, won_deal):
    billing.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})  # a draft
    html = web_as(rep).get(column_url(won_deal)).content.decode()
    assert "badge payment" not in card(html, won_deal)


def test_the_deal_page_lists_quotes_and_invoices_to_the_cent(
    web_as, rep, rep_actor, won_deal, monkeypatch
):
    quote = billing.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    invoice = billing.invoice_issue(
        actor=rep_actor,
        invoice_id=billing.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk}).pk,
    )
    pay(rep_actor, invoice, "1234.56")
    html = web_as(rep).get(f"/deals/{won_deal.pk}/").content.decode()
    section = html[
        html.index('id="deal-billing"') : html.index("</section>", html.index('id="deal-billing"'))
    ]
    assert "Facturation" in section
    assert '<span class="badge payment pay-partially_paid">Partiellement payée</span>' in section
    assert (
        f'<tr id="quote-{quote.pk}"><td>{quote.reference}</td><td>Brouillon</td>'
        f'<td class="amount">{eur("3 065,75 €")}</td>'
        f"<td>{formatting.date(quote.valid_until)}</td>"
        f'<td><a href="/api/v2/quotes/{quote.pk}/pdf" target="_blank" rel="noopener">PDF</a>'
    ) in section
    assert (
        f'<tr id="invoice-{invoice.pk}"><td>Facture {invoice.number}</td>'
        '<td><span class="badge payment pay-partially_paid">Partiellement payée</span></td>'
        f'<td class="amount">{eur("3 065,75 €")}</td><td class="amount">{eur("1 234,56 €")}</td>'
        f"<td>{formatting.date(invoice.due_date)}</td>"
        f'<td><a href="/api/v2/invoices/{invoice.pk}/pdf" target="_blank" rel="noopener">PDF</a>'
    ) in section
    assert invoice.due_date == timezone.localdate() + dt.timedelta(days=30)
    pdf = web_as(rep).get(f"/api/v2/invoices/{invoice.pk}/pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")


def test_a_deal_without_documents_says_so(web_as, rep):
    deal = DealFactory(owner=rep)
    html = web_as(rep).get(f"/deals/{deal.pk}/").content.decode()
    assert "Aucun devis ni facture pour l\u2019instant." in html


def test_a_rep_does_not_see_another_teams_invoice(
    web_as, rep, other_rep, other_rep_actor, customer, profile
):
    deal = DealFactory(owner=other_rep, org=customer, visible_to=Visibility.OWNER)
    add_lines(other_rep_actor, deal, MIXED_LINES)
    deal_services.deal_mark_won(actor=other_rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    invoice = billing.invoice_issue(
        actor=other_rep_actor,
        invoice_id=billing.invoice_create(actor=other_rep_actor, data={"deal_id": deal.pk}).pk,
    )
    client = web_as(rep)
    assert client.get(f"/deals/{deal.pk}/").status_code == 404
    html = client.get(column_url(deal)).content.decode()
    assert f'id="card-{deal.pk}"' not in html and "badge payment" not in html
    assert selectors.deal_payment_states(rep, [deal.pk]) == {}
    assert selectors.deal_billing_documents(rep, deal.pk) == {"quotes": [], "invoices": []}
    assert client.get(f"/api/v2/invoices/{invoice.pk}/pdf").status_code == 404
    owner_html = web_as(other_rep).get(column_url(deal)).content.decode()
    assert "Facturée" in card(owner_html, deal)


def test_queries_do_not_grow_with_the_invoiced_cards(
    web_as, rep, rep_actor, won_deal, django_assert_max_num_queries
):
    client = web_as(rep)
    invoice = billing.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 40}
    )
    billing.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    client.get(column_url(won_deal))  # session and company caches
    client.get(f"/deals/{won_deal.pk}/")
    with django_assert_max_num_queries(7) as one_column:
        client.get(column_url(won_deal))
    with django_assert_max_num_queries(18) as one_page:
        client.get(f"/deals/{won_deal.pk}/")
    for _ in range(3):
        deal = DealFactory(owner=rep, org=won_deal.org, stage=won_deal.stage)
        add_lines(rep_actor, deal, MIXED_LINES[:1])
        deal_services.deal_mark_won(actor=rep_actor, deal_id=deal.pk)
        draft = billing.invoice_create(actor=rep_actor, data={"deal_id": deal.pk})
        billing.invoice_issue(actor=rep_actor, invoice_id=draft.pk)
        billing.invoice_create(
            actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 10}
        )
    with django_assert_max_num_queries(len(one_column.captured_queries)):
        html = client.get(column_url(won_deal)).content.decode()
    assert html.count("badge payment pay-issued") == 4
    with django_assert_max_num_queries(len(one_page.captured_queries)):
        html = client.get(f"/deals/{won_deal.pk}/").content.decode()
    assert html.count('<tr id="invoice-') == 4
