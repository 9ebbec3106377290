"""The billing pages: quotes from a deal or from scratch, lines edited with totals computed by
the server, the quote's life (send, accept, decline), invoices made from it or from the won deal,
issued, paid and credited, lists with filters and exports; an issued invoice refuses every web
path that would change it, and pages stay within a fixed number of queries."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from ruche.billing import services
from ruche.billing.models import Invoice, InvoiceLine, Payment, Quote, QuoteLine
from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Deal
from tests.billing.conftest import CUSTOMER_SIREN
from tests.factories import DealFactory, OrganizationFactory

YEAR = timezone.localdate().year
NNBSP, NBSP = "\u202f", "\xa0"


@pytest.fixture(autouse=True)
def _web(settings):
    settings.LANGUAGE_CODE = "fr"


@pytest.fixture
def web_as(db):
    """`web_as(user)`: a Django client signed in as `user` (tests/web has the same fixture)."""

    def make(user) -> Client:
        signed_in = Client()
        signed_in.force_login(user)
        return signed_in

    return make


@pytest.fixture
def client(web_as, rep):
    return web_as(rep)


def eur(text: str) -> str:
    """ "3 065,75 €" as Babel writes it in French (narrow no-break spaces)."""
    return text.replace(" ", NNBSP).replace(NNBSP + "€", NBSP + "€")


def billing_rows() -> dict:
    """Every billing row and history entry, to check that a refusal changed nothing."""
    return {
        "quotes": list(Quote.objects.order_by("pk").values()),
        "quote_lines": list(QuoteLine.objects.order_by("pk").values()),
        "invoices": list(Invoice.objects.order_by("pk").values()),
        "invoice_lines": list(InvoiceLine.objects.order_by("pk").values()),
        "payments": list(Payment.objects.order_by("pk").values()),
        "history": ChangeRecord.objects.count(),
        "deals": list(Deal.objects.order_by("pk").values("pk", "status", "value_minor")),
    }


# Lines typed in French, at every VAT rate:
# 20 %: 2 x 450,00 less 10 % = 810.00 -> VAT 162.00; 10 %: 1.5 x 80 = 120.00 -> 12.00;
# 5.5 %: 3 x 12.99 = 38.97 -> 2.14335 -> 2.14; 2.1 %: 7.35 -> 0.15435 -> 0.15; 0 %: 100.00.
# Excl. VAT 1 076.32; VAT 176.29; incl. VAT 1 252.61.
LINES_FORM = {
    "name": ["Audit", "Formation", "Livres", "Médicament", "Export hors UE", ""],
    "quantity": ["2", "1,5", "3", "1", "1", ""],
    "unit": ["DAY", "HUR", "C62", "C62", "LS", "C62"],
    "unit_price": ["450,00", "80", "12,99", "7,35", "100", ""],
    "discount_percent": ["10", "0", "", "0", "0", ""],
    "vat_rate": ["20", "10", "5.5", "2.1", "0", "20"],
    "exemption_reason": ["", "", "", "", "Exonération de TVA, art. 262 ter I du CGI", ""],
}


def post_lines(client, url: str, **changes):
    return client.post(url, {**LINES_FORM, "title": "Mission", **changes})


def test_a_quote_from_the_deal_copies_its_lines(client, won_deal):
    response = client.post(f"/billing/deals/{won_deal.pk}/quote/")
    quote = Quote.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/billing/quotes/{quote.pk}/"
    assert [line.name for line in quote.lines.all()] == ["Conseil", "Travaux", "Livres"]
    assert (quote.total_excl_vat_minor, quote.total_vat_minor, quote.total_incl_vat_minor) == (
        258557,
        48018,
        306575,
    )
    html = client.get(response["Location"]).content.decode()
    assert f'<td class="amount" id="total-incl">{eur("3 065,75 €")}</td>' in html


def test_draft_lines_are_edited_and_totals_computed_by_the_server(client, rep_actor, customer):
    quote = services.quote_create(actor=rep_actor, data={"org_id": customer.pk})
    response = post_lines(client, f"/billing/quotes/{quote.pk}/lines/")
    assert response.status_code == 302
    quote.refresh_from_db()
    assert (quote.total_excl_vat_minor, quote.total_vat_minor, quote.total_incl_vat_minor) == (
        107632,
        17629,
        125261,
    )
    assert [(g["rate"], g["base_minor"], g["vat_minor"]) for g in quote.vat_breakdown] == [
        ("20", 81000, 16200),
        ("10", 12000, 1200),
        ("5.5", 3897, 214),
        ("2.1", 735, 15),
        ("0", 10000, 0),
    ]
    assert [(line.unit, line.total_minor) for line in quote.lines.all()] == [
        ("DAY", 81000),
        ("HUR", 12000),
        ("C62", 3897),
        ("C62", 735),
        ("LS", 10000),
    ]
    assert quote.vat_breakdown[-1]["exemption"] == "Exonération de TVA, art. 262 ter I du CGI"
    html = client.get(f"/billing/quotes/{quote.pk}/").content.decode()
    assert f'id="total-vat">{eur("176,29 €")}<' in html
    assert f'id="total-incl">{eur("1 252,61 €")}<' in html


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vat_rate": ["19.6", "10", "5.5", "2.1", "0", "20"]}, "lines[0].vat_rate"),
        ({"quantity": ["deux", "1,5", "3", "1", "1", ""]}, "lines[0].quantity"),
        ({"unit_price": ["450", "", "12,99", "7,35", "100", ""]}, "lines[1].unit_price"),
        ({"discount_percent": ["120", "0", "", "0", "0", ""]}, "lines[0].discount_percent"),
        ({"unit": ["XYZ", "HUR", "C62", "C62", "LS", "C62"]}, "lines[0].unit"),
    ],
)
def test_bad_lines_are_refused_by_field_and_change_nothing(
    client, rep_actor, customer, changes, field
):
    quote = services.quote_create(actor=rep_actor, data={"org_id": customer.pk})
    before = billing_rows()
    response = post_lines(client, f"/billing/quotes/{quote.pk}/lines/", **changes)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.content.decode()
    assert billing_rows() == before


def test_send_accept_marks_the_deal_won_at_the_quote_amount(client, rep_actor, rep, customer):
    deal = DealFactory(owner=rep, org=customer, title="Audit")
    quote = services.quote_create(actor=rep_actor, data={"deal_id": deal.pk})
    post_lines(client, f"/billing/quotes/{quote.pk}/lines/")
    assert client.post(f"/billing/quotes/{quote.pk}/send/").status_code == 302
    assert client.post(f"/billing/quotes/{quote.pk}/accept/").status_code == 302
    quote.refresh_from_db()
    deal.refresh_from_db()
    assert (quote.status, deal.status, deal.value_minor) == ("accepted", "won", 107632)
    declined = client.post(f"/billing/quotes/{quote.pk}/decline/")  # accepted is final
    assert declined.status_code == 409
    response = client.post(f"/billing/quotes/{quote.pk}/invoice/")
    invoice = Invoice.objects.get()
    assert response["Location"] == f"/billing/invoices/{invoice.pk}/"
    assert (invoice.quote_id, invoice.total_incl_vat_minor) == (quote.pk, 125261)


def test_a_sent_quote_is_declined(client, rep_actor, won_deal):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    client.post(f"/billing/quotes/{quote.pk}/send/")
    assert client.post(f"/billing/quotes/{quote.pk}/decline/").status_code == 302
    quote.refresh_from_db()
    assert quote.status == "declined"
    assert client.post(f"/billing/quotes/{quote.pk}/publish/").status_code == 404


def test_invoice_life_on_the_web(client, won_deal):
    """Full invoice of the won deal, issued, partly paid, then credited in full."""
    response = client.post(f"/billing/deals/{won_deal.pk}/invoice/", {"mode": "full"})
    invoice = Invoice.objects.get()
    assert response["Location"] == f"/billing/invoices/{invoice.pk}/"
    assert client.post(f"/billing/invoices/{invoice.pk}/issue/").status_code == 302
    invoice.refresh_from_db()
    assert invoice.number == f"F{YEAR}-00001"
    paid = client.post(
        f"/billing/invoices/{invoice.pk}/payments/",
        {"amount": "1 000,50", "method": "transfer", "reference": "VIR-7"},
    )
    assert paid.status_code == 302
    assert list(Payment.objects.values_list("amount_minor", "method", "reference")) == [
        (100050, "transfer", "VIR-7")
    ]
    too_much = client.post(f"/billing/invoices/{invoice.pk}/payments/", {"amount": "2065,26"})
    assert too_much.status_code == 422
    assert 'data-field="amount"' in too_much.content.decode()
    html = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert f'id="paid">{eur("1 000,50 €")}<' in html
    assert f'id="balance">{eur("2 065,25 €")}<' in html
    response = client.post(f"/billing/invoices/{invoice.pk}/credit-note/")
    note = Invoice.objects.get(kind="credit_note")
    assert response["Location"] == f"/billing/invoices/{note.pk}/"
    assert client.post(f"/billing/invoices/{note.pk}/issue/").status_code == 302
    note.refresh_from_db()
    assert (note.number, note.total_incl_vat_minor) == (f"AV{YEAR}-00001", 306575)
    html = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert "pay-credited" in html


def test_deposit_then_balance_from_the_deal(client, won_deal):
    client.post(
        f"/billing/deals/{won_deal.pk}/invoice/", {"mode": "deposit", "deposit_percent": "30"}
    )
    deposit = Invoice.objects.get()
    client.post(f"/billing/invoices/{deposit.pk}/issue/")
    client.post(f"/billing/deals/{won_deal.pk}/invoice/", {"mode": "balance"})
    balance = Invoice.objects.get(kind="invoice")
    deposit.refresh_from_db()
    assert deposit.kind == "deposit"
    assert deposit.total_excl_vat_minor + balance.total_excl_vat_minor == won_deal.value_minor


def test_over_invoicing_the_deal_is_refused_on_the_web(client, won_deal):
    client.post(f"/billing/deals/{won_deal.pk}/invoice/", {"mode": "full"})
    before = billing_rows()
    response = client.post(
        f"/billing/deals/{won_deal.pk}/invoice/", {"mode": "deposit", "deposit_percent": "10"}
    )
    assert response.status_code == 422
    assert 'data-field="deposit_percent"' in response.content.decode()
    assert billing_rows() == before


def test_an_open_deal_is_not_invoiced(client, rep, customer):
    deal = DealFactory(owner=rep, org=customer)
    response = client.post(f"/billing/deals/{deal.pk}/invoice/", {"mode": "full"})
    assert response.status_code == 422
    assert Invoice.objects.count() == 0


# An issued invoice is frozen on every web path ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("lines/", LINES_FORM),
        ("lines/", {"name": [], "title": "Vide"}),
        ("customer/", {"org_id": "OTHER"}),
        ("delete/", {}),
        ("issue/", {}),
    ],
)
def test_an_issued_invoice_refuses_every_web_change(client, issued_invoice, rep, path, data):
    other = OrganizationFactory(owner=rep, name="Autre SA", siren=CUSTOMER_SIREN)
    data = {k: (str(other.pk) if v == "OTHER" else v) for k, v in data.items()}
    before = billing_rows()
    response = client.post(f"/billing/invoices/{issued_invoice.pk}/{path}", data)
    assert response.status_code == 409
    assert "F" + str(YEAR) in response.content.decode()
    assert billing_rows() == before


def test_a_draft_invoice_is_edited_and_deleted(client, rep_actor, customer, rep):
    invoice = services.invoice_create(actor=rep_actor, data={"org_id": customer.pk})
    post_lines(client, f"/billing/invoices/{invoice.pk}/lines/")
    invoice.refresh_from_db()
    assert invoice.total_incl_vat_minor == 125261
    other = OrganizationFactory(owner=rep, name="Autre SA")
    client.post(f"/billing/invoices/{invoice.pk}/customer/", {"org_id": other.pk})
    invoice.refresh_from_db()
    assert (invoice.org_id, invoice.customer_name) == (other.pk, "Autre SA")
    assert client.post(f"/billing/invoices/{invoice.pk}/delete/").status_code == 302
    assert Invoice.objects.count() == InvoiceLine.objects.count() == 0


def test_documents_from_scratch(client, customer):
    response = client.post("/billing/new/quote/", {"org_id": customer.pk, "title": "Devis libre"})
    quote = Quote.objects.get()
    assert response["Location"] == f"/billing/quotes/{quote.pk}/"
    assert (quote.customer_name, quote.title, quote.deal_id) == (
        "Atelier Dupont SARL",
        "Devis libre",
        None,
    )
    client.post("/billing/new/invoice/", {"org_id": customer.pk})
    assert Invoice.objects.get().customer_siren == CUSTOMER_SIREN
    refused = client.post("/billing/new/invoice/", {"org_id": "999999"})
    assert refused.status_code == 422
    assert 'data-field="org_id"' in refused.content.decode()
    assert client.get("/billing/new/quote/").status_code == 200
    assert client.get("/billing/new/other/").status_code == 404


def test_pdf_and_xml_downloads(client, issued_invoice, rep_actor, won_deal):
    pdf = client.get(f"/billing/invoices/{issued_invoice.pk}/pdf/")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    xml = client.get(f"/billing/invoices/{issued_invoice.pk}/xml/")
    assert (xml.status_code, xml["Content-Type"]) == (200, "application/xml")
    assert f"<ram:ID>F{YEAR}-00001</ram:ID>".encode() in xml.content
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    response = client.get(f"/billing/quotes/{quote.pk}/pdf/")
    assert response["Content-Disposition"] == f'attachment; filename="{quote.reference}.pdf"'


def test_a_draft_has_no_xml(client, won_deal, rep_actor):
    draft = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert client.get(f"/billing/invoices/{draft.pk}/xml/").status_code == 409


def test_other_teams_documents_are_not_found(web_as, other_rep, issued_invoice, rep_actor):
    Deal.objects.filter(pk=issued_invoice.deal_id).update(visible_to=Visibility.TEAM)
    quote = services.quote_create(actor=rep_actor, data={"deal_id": issued_invoice.deal_id})
    client = web_as(other_rep)
    for url in (
        f"/billing/invoices/{issued_invoice.pk}/",
        f"/billing/invoices/{issued_invoice.pk}/pdf/",
        f"/billing/quotes/{quote.pk}/",
    ):
        assert client.get(url).status_code == 404
    assert client.post(f"/billing/quotes/{quote.pk}/send/").status_code == 404
    assert "F" + str(YEAR) not in client.get("/billing/invoices/").content.decode()


# Lists, filters and exports -------------------------------------------------------------------


@pytest.fixture
def three_invoices(issued_invoice, rep_actor, rep):
    """The deal's issued invoice (3 065.75, paid 1 000.00) and two drafts for another customer."""
    services.payment_create(
        actor=rep_actor, data={"invoice_id": issued_invoice.pk, "amount": Decimal("1000")}
    )
    other = OrganizationFactory(owner=rep, name="Zèbre SAS")
    for price in ("10", "20"):
        services.invoice_create(
            actor=rep_actor,
            data={
                "org_id": other.pk,
                "lines": [{"name": "Frais", "unit_price": Decimal(price), "vat_rate": 20}],
            },
        )
    return other


def test_invoice_list_filters_by_status_and_customer(client, three_invoices, customer):
    html = client.get("/billing/invoices/").content.decode()
    assert html.count('<tr id="invoice-') == 3
    html = client.get("/billing/invoices/?status=draft").content.decode()
    assert html.count('<tr id="invoice-') == 2
    html = client.get(f"/billing/invoices/?customer={customer.pk}").content.decode()
    assert html.count('<tr id="invoice-') == 1
    assert f"{eur('2 065,75 €')}</td>" in html
    html = client.get("/billing/invoices/?status=partially_paid").content.decode()
    assert html.count('<tr id="invoice-') == 1


def test_invoice_csv_and_xlsx_exports(client, three_invoices, customer):
    response = client.get(f"/billing/invoices/?customer={customer.pk}&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="invoices.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["number", "kind", "status"]
    assert rows[1:] == [
        [
            f"F{YEAR}-00001",
            "invoice",
            "partially_paid",
            str(timezone.localdate()),
            str(timezone.localdate() + dt.timedelta(days=30)),
            "Atelier Dupont SARL",
            str(Invoice.objects.get(number=f"F{YEAR}-00001").deal_id),
            "EUR",
            "2585.57",
            "480.18",
            "3065.75",
            "1000.00",
            "0.00",
            "2065.75",
        ]
    ]
    response = client.get("/billing/invoices/?status=draft&format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert [(row[5], row[10]) for row in values[1:]] == [("Zèbre SAS", 24), ("Zèbre SAS", 12)]


def test_quote_list_filters_and_export(client, rep_actor, won_deal, customer):
    first = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    services.quote_send(actor=rep_actor, quote_id=first.pk)
    services.quote_create(actor=rep_actor, data={"org_id": customer.pk})
    html = client.get("/billing/quotes/?status=sent").content.decode()
    assert html.count('<tr id="quote-') == 1
    response = client.get("/billing/quotes/?status=sent&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0:3] + row[-3:] for row in rows[1:]] == [
        [f"D{YEAR}-00001", "1", "sent", "2585.57", "480.18", "3065.75"]
    ]


def test_credit_note_list(client, issued_invoice, rep_actor):
    note = services.credit_note_create(actor=rep_actor, data={"invoice_id": issued_invoice.pk})
    html = client.get("/billing/credit-notes/").content.decode()
    assert f'<tr id="invoice-{note.pk}">' in html
    assert html.count('<tr id="invoice-') == 1


# The deal page links here ----------------------------------------------------------------------


def test_the_deal_page_links_to_the_billing_pages(client, issued_invoice, rep_actor):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": issued_invoice.deal_id})
    html = client.get(f"/deals/{issued_invoice.deal_id}/").content.decode()
    assert f'<a href="/billing/quotes/{quote.pk}/">Afficher</a>' in html
    assert f'<a href="/billing/invoices/{issued_invoice.pk}/">Afficher</a>' in html
    assert f'action="/billing/deals/{issued_invoice.deal_id}/quote/"' in html
    assert f'action="/billing/deals/{issued_invoice.deal_id}/invoice/"' in html


# Bounded queries ------------------------------------------------------------------------------


def test_list_pages_do_not_grow_with_rows(
    client, rep_actor, customer, django_assert_max_num_queries
):
    def add(count):
        for _ in range(count):
            services.invoice_create(
                actor=rep_actor,
                data={
                    "org_id": customer.pk,
                    "lines": [{"name": "A", "unit_price": 1, "vat_rate": 20}],
                },
            )
            services.quote_create(
                actor=rep_actor,
                data={
                    "org_id": customer.pk,
                    "lines": [{"name": "A", "unit_price": 1, "vat_rate": 20}],
                },
            )

    add(1)
    client.get("/billing/invoices/")
    counts = {}
    for url in ("/billing/invoices/", "/billing/quotes/", "/billing/credit-notes/"):
        with django_assert_max_num_queries(12) as captured:
            client.get(url)
        counts[url] = len(captured.captured_queries)
    add(5)
    for url, count in counts.items():
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200


def test_detail_pages_do_not_grow_with_lines(
    client, rep_actor, customer, won_deal, django_assert_max_num_queries
):
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    invoice = services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    quote = services.quote_create(actor=rep_actor, data={"org_id": customer.pk})
    services.payment_create(actor=rep_actor, data={"invoice_id": invoice.pk, "amount": 1})
    client.get(f"/billing/invoices/{invoice.pk}/")
    with django_assert_max_num_queries(14) as on_invoice:
        client.get(f"/billing/invoices/{invoice.pk}/")
    with django_assert_max_num_queries(12) as on_quote:
        client.get(f"/billing/quotes/{quote.pk}/")
    many = [{"name": f"L{n}", "unit_price": n + 1, "vat_rate": 20} for n in range(20)]
    services.quote_update(actor=rep_actor, quote_id=quote.pk, data={"lines": many})
    for _ in range(4):
        services.payment_create(actor=rep_actor, data={"invoice_id": invoice.pk, "amount": 1})
    with django_assert_max_num_queries(len(on_invoice.captured_queries)):
        assert client.get(f"/billing/invoices/{invoice.pk}/").status_code == 200
    with django_assert_max_num_queries(len(on_quote.captured_queries)):
        html = client.get(f"/billing/quotes/{quote.pk}/").content.decode()
    assert html.count('name="name"') == 22


def test_a_draft_quote_changes_customer_and_is_deleted(client, rep_actor, customer, rep):
    quote = services.quote_create(actor=rep_actor, data={"org_id": customer.pk})
    other = OrganizationFactory(owner=rep, name="Autre SA")
    client.post(f"/billing/quotes/{quote.pk}/customer/", {"org_id": other.pk})
    quote.refresh_from_db()
    assert (quote.org_id, quote.customer_name) == (other.pk, "Autre SA")
    response = client.post(f"/billing/quotes/{quote.pk}/delete/")
    assert response["Location"] == "/billing/quotes/"
    assert Quote.objects.count() == QuoteLine.objects.count() == 0


def test_a_sent_quote_is_neither_edited_nor_deleted(client, rep_actor, won_deal):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    before = billing_rows()
    assert post_lines(client, f"/billing/quotes/{quote.pk}/lines/").status_code == 409
    assert client.post(f"/billing/quotes/{quote.pk}/delete/").status_code == 409
    assert billing_rows() == before
    response = client.post(f"/billing/quotes/{quote.pk}/revise/")
    revision = Quote.objects.get(revision=2)
    assert response["Location"] == f"/billing/quotes/{revision.pk}/"
