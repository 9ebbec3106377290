"""Users, teams and roles, API tokens and calendar feeds. Changes to users and teams are
recorded in the history in the same transaction; users are deactivated, never deleted, because
history and records keep pointing at them."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from ruche.accounts.models import ApiToken, CalendarFeed, Team, User, hash_token
from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.history import Actor, Event, record_changes, record_created, record_event

# Users created from the command line or a set-up script.
SYSTEM = Actor.for_job("accounts")
USER_FIELDS = ("name", "role", "team", "is_active")
LAST_ADMIN = "The last active admin must stay an active admin."


def _require_admin(actor: Actor) -> None:
    if actor.user is not None and not actor.user.is_admin:
        raise PermissionDenied("Only an admin can change users and teams.")


def _valid_role(role: Any) -> str:
    if role not in User.Role.values:
        raise ValidationError({"role": f"One of {', '.join(User.Role.values)}, not {role!r}."})
    return role


def _new_email(email: Any) -> str:
    email = (email or "").strip() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this email already exists."})
    return email


def _team(team_id: Any) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first() if isinstance(team_id, int) else None
    if team is None:
        raise ValidationError({"team_id": "No such team."})
    return team


def _name(name: Any) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if len(name) > 255:
        raise ValidationError({"name": "At most 255 characters."})
    return name


@transaction.atomic
def user_create(
    *,
    email: str,
    role: str,
    password: str | None = None,
    team_name: str | None = None,
    name: str = "",
    actor: Actor = SYSTEM,
) -> User:
    """A new user; without a password they cannot sign in until they set one (invitation)."""
    _require_admin(actor)
    role = _valid_role(role)
    email = _new_email(email)
    team = Team.objects.get_or_create(name=team_name)[0] if team_name else None
    return _create_user(
        email=email, role=role, password=password, team=team, name=name, actor=actor
    )


@transaction.atomic
def user_invite(
    *, actor: Actor, email: str, role: str, name: str = "", team_id: int | None = None
) -> User:
    """Create a user without a password; the web page then sends them a link to choose one."""
    _require_admin(actor)
    role = _valid_role(role)
    email = _new_email(email)
    team = _team(team_id)
    return _create_user(
        email=email, role=role, password=None, team=team, name=_name(name), actor=actor
    )


def _create_user(*, email, role, password, team, name, actor) -> User:
    is_admin = role == User.Role.ADMIN
    user = User.objects.create_user(
        email, password, role=role, team=team, name=name, is_staff=is_admin, is_superuser=is_admin
    )
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    values = {"email": user.email, "name": name, "role": role, "team": team}
    record_created("user", user.pk, actor, values)
    return user


def _is_last_admin(user: User) -> bool:
    others = User.objects.filter(role=User.Role.ADMIN, is_active=True).exclude(pk=user.pk)
    return user.is_admin and user.is_active and not others.exists()


@transaction.atomic
def user_update(*, actor: Actor, user_id: int, data: dict[str, Any]) -> User:
    """Change a user's name, role, team or active flag (`name`, `role`, `team_id`,
    `is_active`). The last active admin can be neither demoted nor deactivated."""
    _require_admin(actor)
    # Locking every admin row serialises two concurrent demotions of the last two admins.
    list(User.objects.select_for_update().filter(role=User.Role.ADMIN).values_list("pk"))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    values = _user_values(data)
    demoted = values.get("role", user.role) != User.Role.ADMIN
    deactivated = not values.get("is_active", user.is_active)
    if (demoted or deactivated) and _is_last_admin(user):
        raise ValidationError({"role" if demoted else "is_active": LAST_ADMIN})
    changes = {
        field: (getattr(user, field), value)
        for field, value in values.items()
        if getattr(user, field) != value
    }
    if changes:
        for field, (_old, new) in changes.items():
            setattr(user, field, new)
        user.is_staff = user.is_superuser = user.role == User.Role.ADMIN
        user.save()
        record_changes("user", user.pk, actor, changes)
    return user


def _user_values(data: dict[str, Any]) -> dict[str, Any]:
    values = {}
    if "name" in data:
        values["name"] = _name(data["name"])
    if "role" in data:
        values["role"] = _valid_role(data["role"])
    if "team_id" in data:
        values["team"] = _team(data["team_id"])
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise ValidationError({"is_active": "True or false is expected."})
        values["is_active"] = data["is_active"]
    return values


def user_deactivate(*, actor: Actor, user_id: int) -> User:
    return user_update(actor=actor, user_id=user_id, data={"is_active": False})


def user_reactivate(*, actor: Actor, user_id: int) -> User:
    return user_update(actor=actor, user_id=user_id, data={"is_active": True})


def _team_name(name: Any, exclude: int | None = None) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "A name is required."})
    if len(name) > 120:
        raise ValidationError({"name": "At most 120 characters."})
    if Team.objects.filter(name__iexact=name).exclude(pk=exclude).exists():
        raise ValidationError({"name": "A team with this name already exists."})
    return name


@transaction.atomic
def team_create(*, actor: Actor, name: str) -> Team:
    _require_admin(actor)
    team = Team.objects.create(name=_team_name(name))
    record_created("team", team.pk, actor, {"name": team.name})
    return team


@transaction.atomic
def team_rename(*, actor: Actor, team_id: int, name: str) -> Team:
    _require_admin(actor)
    team = Team.objects.select_for_update().filter(pk=team_id).first()
    if team is None:
        raise NotFound(f"Team {team_id} not found.")
    name = _team_name(name, exclude=team.pk)
    if name != team.name:
        record_changes("team", team.pk, actor, {"name": (team.name, name)})
        team.name = name
        team.save(update_fields=["name"])
    return team


# API tokens ----------------------------------------------------------------------------------


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


# Calendar feeds ------------------------------------------------------------------------------


def calendar_feed_for(user: User) -> CalendarFeed:
    """The user's feed, created on first use."""
    feed = CalendarFeed.objects.filter(user=user).first()
    return feed or calendar_feed_regenerate(actor=Actor.for_user(user), user=user)


@transaction.atomic
def calendar_feed_regenerate(*, actor: Actor, user: User) -> CalendarFeed:
    """A new secret: the previous URL stops working at once. The secret itself is not written
    to the history, only that it changed."""
    feed, created = CalendarFeed.objects.select_for_update().get_or_create(
        user=user, defaults={"token": CalendarFeed.generate_token()}
    )
    if not created:
        feed.token = CalendarFeed.generate_token()
        feed.created_at = timezone.now()
        feed.save(update_fields=["token", "created_at"])
    record_event("user", user.pk, Event.UPDATED, actor, field="calendar_feed")
    return feed
