"""A quote sent by email to a real SMTP server (aiosmtpd): its PDF attached, sent after commit,
the draft marked sent; bad addresses and final quotes are refused and change nothing."""

import pytest
from django.test import Client

from ruche.billing import services
from ruche.billing.models import CustomerBilling, Quote
from ruche.core.exceptions import Conflict, ValidationError
from ruche.core.models import ChangeRecord

CUSTOMER_EMAIL = "compta@atelier-dupont.test"


@pytest.fixture
def quote(won_deal, rep_actor, customer):
    CustomerBilling.objects.create(org=customer, email=CUSTOMER_EMAIL)
    return services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})


def test_the_quote_goes_with_its_pdf_to_the_customer(
    quote, rep_actor, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.quote_email_send(
            actor=rep_actor, quote_id=quote.pk, message="Bonjour Anne,"
        )
    assert sent.status == "sent"
    [message] = smtp.to(CUSTOMER_EMAIL)
    assert message["Subject"] == f"Devis {quote.reference} — Ruche Conseil SAS"
    assert message["Reply-To"] == "factures@ruche.test"
    body = message.get_body(("plain",)).get_content()
    assert body == (
        f"Bonjour Anne,\r\n\r\nVeuillez trouver ci-joint notre devis {quote.reference} d'un "
        "montant de 3 065,75 € TTC (2 585,57 € HT), valable jusqu'au "
        f"{quote.valid_until:%d/%m/%Y}."
    )
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{quote.reference}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    history = ChangeRecord.objects.filter(entity="quote", entity_id=quote.pk, field="emailed_to")
    assert list(history.values_list("new_value", flat=True)) == [CUSTOMER_EMAIL]


def test_a_sent_quote_is_sent_again_to_another_address(
    quote, rep_actor, smtp, django_capture_on_commit_callbacks
):
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.quote_email_send(actor=rep_actor, quote_id=quote.pk, to_email="dg@dupont.test")
    assert len(smtp.to("dg@dupont.test")) == 1
    assert smtp.to(CUSTOMER_EMAIL) == []


@pytest.mark.parametrize(("to_email", "field"), [("pas-une-adresse", "to_email"), ("", "to_email")])
def test_a_bad_or_missing_address_is_refused(
    won_deal, rep_actor, smtp, django_capture_on_commit_callbacks, to_email, field
):
    quote = services.quote_create(actor=rep_actor, data={"deal_id": won_deal.pk})  # no email
    before = (list(Quote.objects.values()), ChangeRecord.objects.count())
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as error:
        services.quote_email_send(actor=rep_actor, quote_id=quote.pk, to_email=to_email)
    assert list(error.value.field_errors) == [field]
    assert (list(Quote.objects.values()), ChangeRecord.objects.count()) == before
    assert smtp.messages == []


def test_a_declined_quote_is_not_sent(quote, rep_actor, smtp):
    services.quote_send(actor=rep_actor, quote_id=quote.pk)
    services.quote_decline(actor=rep_actor, quote_id=quote.pk)
    with pytest.raises(Conflict):
        services.quote_email_send(actor=rep_actor, quote_id=quote.pk)
    assert smtp.messages == []


def test_the_quote_page_sends_it(quote, rep, smtp, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/billing/quotes/{quote.pk}/email/", {"to_email": "achat@dupont.test", "message": ""}
        )
    assert response.status_code == 302
    [message] = smtp.to("achat@dupont.test")
    assert message.get_body(("plain",)).get_content().startswith("Bonjour,\r\n\r\nVeuillez")
    refused = client.post(f"/billing/quotes/{quote.pk}/email/", {"to_email": "non"})
    assert refused.status_code == 422
    assert 'data-field="to_email"' in refused.content.decode()
