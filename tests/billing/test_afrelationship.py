"""The embedded Factur-X XML's /AFRelationship, checked against the specification
(docs/billing.md, "Why /Alternative"): every issued kind of document carries one embedded file,
factur-x.xml, related to the PDF as /Alternative, listed in the catalog's /AF array, with the XMP
declaring the EN 16931 conformance level. The library's own default would be /Data."""

import inspect
import io

import facturx
import pytest
from pypdf import PdfReader

from ruche.billing import services
from ruche.billing.einvoicing.pdf import AF_RELATIONSHIP, invoice_pdf


def issued(kind: str, deal, invoice, actor):
    if kind == "invoice":
        return invoice
    if kind == "credit_note":
        note = services.credit_note_create(actor=actor, data={"invoice_id": invoice.pk})
        return services.invoice_issue(actor=actor, invoice_id=note.pk)
    data = {"deal_id": deal.pk, "mode": "deposit", "deposit_percent": 30}
    draft = services.invoice_create(actor=actor, data=data)
    return services.invoice_issue(actor=actor, invoice_id=draft.pk)


@pytest.mark.parametrize("kind", ["invoice", "deposit", "credit_note"])
def test_every_issued_document_embeds_its_xml_as_alternative(won_deal, rep_actor, kind):
    invoice = None
    if kind != "deposit":
        draft = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
        invoice = services.invoice_issue(actor=rep_actor, invoice_id=draft.pk)
    document = issued(kind, won_deal, invoice, rep_actor)
    root = PdfReader(io.BytesIO(invoice_pdf(document))).trailer["/Root"]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert len(names) == 2  # one file: its name, then its file specification
    spec = names[1].get_object()
    assert (names[0], spec["/F"], spec["/AFRelationship"]) == (
        "factur-x.xml",
        "factur-x.xml",
        "/Alternative",
    )
    assert [entry.get_object()["/AFRelationship"] for entry in root["/AF"]] == ["/Alternative"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp


def test_the_value_is_given_because_the_library_default_is_data():
    default = inspect.signature(facturx.generate_from_binary).parameters["afrelationship"].default
    assert (default, AF_RELATIONSHIP) == ("data", "alternative")
