from django.db import transaction
from django.utils import timezone

from ruche.accounts.models import ApiToken, Team, User, hash_token
from ruche.core.exceptions import NotFound, ValidationError


@transaction.atomic
def user_create(
    *,
    email: str,
    role: str,
    password: str | None = None,
    team_name: str | None = None,
    name: str = "",
) -> User:
    if role not in User.Role.values:
        raise ValidationError({"role": f"One of {', '.join(User.Role.values)}, not {role!r}."})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": f"A user with email {email} already exists."})
    team = Team.objects.get_or_create(name=team_name)[0] if team_name else None
    user = User.objects.create_user(
        email,
        password,
        role=role,
        team=team,
        name=name,
        is_staff=role == User.Role.ADMIN,
        is_superuser=role == User.Role.ADMIN,
    )
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Returns the token and its raw value, which is not stored and cannot be shown again."""
    raw = ApiToken.generate_raw()
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:8])
    return token, raw


def token_revoke(*, token_id: int, user: User) -> None:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise NotFound(f"Token {token_id} not found.")
