"""Sign in (rate limited, CSRF-protected, expiring), sign out, password reset, language."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(rep):
    rep.set_password(PASSWORD)
    rep.save()
    return rep


def test_pages_need_a_signed_in_user(client):
    response = client.get("/deals/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/deals/"


def test_sign_in_page_is_french_by_default(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'lang="fr"' in response.content.decode()
    assert "Mot de passe oublié ?" in response.content.decode()


def test_sign_in_with_email_and_password_then_sign_out(client, member):
    response = client.post("/login/", {"username": "REP@ruche.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session.get_expiry_age() == 12 * 3600
    assert client.get("/deals/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/deals/").status_code == 302


def test_wrong_password_is_refused_by_name(client, member):
    response = client.post("/login/", {"username": member.email, "password": "nope"})
    assert response.status_code == 200
    assert "E-mail ou mot de passe incorrect." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_attempts_are_rate_limited(client, member):
    for _ in range(5):
        client.post("/login/", {"username": member.email, "password": "nope"})
    response = client.post("/login/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Trop de tentatives échouées." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_success_clears_the_failures_of_the_email(client, member):
    for _ in range(4):
        client.post("/login/", {"username": member.email, "password": "nope"})
    assert (
        client.post("/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    )
    client.post("/logout/")
    for _ in range(4):
        client.post("/login/", {"username": member.email, "password": "nope"})
    assert (
        client.post("/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    )


def test_forms_without_the_csrf_token_are_refused(member):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": member.email, "password": PASSWORD})
    assert response.status_code == 403
    client.force_login(member)
    assert client.post("/language/", {"language": "en"}).status_code == 403
    member.refresh_from_db()
    assert member.locale == ""


def test_password_reset_by_email(client, member):
    response = client.post("/password-reset/", {"email": "rep@ruche.test"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rep@ruche.test"]
    assert message.subject == "Ruche : choisissez un nouveau mot de passe"
    link = re.search(r"http://testserver(/password-reset/\S+/)", message.body).group(1)
    form_url = client.get(link)["Location"]
    new_password = "une autre phrase de passe"
    response = client.post(form_url, {"new_password1": new_password, "new_password2": new_password})
    assert response["Location"] == "/password-reset/done/"
    member.refresh_from_db()
    assert member.check_password(new_password)


def test_password_reset_for_an_unknown_email_sends_nothing(client, member):
    response = client.post("/password-reset/", {"email": "nobody@ruche.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_each_user_chooses_the_language(web_as, rep):
    client = web_as(rep)
    assert "Se déconnecter" in client.get("/deals/").content.decode()
    response = client.post("/language/", {"language": "en", "next": "/deals/?q=x"})
    assert response["Location"] == "/deals/?q=x"
    rep.refresh_from_db()
    assert rep.locale == "en"
    page = client.get("/deals/").content.decode()
    assert "Sign out" in page and 'lang="en"' in page
    # The choice follows the user to another browser.
    other_browser = Client()
    other_browser.force_login(rep)
    assert "Sign out" in other_browser.get("/deals/").content.decode()
    client.post("/language/", {"language": "fr"})
    rep.refresh_from_db()
    assert rep.locale == "fr"
    assert "Se déconnecter" in client.get("/deals/").content.decode()


def test_unknown_language_and_foreign_next_are_ignored(web_as, rep):
    client = web_as(rep)
    response = client.post("/language/", {"language": "xx", "next": "https://evil.test/"})
    assert response["Location"] == "/"
    rep.refresh_from_db()
    assert rep.locale == ""
