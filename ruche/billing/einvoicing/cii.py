"""The Factur-X XML of an invoice, deposit invoice or credit note: UN/CEFACT CII D16B, profile
EN 16931 (urn:cen.eu:en16931:2017). Every amount comes from the stored document (ruche.billing
.totals), so the XML, the PDF and the API agree to the cent."""

from decimal import Decimal

from django.utils import timezone
from lxml import etree

from ruche.billing.models import BillingProfile, Invoice, Nature
from ruche.billing.totals import format_rate
from ruche.core.money import to_major

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
EN16931 = "urn:cen.eu:en16931:2017"
# Cadre de facturation of the 2026 reform: B1 goods, S1 services, M1 both.
BUSINESS_PROCESS = {Nature.GOODS: "B1", Nature.SERVICES: "S1", Nature.MIXED: "M1"}
# VAT on debits: VAT is due on the invoice date (UNTDID 2005 code 5 in CII).
VAT_ON_DEBITS_CODE = "5"


def _el(parent, tag: str, text=None, **attrs):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", **attrs)
    if text is not None:
        element.text = str(text)
    return element


def amount(minor: int, currency: str) -> str:
    return f"{to_major(minor, currency):.2f}"


def decimal_text(value: Decimal) -> str:
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _date(parent, tag: str, value, fmt_ns: str = "udt") -> None:
    holder = _el(parent, tag)
    _el(holder, f"{fmt_ns}:DateTimeString", value.strftime("%Y%m%d"), format="102")


def seller_of(document) -> dict:
    """The seller as snapshotted when the document was issued (or sent); a draft shows the
    current profile."""
    return document.seller or BillingProfile.current().snapshot()


def legal_notes(invoice: Invoice, seller: dict) -> list[tuple[str, str]]:
    """The mentions French law requires, as (UNTDID 4451 subject code, text)."""
    rate = Decimal(seller.get("late_payment_rate") or "0")
    notes = [
        ("", f"Nature de l'opération : {Nature(invoice.nature).label}."),
        (
            "PMD",
            f"En cas de retard de paiement, pénalités au taux annuel de {format_rate(rate)} %"
            " (art. L441-10 du Code de commerce).",
        ),
        ("AAB", "Pas d'escompte pour paiement anticipé."),
    ]
    if invoice.customer_is_business:
        fee = amount(seller.get("recovery_fee_minor") or 4000, invoice.currency)
        notes.append(
            (
                "PMT",
                f"Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : "
                f"{fee} {invoice.currency} (art. D441-5 du Code de commerce).",
            )
        )
    if invoice.vat_on_debits:
        notes.append(("", "Option pour le paiement de la taxe d'après les débits."))
    if invoice.kind == Invoice.Kind.DEPOSIT:
        notes.append(("", f"Facture d'acompte de {format_rate(invoice.deposit_percent)} %."))
    if invoice.notes:
        notes.append(("", invoice.notes))
    return notes


def seller_description(seller: dict, currency: str) -> str:
    parts = [seller.get("legal_form") or ""]
    if seller.get("share_capital_minor") is not None:
        parts.append(f"au capital de {amount(seller['share_capital_minor'], currency)} {currency}")
    if seller.get("rcs"):
        parts.append(seller["rcs"])
    return " ".join(part for part in parts if part)


def _address(parent, postcode: str, line: str, city: str, country: str) -> None:
    address = _el(parent, "ram:PostalTradeAddress")
    if postcode:
        _el(address, "ram:PostcodeCode", postcode)
    if line:
        _el(address, "ram:LineOne", line)
    if city:
        _el(address, "ram:CityName", city)
    _el(address, "ram:CountryID", country or "FR")


def _line(transaction, line, index: int, currency: str) -> None:
    item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
    document = _el(item, "ram:AssociatedDocumentLineDocument")
    _el(document, "ram:LineID", index)
    product = _el(item, "ram:SpecifiedTradeProduct")
    _el(product, "ram:Name", line.name)
    if line.description:
        _el(product, "ram:Description", line.description)
    agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
    gross = to_major(line.unit_price_minor, currency)
    net = gross * (100 - Decimal(line.discount_percent)) / 100
    if line.discount_percent:
        gross_price = _el(agreement, "ram:GrossPriceProductTradePrice")
        _el(gross_price, "ram:ChargeAmount", decimal_text(gross))
        allowance = _el(gross_price, "ram:AppliedTradeAllowanceCharge")
        indicator = _el(allowance, "ram:ChargeIndicator")
        _el(indicator, "udt:Indicator", "false")
        _el(allowance, "ram:ActualAmount", decimal_text(gross - net))
    net_price = _el(agreement, "ram:NetPriceProductTradePrice")
    _el(net_price, "ram:ChargeAmount", decimal_text(net))
    delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
    _el(delivery, "ram:BilledQuantity", decimal_text(line.quantity), unitCode=line.unit)
    settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", "S" if line.vat_rate else "E")
    _el(tax, "ram:RateApplicablePercent", decimal_text(line.vat_rate))
    summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _el(summation, "ram:LineTotalAmount", amount(line.total_minor, currency))


def invoice_xml(invoice: Invoice) -> bytes:
    """The CII XML of an issued invoice (a draft gets "DRAFT" as its number)."""
    currency = invoice.currency
    seller = seller_of(invoice)
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, "rsm:ExchangedDocumentContext")
    process = _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _el(process, "ram:ID", BUSINESS_PROCESS[invoice.nature])
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", EN16931)

    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", invoice.number or "DRAFT")
    _el(header, "ram:TypeCode", invoice.type_code)
    _date(header, "ram:IssueDateTime", invoice.issue_date or _today())
    for subject, text in legal_notes(invoice, seller):
        note = _el(header, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        if subject:
            _el(note, "ram:SubjectCode", subject)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(invoice.lines.all(), start=1):
        _line(transaction, line, index, currency)

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller_party = _el(agreement, "ram:SellerTradeParty")
    _el(seller_party, "ram:Name", seller.get("legal_name") or "")
    description = seller_description(seller, currency)
    if description:
        _el(seller_party, "ram:Description", description)
    if seller.get("siren"):
        legal = _el(seller_party, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", seller["siren"], schemeID="0002")
        if seller.get("trade_name"):
            _el(legal, "ram:TradingBusinessName", seller["trade_name"])
    _address(
        seller_party,
        seller.get("postal_code", ""),
        seller.get("address", ""),
        seller.get("city", ""),
        seller.get("country", "FR"),
    )
    if seller.get("email"):
        uri = _el(seller_party, "ram:URIUniversalCommunication")
        _el(uri, "ram:URIID", seller["email"], schemeID="EM")
    if seller.get("vat_number"):
        registration = _el(seller_party, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", seller["vat_number"], schemeID="VA")

    buyer = _el(agreement, "ram:BuyerTradeParty")
    _el(buyer, "ram:Name", invoice.customer_name)
    if invoice.customer_siren:
        legal = _el(buyer, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", invoice.customer_siren, schemeID="0002")
    _address(
        buyer,
        invoice.customer_postal_code,
        invoice.customer_address,
        invoice.customer_city,
        invoice.customer_country,
    )
    if invoice.customer_vat_number:
        registration = _el(buyer, "ram:SpecifiedTaxRegistration")
        _el(registration, "ram:ID", invoice.customer_vat_number, schemeID="VA")

    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    if invoice.has_delivery_address:
        ship_to = _el(delivery, "ram:ShipToTradeParty")
        if invoice.delivery_name:
            _el(ship_to, "ram:Name", invoice.delivery_name)
        _address(
            ship_to,
            invoice.delivery_postal_code,
            invoice.delivery_address,
            invoice.delivery_city,
            invoice.delivery_country or invoice.customer_country,
        )
    if invoice.delivery_date:
        event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(event, "ram:OccurrenceDateTime", invoice.delivery_date)

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    if invoice.number and invoice.kind != Invoice.Kind.CREDIT_NOTE:
        _el(settlement, "ram:PaymentReference", invoice.number)
    _el(settlement, "ram:InvoiceCurrencyCode", currency)
    if seller.get("iban") and invoice.kind != Invoice.Kind.CREDIT_NOTE:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", "58")
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", seller["iban"])
        if seller.get("bic"):
            bank = _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            _el(bank, "ram:BICID", seller["bic"])
    for group in invoice.vat_breakdown:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", amount(group["vat_minor"], currency))
        _el(tax, "ram:TypeCode", "VAT")
        if group["category"] == "E":
            _el(tax, "ram:ExemptionReason", group["exemption"])
        _el(tax, "ram:BasisAmount", amount(group["base_minor"], currency))
        _el(tax, "ram:CategoryCode", group["category"])
        if invoice.vat_on_debits and group["category"] == "S":
            _el(tax, "ram:DueDateTypeCode", VAT_ON_DEBITS_CODE)
        _el(tax, "ram:RateApplicablePercent", group["rate"])
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        _el(terms, "ram:Description", f"Avoir sur la facture {invoice.credited_invoice.number}.")
    else:
        _el(terms, "ram:Description", payment_terms_text(invoice))
        if invoice.due_date:
            _date(terms, "ram:DueDateDateTime", invoice.due_date)
    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(totals, "ram:LineTotalAmount", amount(invoice.total_excl_vat_minor, currency))
    _el(totals, "ram:TaxBasisTotalAmount", amount(invoice.total_excl_vat_minor, currency))
    _el(
        totals,
        "ram:TaxTotalAmount",
        amount(invoice.total_vat_minor, currency),
        currencyID=currency,
    )
    _el(totals, "ram:GrandTotalAmount", amount(invoice.total_incl_vat_minor, currency))
    _el(totals, "ram:DuePayableAmount", amount(invoice.total_incl_vat_minor, currency))
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        original = invoice.credited_invoice
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", original.number)
        _date(reference, "ram:FormattedIssueDateTime", original.issue_date, fmt_ns="qdt")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def payment_terms_text(invoice: Invoice) -> str:
    days = invoice.payment_terms_days
    due = invoice.due_date.strftime("%d/%m/%Y") if invoice.due_date else ""
    text = f"Paiement à {days} jours" if days else "Paiement à réception"
    return f"{text}, au plus tard le {due}." if due else f"{text}."


def _today():
    return timezone.localdate()
