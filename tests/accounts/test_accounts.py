import datetime as dt

import pytest
from django.utils import timezone

from ruche.accounts.models import ApiToken, Company, Team, User, hash_token
from ruche.accounts.selectors import user_for_token
from ruche.accounts.services import token_create, token_revoke, user_create
from ruche.core.exceptions import NotFound, ValidationError


def test_user_create(db):
    user = user_create(email="Jean.Dupont@Example.FR", role="manager", team_name="Nord")
    assert (user.email, user.role, user.team.name) == ("jean.dupont@example.fr", "manager", "Nord")
    assert (user.is_manager, user.is_admin, user.is_staff) == (True, False, False)
    assert not user.has_usable_password()
    second = user_create(email="b@example.fr", role="rep", team_name="Nord", password="s3cret!!")
    assert second.team == user.team
    assert Team.objects.filter(name="Nord").count() == 1
    assert second.check_password("s3cret!!")


def test_admin_is_staff(db):
    admin = user_create(email="root@example.fr", role="admin")
    assert (admin.is_admin, admin.is_staff, admin.is_superuser, admin.team) == (
        True,
        True,
        True,
        None,
    )


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("x@example.fr", "boss", "role"), ("REP@ruche.test", "rep", "email")],
)
def test_user_create_refusals(rep, email, role, field):
    count = User.objects.count()
    with pytest.raises(ValidationError) as error:
        user_create(email=email, role=role, team_name="Nouvelle")
    assert list(error.value.field_errors) == [field]
    assert User.objects.count() == count
    assert not Team.objects.filter(name="Nouvelle").exists()


def test_tokens_are_stored_hashed(rep):
    token, raw = token_create(user=rep, name="CLI")
    assert len(raw) == 40
    assert (token.key_hash, token.prefix) == (hash_token(raw), raw[:8])
    assert not ApiToken.objects.filter(key_hash=raw).exists()
    assert user_for_token(raw) == token
    assert user_for_token(raw + "x") is None


def test_last_used_is_written_at_most_once_a_minute(rep):
    token, raw = token_create(user=rep)
    user_for_token(raw)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - dt.timedelta(minutes=2)
    )
    user_for_token(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_revoked_tokens_and_inactive_users_are_refused(rep, other_rep):
    token, raw = token_create(user=rep)
    with pytest.raises(NotFound):
        token_revoke(token_id=token.pk, user=other_rep)
    assert user_for_token(raw) == token
    token_revoke(token_id=token.pk, user=rep)
    assert user_for_token(raw) is None
    with pytest.raises(NotFound):
        token_revoke(token_id=token.pk, user=rep)

    _, other_raw = token_create(user=other_rep)
    User.objects.filter(pk=other_rep.pk).update(is_active=False)
    assert user_for_token(other_raw) is None


def test_company_is_a_singleton_with_defaults(db):
    company = Company.current()
    assert Company.current().pk == company.pk == 1
    assert (company.currency, company.default_close_days, company.loss_reason_required) == (
        "EUR",
        42,
        True,
    )
