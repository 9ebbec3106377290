"""Invoices: made from a quote, a won deal (full, deposit, balance) or from scratch; numbered
without gap when issued; frozen after; corrected by credit notes; paid by payments."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.utils import timezone

from ruche.billing import selectors, services
from ruche.billing.models import FrozenError, Invoice, InvoiceLine, NumberSeries
from ruche.core.exceptions import Conflict, ValidationError
from ruche.pipelines import services as deal_services
from tests.billing.conftest import CUSTOMER_SIREN
from tests.factories import DealFactory

YEAR = timezone.localdate().year


def status_of(invoice_id, today=None):
    return selectors.with_balance(Invoice.objects.filter(pk=invoice_id), today).get()


def test_full_invoice_from_a_won_deal(won_deal, rep_actor):
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert (invoice.kind, invoice.number, invoice.issued_time) == ("invoice", "", None)
    assert invoice.total_excl_vat_minor == won_deal.value_minor == 258557
    assert invoice.total_vat_minor == 44444 + 3500 + 74
    assert invoice.customer_siren == CUSTOMER_SIREN
    issued = services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
    assert issued.number == f"F{YEAR}-00001"
    assert issued.issue_date == timezone.localdate()
    assert issued.due_date == timezone.localdate() + dt.timedelta(days=30)
    assert issued.seller["siren"] == "732829320"
    assert status_of(invoice.pk).status == "issued"


def test_an_open_deal_is_not_invoiced(rep, rep_actor, customer, profile):
    deal = DealFactory(owner=rep, org=customer)
    with pytest.raises(ValidationError) as error:
        services.invoice_create(actor=rep_actor, data={"deal_id": deal.pk})
    assert "deal_id" in error.value.field_errors
    assert Invoice.objects.count() == 0


def test_numbers_follow_each_other_and_a_failed_issue_leaves_no_gap(won_deal, rep_actor):
    first = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 10}
    )
    bad = services.invoice_create(
        actor=rep_actor,
        data={
            "deal_id": won_deal.pk,
            "mode": "deposit",
            "deposit_percent": 10,
            "customer_siren": "",
        },
    )
    second = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": 10}
    )
    services.invoice_issue(actor=rep_actor, invoice_id=first.pk)
    with pytest.raises(ValidationError) as error:
        services.invoice_issue(actor=rep_actor, invoice_id=bad.pk)
    assert "customer_siren" in error.value.field_errors
    services.invoice_issue(actor=rep_actor, invoice_id=second.pk)
    numbers = list(
        Invoice.objects.exclude(number="").order_by("number").values_list("number", flat=True)
    )
    assert numbers == [f"F{YEAR}-00001", f"F{YEAR}-00002"]
    assert NumberSeries.objects.get(key="invoice").last_number == 2


def test_series_restart_each_year(won_deal, rep_actor):
    NumberSeries.objects.filter(key="invoice").update(
        year=YEAR - 1, last_number=41, last_date=dt.date(YEAR - 1, 12, 31)
    )
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk).number == (
        f"F{YEAR}-00001"
    )


def test_an_issued_invoice_is_frozen_on_every_path(issued_invoice, rep_actor, admin, unchanged):
    pk = issued_invoice.pk
    with unchanged(issued_invoice), pytest.raises(Conflict):
        services.invoice_update(actor=rep_actor, invoice_id=pk, data={"title": "Autre"})
    with unchanged(issued_invoice), pytest.raises(Conflict):
        services.invoice_update(
            actor=rep_actor,
            invoice_id=pk,
            data={"lines": [{"name": "X", "unit_price": "1", "vat_rate": "20"}]},
        )
    with unchanged(issued_invoice), pytest.raises(Conflict):
        services.invoice_delete(actor=rep_actor, invoice_id=pk)
    with unchanged(issued_invoice), pytest.raises(Conflict):
        services.invoice_issue(actor=rep_actor, invoice_id=pk)
    lines_before = list(InvoiceLine.objects.filter(invoice_id=pk).values())
    invoice = Invoice.objects.get(pk=pk)
    invoice.title = "Changé"
    with pytest.raises(FrozenError):
        invoice.save()
    with pytest.raises(FrozenError):
        invoice.delete()
    with pytest.raises(FrozenError):
        Invoice.objects.filter(pk=pk).update(title="Changé")
    with pytest.raises(FrozenError):
        Invoice.objects.filter(pk=pk).delete()
    line = InvoiceLine.objects.filter(invoice_id=pk).first()
    line.unit_price_minor = 1
    with pytest.raises(FrozenError):
        line.save()
    with pytest.raises(FrozenError):
        line.delete()
    with pytest.raises(FrozenError):
        InvoiceLine.objects.filter(invoice_id=pk).update(unit_price_minor=1)
    with pytest.raises(FrozenError):
        InvoiceLine.objects.filter(invoice_id=pk).delete()
    assert list(InvoiceLine.objects.filter(invoice_id=pk).values()) == lines_before
    assert Invoice.objects.get(pk=pk).title == issued_invoice.title
    # The admin offers neither change nor deletion.
    request = RequestFactory().get("/")
    request.user = admin
    model_admin = site._registry[Invoice]
    assert not model_admin.has_change_permission(request, invoice)
    assert not model_admin.has_delete_permission(request, invoice)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_a_credit_note_restores_the_balance(issued_invoice, rep_actor):
    total = issued_invoice.total_incl_vat_minor
    assert selectors.deal_payment_state(None, issued_invoice.deal_id)["balance_minor"] == total
    note = services.credit_note_create(actor=rep_actor, data={"invoice_id": issued_invoice.pk})
    assert status_of(issued_invoice.pk).balance_minor == total  # a draft credits nothing
    note = services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    assert (note.kind, note.number, note.total_incl_vat_minor) == (
        "credit_note",
        f"AV{YEAR}-00001",
        total,
    )
    after = status_of(issued_invoice.pk)
    assert (after.credited_minor, after.balance_minor, after.status) == (total, 0, "credited")
    state = selectors.deal_payment_state(None, issued_invoice.deal_id)
    assert (state["balance_minor"], state["status"]) == (0, "credited")
    # Nothing is left to credit.
    with pytest.raises(ValidationError):
        services.credit_note_create(
            actor=rep_actor,
            data={
                "invoice_id": issued_invoice.pk,
                "lines": [{"name": "Geste", "unit_price": "1", "vat_rate": "20"}],
            },
        )


def test_partial_credit_note_and_payments(issued_invoice, rep_actor, unchanged):
    pk = issued_invoice.pk
    total = issued_invoice.total_incl_vat_minor  # 3 065.32 + 480.18
    assert total == 306575
    note = services.credit_note_create(
        actor=rep_actor,
        data={
            "invoice_id": pk,
            "lines": [{"name": "Remise commerciale", "unit_price": "100", "vat_rate": "20"}],
        },
    )
    services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    assert status_of(pk).balance_minor == total - 12000
    payment = services.payment_create(
        actor=rep_actor,
        data={
            "invoice_id": pk,
            "amount": Decimal("1000.00"),
            "method": "transfer",
            "reference": "VIR-123",
            "date": timezone.localdate(),
        },
    )
    state = status_of(pk)
    assert (state.paid_minor, state.balance_minor, state.status) == (
        100000,
        total - 12000 - 100000,
        "partially_paid",
    )
    with unchanged(payment), pytest.raises(ValidationError) as error:
        services.payment_create(actor=rep_actor, data={"invoice_id": pk, "amount": "10000"})
    assert "amount" in error.value.field_errors
    services.payment_create(
        actor=rep_actor,
        data={"invoice_id": pk, "amount": Decimal(total - 12000 - 100000) / 100},
    )
    assert (status_of(pk).balance_minor, status_of(pk).status) == (0, "paid")
    services.payment_update(actor=rep_actor, payment_id=payment.pk, data={"amount": "900"})
    assert (status_of(pk).balance_minor, status_of(pk).status) == (10000, "partially_paid")
    later = timezone.localdate() + dt.timedelta(days=31)
    assert status_of(pk, today=later).status == "overdue"
    state = selectors.deal_payment_state(None, issued_invoice.deal_id, today=later)
    assert (state["status"], state["overdue_minor"], state["paid_minor"]) == (
        "overdue",
        10000,
        total - 12000 - 10000,
    )


def test_status_expression_matches_each_state(issued_invoice, rep_actor):
    pk = issued_invoice.pk
    listed = selectors.invoice_list(None, filters={"status": "issued"})
    assert list(listed.values_list("pk", flat=True)) == [pk]
    assert not selectors.invoice_list(None, filters={"status": "paid"}).exists()


def test_deposit_then_balance_invoice(won_deal, rep_actor):
    deposit = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "deposit", "deposit_percent": "30"}
    )
    assert deposit.kind == "deposit"
    # 30 % of each rate's base: 2 222.21 -> 666.663 -> 666.66; 349.97 -> 104.99; 13.39 -> 4.02
    assert [(line.vat_rate, line.total_minor) for line in deposit.lines.all()] == [
        (Decimal("20.00"), 66666),
        (Decimal("10.00"), 10499),
        (Decimal("5.50"), 402),
    ]
    services.invoice_issue(actor=rep_actor, invoice_id=deposit.pk)
    balance = services.invoice_create(
        actor=rep_actor, data={"deal_id": won_deal.pk, "mode": "balance"}
    )
    assert balance.total_excl_vat_minor == 258557 - (66666 + 10499 + 402)
    assert list(balance.deducted_deposits.all()) == [deposit]
    assert balance.lines.filter(quantity__lt=0).count() == 3
    issued = services.invoice_issue(actor=rep_actor, invoice_id=balance.pk)
    assert issued.number == f"F{YEAR}-00002"
    state = selectors.deal_payment_state(None, won_deal.pk)
    assert state["invoiced_minor"] == deposit.total_incl_vat_minor + balance.total_incl_vat_minor


def test_payment_terms_are_at_most_60_days(won_deal, rep_actor, admin_actor, profile):
    with pytest.raises(ValidationError) as error:
        services.billing_profile_update(actor=admin_actor, data={"payment_terms_days": 61})
    assert "payment_terms_days" in error.value.field_errors
    with pytest.raises(ValidationError) as error:
        services.invoice_create(
            actor=rep_actor, data={"deal_id": won_deal.pk, "payment_terms_days": 90}
        )
    assert "payment_terms_days" in error.value.field_errors
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iban", "FR7630006000011234567890188"),
        ("bic", "AGRI"),
        ("siren", "732829321"),
        ("vat_number", "FR00732829320"),
        ("siret", "73282932000075"),
    ],
)
def test_profile_identifiers_are_validated(profile, admin_actor, field, value):
    before = getattr(profile, field)
    with pytest.raises(ValidationError) as error:
        services.billing_profile_update(actor=admin_actor, data={field: value})
    assert field in error.value.field_errors
    profile.refresh_from_db()
    assert getattr(profile, field) == before


def test_customer_billing_details_are_snapshotted(won_deal, rep_actor, customer):
    services.customer_billing_update(
        actor=rep_actor,
        org_id=customer.pk,
        data={
            "delivery_address": "Zone industrielle",
            "delivery_postal_code": "69100",
            "delivery_city": "Villeurbanne",
            "delivery_country": "FR",
        },
    )
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    assert invoice.has_delivery_address
    deal_services.deal_update(actor=rep_actor, deal_id=won_deal.pk, data={"title": "x"})
    customer.name = "Nouveau nom"
    customer.save()
    invoice.refresh_from_db()
    assert invoice.customer_name == "Atelier Dupont SARL"


def test_input_lines_never_have_negative_quantities(rep_actor, customer, profile):
    with pytest.raises(ValidationError) as error:
        services.invoice_create(
            actor=rep_actor,
            data={
                "org_id": customer.pk,
                "lines": [
                    {
                        "name": "Avoir déguisé",
                        "quantity": "-1",
                        "unit_price": "10",
                        "vat_rate": "20",
                    }
                ],
            },
        )
    assert "lines[0].quantity" in error.value.field_errors
    assert Invoice.objects.count() == 0


def test_admin_profile_form_checks_identifiers(profile):
    from ruche.billing.admin import BillingProfileForm
    from ruche.billing.services import PROFILE_FIELDS

    data = {field: getattr(profile, field) for field in PROFILE_FIELDS}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    form = BillingProfileForm(data=data | {"iban": "FR7630006000011234567890188"}, instance=profile)
    assert not form.is_valid()
    assert list(form.errors) == ["iban"]
    assert BillingProfileForm(data=data, instance=profile).is_valid(), "a valid profile passes"
