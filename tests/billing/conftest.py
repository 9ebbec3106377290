"""Billing fixtures: a complete seller profile, a French business customer, a won deal with
lines at several VAT rates, and helpers to make and issue invoices through the services."""

from decimal import Decimal

import pytest

from ruche.billing import services
from ruche.billing.models import BillingProfile, NumberSeries
from ruche.pipelines import services as deal_services
from tests.api.conftest import api_as, token_for  # noqa: F401
from tests.billing.smtp import smtp  # noqa: F401
from tests.factories import DealFactory, OrganizationFactory

# Valid identifiers (checked by python-stdnum).
SELLER_SIREN = "732829320"
SELLER_VAT = "FR44732829320"
CUSTOMER_SIREN = "552100554"
CUSTOMER_VAT = "FR96552100554"
IBAN = "FR7630006000011234567890189"
BIC = "AGRIFRPP"


@pytest.fixture
def profile(db, admin_actor) -> BillingProfile:
    for key, prefix in (("invoice", "F"), ("credit_note", "AV"), ("quote", "D")):
        NumberSeries.objects.get_or_create(key=key, defaults={"prefix": prefix})
    return services.billing_profile_update(
        actor=admin_actor,
        data={
            "legal_name": "Ruche Conseil SAS",
            "address": "12 rue de la République",
            "postal_code": "69002",
            "city": "Lyon",
            "siren": SELLER_SIREN,
            "siret": "73282932000074",
            "vat_number": SELLER_VAT,
            "legal_form": "SAS",
            "share_capital": "10000",
            "rcs": "RCS Lyon 732 829 320",
            "iban": IBAN,
            "bic": BIC,
            "email": "factures@ruche.test",
        },
    )


@pytest.fixture
def customer(rep):
    return OrganizationFactory(
        owner=rep,
        name="Atelier Dupont SARL",
        address="5 avenue Foch",
        postal_code="75016",
        city="Paris",
        siren=CUSTOMER_SIREN,
        vat_number=CUSTOMER_VAT,
    )


def add_lines(actor, deal, lines):
    for name, quantity, price, discount, rate in lines:
        deal_services.deal_line_add(
            actor=actor,
            deal_id=deal.pk,
            data={
                "name": name,
                "quantity": Decimal(quantity),
                "unit_price": Decimal(price),
                "discount_percent": Decimal(discount),
                "vat_rate": Decimal(rate),
            },
        )


# Three rates and discounts: 20 % on 2 x 1 234.56 less 10 % = 2 222.21 (2 222.208 rounded);
# 10 % on 3.5 x 99.99 = 349.965 -> 349.97; 5.5 % on 1 x 19.99 less 33 % = 13.3933 -> 13.39.
MIXED_LINES = [
    ("Conseil", "2", "1234.56", "10", "20"),
    ("Travaux", "3.5", "99.99", "0", "10"),
    ("Livres", "1", "19.99", "33", "5.5"),
]


@pytest.fixture
def won_deal(rep, rep_actor, customer, profile):
    deal = DealFactory(owner=rep, org=customer, title="Refonte du site")
    add_lines(rep_actor, deal, MIXED_LINES)
    deal_services.deal_mark_won(actor=rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    return deal


@pytest.fixture
def issued_invoice(won_deal, rep_actor):
    invoice = services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk})
    return services.invoice_issue(actor=rep_actor, invoice_id=invoice.pk)
