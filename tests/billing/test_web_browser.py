"""In a real browser (Debian's chromium through Playwright): from the deal page to a paid
invoice, through the quote's lines form, its acceptance and the invoice's issue."""

import re

from ruche.billing.models import Invoice, Quote
from tests.browser import BROWSER_TEST
from tests.factories import DealFactory

pytestmark = BROWSER_TEST


def test_from_the_deal_page_to_a_paid_invoice(page_as, rep, customer, profile):

    deal = DealFactory(owner=rep, org=customer, title="Site vitrine")
    page = page_as(rep)
    page.set_default_timeout(30_000)  # a loaded machine serves the first page slowly
    page.goto(f"/deals/{deal.pk}/", wait_until="domcontentloaded")
    page.get_by_role("button", name=re.compile("Nouveau devis à partir des lignes")).click()
    page.wait_for_url(re.compile(r"/billing/quotes/\d+/$"))
    row = page.locator("table.lines-edit tbody tr").first
    row.get_by_label("Description").fill("Maquettes")
    row.get_by_label("Quantité").fill("3")
    row.get_by_label("Prix unitaire HT").fill("1 234,56")
    row.get_by_label("Remise (%)").fill("10")
    row.get_by_label("Taux de TVA (%)").select_option("20")
    page.get_by_role("button", name="Enregistrer et recalculer").click()
    # 3 x 1 234.56 less 10 % = 3 333.312 -> 3 333.31; VAT 666.662 -> 666.66; 3 999.97.
    assert page.locator("#total-incl").inner_text().replace("\u202f", " ") == "3 999,97\xa0€"
    page.get_by_role("button", name="Marquer comme envoyé").click()
    page.get_by_role("button", name="Accepter").click()
    deal.refresh_from_db()
    assert (deal.status, deal.value_minor) == ("won", 333331)
    page.get_by_role("button", name="Établir la facture").click()
    page.wait_for_url(re.compile(r"/billing/invoices/\d+/$"))
    page.get_by_role("button", name="Émettre").click()
    invoice = Invoice.objects.get()
    page.get_by_role("heading", name=re.compile(invoice.number)).wait_for()
    page.get_by_label("Montant").fill("3 999,97")
    page.get_by_role("button", name="Enregistrer le règlement").click()
    assert page.locator("#balance").inner_text().startswith("0,00")
    assert Quote.objects.get().status == "accepted"
