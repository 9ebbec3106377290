import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ruche.accounts.models import ApiToken, User
from ruche.accounts.selectors import user_for_token


@pytest.fixture
def user(db) -> User:
    return User.objects.create_user("jeanne@example.fr", None, role=User.Role.REP)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash(user):
    output = run("token", "create", "Jeanne@example.fr", "--name", "import CSV")

    raw = output.splitlines()[-1]
    token = ApiToken.objects.get()
    assert len(raw) == 40 and raw == raw.strip()
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (token.user, token.name, token.prefix) == (user, "import CSV", raw[:8])
    stored = [getattr(token, f.attname) for f in ApiToken._meta.concrete_fields]
    assert raw not in stored
    # The printed token is the one that authenticates.
    assert user_for_token(raw).user == user
    assert user_for_token(raw[:-1] + ("0" if raw[-1] != "0" else "1")) is None


def test_each_token_is_new(user):
    first = run("token", "create", user.email).splitlines()[-1]
    second = run("token", "create", user.email).splitlines()[-1]

    assert first != second
    assert ApiToken.objects.count() == 2


def test_unknown_email_is_refused(user):
    with pytest.raises(CommandError, match=r"No user with email nobody@example\.fr"):
        run("token", "create", "nobody@example.fr")

    assert not ApiToken.objects.exists()


def test_list_never_shows_the_token_and_revoke_disables_it(user):
    raw = run("token", "create", user.email, "--name", "ci").splitlines()[-1]
    token = ApiToken.objects.get()

    listing = run("token", "list", user.email)
    assert raw not in listing
    assert f"{token.pk}\t{raw[:8]}" in listing

    run("token", "revoke", user.email, str(token.pk))
    assert user_for_token(raw) is None
    with pytest.raises(CommandError):
        run("token", "revoke", user.email, str(token.pk))
