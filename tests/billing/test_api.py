"""/api/v2 billing routes: the envelope, visibility through the deal or organisation, the
actions, the documents, and refusals that change nothing."""

import datetime as dt

from django.utils import timezone

from ruche.billing.models import Invoice, InvoiceLine
from ruche.core.models import Visibility
from tests.factories import DealFactory, OrganizationFactory

YEAR = timezone.localdate().year


def test_quote_to_paid_invoice_through_the_api(api_as, rep, won_deal, profile):
    api = api_as(rep)
    response = api.post("/quotes", {"deal_id": won_deal.pk})
    assert response.status_code == 200, response.json()
    quote = response.json()["data"]
    assert (quote["number"], quote["revision"], quote["status"]) == (f"D{YEAR}-00001", 1, "draft")
    assert (quote["total_excl_vat"], quote["total_vat"], quote["total_incl_vat"]) == (
        2585.57,
        480.18,
        3065.75,
    )
    assert [g["rate"] for g in quote["vat_breakdown"]] == ["20", "10", "5.5"]
    assert api.post(f"/quotes/{quote['id']}/send").json()["data"]["status"] == "sent"
    assert api.post(f"/quotes/{quote['id']}/accept").json()["data"]["status"] == "accepted"
    response = api.post("/invoices", {"quote_id": quote["id"]})
    invoice = response.json()["data"]
    again = api.post("/invoices", {"quote_id": quote["id"]})  # a quote is invoiced once
    assert (again.status_code, list(again.json()["errors"])) == (422, ["quote_id"])
    assert (invoice["status"], invoice["number"], invoice["is_issued"]) == ("draft", "", False)
    response = api.post(f"/invoices/{invoice['id']}/issue")
    assert response.status_code == 200, response.json()
    issued = response.json()["data"]
    assert (issued["number"], issued["status"], issued["balance"]) == (
        f"F{YEAR}-00001",
        "issued",
        3065.75,
    )
    response = api.post(
        "/payments",
        {
            "invoice_id": invoice["id"],
            "amount": 3065.75,
            "method": "transfer",
            "reference": "VIR 42",
        },
    )
    assert response.status_code == 200, response.json()
    data = api.get(f"/invoices/{invoice['id']}").json()["data"]
    assert (data["status"], data["paid"], data["balance"]) == ("paid", 3065.75, 0)
    state = api.get(f"/deals/{won_deal.pk}/payment_state").json()["data"]
    assert (state["status"], state["paid"], state["balance"]) == ("paid", 3065.75, 0)
    xml = api.get(f"/invoices/{invoice['id']}/xml")
    assert xml["Content-Type"] == "application/xml"
    assert f"<ram:ID>F{YEAR}-00001</ram:ID>".encode() in xml.content
    pdf = api.get(f"/invoices/{invoice['id']}/pdf")
    assert (pdf["Content-Type"], pdf.content[:5]) == ("application/pdf", b"%PDF-")
    assert f'filename="F{YEAR}-00001.pdf"' in pdf["Content-Disposition"]


def test_issued_invoice_refuses_patch_and_delete(api_as, rep, issued_invoice):
    api = api_as(rep)
    before = list(Invoice.objects.filter(pk=issued_invoice.pk).values())
    lines = list(InvoiceLine.objects.filter(invoice=issued_invoice).values())
    response = api.patch(
        f"/invoices/{issued_invoice.pk}",
        {"title": "Modifié", "lines": [{"name": "X", "unit_price": 1, "vat_rate": "20"}]},
    )
    assert response.status_code == 409
    assert "credit note" in response.json()["error"]
    assert api.delete(f"/invoices/{issued_invoice.pk}").status_code == 409
    assert api.post(f"/invoices/{issued_invoice.pk}/issue").status_code == 409
    assert list(Invoice.objects.filter(pk=issued_invoice.pk).values()) == before
    assert list(InvoiceLine.objects.filter(invoice=issued_invoice).values()) == lines


def test_credit_note_routes(api_as, rep, issued_invoice):
    api = api_as(rep)
    response = api.post("/credit_notes", {"invoice_id": issued_invoice.pk})
    note = response.json()["data"]
    assert (note["kind"], note["credited_invoice_id"], note["total_incl_vat"]) == (
        "credit_note",
        issued_invoice.pk,
        3065.75,
    )
    assert api.get(f"/invoices/{note['id']}").status_code == 404  # a credit note, not an invoice
    assert api.post(f"/credit_notes/{note['id']}/issue").json()["data"]["number"] == (
        f"AV{YEAR}-00001"
    )
    data = api.get(f"/invoices/{issued_invoice.pk}").json()["data"]
    assert (data["status"], data["credited"], data["balance"]) == ("credited", 3065.75, 0)
    listed = api.get(f"/credit_notes?credited_invoice_id={issued_invoice.pk}").json()["data"]
    assert [row["id"] for row in listed] == [note["id"]]


def test_bad_input_names_the_field(api_as, rep, won_deal, customer):
    api = api_as(rep)
    response = api.post(
        "/invoices",
        {"org_id": customer.pk, "lines": [{"name": "X", "unit_price": 10, "vat_rate": "19.6"}]},
    )
    assert response.status_code == 422
    assert "lines.0.vat_rate" in response.json()["errors"]
    response = api.post("/invoices", {"deal_id": won_deal.pk, "payment_terms_days": 75})
    assert response.status_code == 422
    assert "payment_terms_days" in response.json()["errors"]
    response = api.post("/quotes", {"org_id": customer.pk, "customer_siren": "123456789"})
    assert response.status_code == 422
    assert "customer_siren" in response.json()["errors"]
    assert Invoice.objects.count() == 0


def test_visibility_follows_the_deal_and_the_organisation(
    api_as, rep, other_rep, rep_actor, profile
):
    private_org = OrganizationFactory(owner=rep, visible_to=Visibility.OWNER, name="Secret SA")
    deal = DealFactory(owner=rep, org=private_org, visible_to=Visibility.OWNER)
    mine = api_as(rep).post("/quotes", {"deal_id": deal.pk}).json()["data"]
    scratch = api_as(rep).post("/quotes", {"org_id": private_org.pk}).json()["data"]
    other = api_as(other_rep)
    for quote in (mine, scratch):
        assert other.get(f"/quotes/{quote['id']}").status_code == 404
        assert other.patch(f"/quotes/{quote['id']}", {"title": "x"}).status_code == 404
        assert other.get(f"/quotes/{quote['id']}/pdf").status_code == 404
    assert other.get("/quotes").json()["data"] == []
    assert other.post("/quotes", {"deal_id": deal.pk}).status_code == 422
    assert [q["id"] for q in api_as(rep).get("/quotes").json()["data"]] == [
        mine["id"],
        scratch["id"],
    ]


def test_profile_is_changed_by_admins_only(api_as, rep, admin, profile):
    assert api_as(rep).patch("/billing/profile", {"payment_terms_days": 45}).status_code == 403
    response = api_as(admin).patch(
        "/billing/profile", {"iban": "FR76 3000 6000 0112 3456 7890 188"}
    )
    assert response.status_code == 422
    assert "iban" in response.json()["errors"]
    response = api_as(admin).patch("/billing/profile", {"payment_terms_days": 45})
    assert response.json()["data"]["payment_terms_days"] == 45
    assert api_as(admin).patch("/billing/profile", {"payment_terms_days": 61}).status_code == 422


def test_overdue_invoice_in_the_list_filter(api_as, rep, issued_invoice):
    api = api_as(rep)
    assert [row["id"] for row in api.get("/invoices?status=issued").json()["data"]] == [
        issued_invoice.pk
    ]
    assert api.get("/invoices?status=overdue").json()["data"] == []
    assert issued_invoice.due_date == timezone.localdate() + dt.timedelta(days=30)


def test_customer_billing_details(api_as, rep, other_rep, customer):
    api = api_as(rep)
    assert api.get(f"/organizations/{customer.pk}/billing").json()["data"]["delivery_city"] == ""
    response = api.patch(
        f"/organizations/{customer.pk}/billing",
        {"delivery_address": "1 quai Nord", "delivery_city": "Lyon", "is_business": True},
    )
    assert response.json()["data"]["delivery_city"] == "Lyon"
    assert (
        api.patch(f"/organizations/{customer.pk}/billing", {"delivery_country": "FRA"}).status_code
        == 422
    )
    hidden = OrganizationFactory(owner=rep, visible_to=Visibility.OWNER)
    assert api_as(other_rep).get(f"/organizations/{hidden.pk}/billing").status_code == 404
