"""Settings → Users, teams and roles, and the default visibility of new records (admins only).

Users are invited (they choose their password from an emailed link), given a role and a team,
and deactivated rather than deleted, since records and history keep pointing at them. Every
write goes through an accounts or core service that records history; a refusal re-renders the
page with status 422 and a message naming the field, and changes nothing."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, override
from django.views.decorators.http import require_POST

from ruche.accounts import services as account_services
from ruche.accounts.models import Company, Team, User
from ruche.core import services as core_services
from ruche.core.exceptions import NotFound, RucheError, ValidationError
from ruche.web.views.common import VISIBILITY_LABELS, actor, int_or_none
from ruche.web.views.settings import admin_view, field_errors

ROLE_LABELS = {
    User.Role.ADMIN: gettext_lazy("Admin"),
    User.Role.MANAGER: gettext_lazy("Manager"),
    User.Role.REP: gettext_lazy("Sales rep"),
}
# The accounts services' fixed refusals, translated when shown here.
TEAM_MESSAGES = [
    gettext_noop("Enter a valid email address."),
    gettext_noop("A user with this email already exists."),
    gettext_noop("No such team."),
    gettext_noop("At most 255 characters."),
    gettext_noop("The last active admin must stay an active admin."),
    gettext_noop("A team with this name already exists."),
    gettext_noop("At most 120 characters."),
]


def _page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "section": "team",
        "users": list(User.objects.select_related("team").order_by("-is_active", "name", "email")),
        "teams": list(Team.objects.order_by("name")),
        "roles": list(ROLE_LABELS.items()),
        "role_labels": ROLE_LABELS,
        "visibilities": list(VISIBILITY_LABELS.items()),
        "company": Company.current(),
        "form": request.POST if error else {},
        "error": error,
    }
    return render(request, "web/settings/team/team.html", context, status=status)


def _attempt(request: HttpRequest, write, done: str) -> HttpResponse:
    try:
        write()
    except NotFound:
        raise  # a 404, as for a user or team that does not exist
    except RucheError as error:
        return _page(request, error=field_errors(error), status=422)
    messages.success(request, done)
    return redirect("web:settings_team")


def _role(request: HttpRequest) -> str:
    role = request.POST.get("role", "")
    if role not in ROLE_LABELS:
        raise ValidationError({"role": _("Choose a role in the list.")})
    return role


def _team_id(request: HttpRequest) -> int | None:
    text = request.POST.get("team_id", "").strip()
    if not text:
        return None
    team_id = int_or_none(text)
    if team_id is None:
        raise ValidationError({"team_id": _("Choose a team in the list.")})
    return team_id


@admin_view
def team_settings(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _send_invitation(request: HttpRequest, user: User) -> None:
    """A link to choose a password (the password-reset page), sent once the user is saved."""
    path = reverse(
        "web:password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(user.pk)),
            default_token_generator.make_token(user),
        ],
    )
    link = request.build_absolute_uri(path)
    company = Company.current().name
    with override(request.LANGUAGE_CODE):
        subject = _("You are invited to Ruche by %(company)s") % {"company": company}
        body = _(
            "Hello,\n\n%(inviter)s invited you to the sales CRM of %(company)s.\n"
            "Choose your password here to sign in:\n\n%(link)s\n"
        ) % {"inviter": request.user, "company": company, "link": link}
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    )


@admin_view
@require_POST
def user_invite(request: HttpRequest) -> HttpResponse:
    def write():
        with transaction.atomic():
            user = account_services.user_invite(
                actor=actor(request),
                email=request.POST.get("email", ""),
                name=request.POST.get("name", ""),
                role=_role(request),
                team_id=_team_id(request),
            )
            _send_invitation(request, user)

    return _attempt(request, write, _("User invited: they will get an email to choose a password."))


@admin_view
@require_POST
def user_change(request: HttpRequest, user_id: int) -> HttpResponse:
    """Either `is_active` (deactivate or reactivate), or the user's name, role and team."""

    def write():
        if "is_active" in request.POST:
            data = {"is_active": request.POST["is_active"] == "1"}
        else:
            data = {
                "name": request.POST.get("name", ""),
                "role": _role(request),
                "team_id": _team_id(request),
            }
        account_services.user_update(actor=actor(request), user_id=user_id, data=data)

    return _attempt(request, write, _("User saved."))


@admin_view
@require_POST
def team_add(request: HttpRequest) -> HttpResponse:
    def write():
        account_services.team_create(actor=actor(request), name=request.POST.get("name", ""))

    return _attempt(request, write, _("Team added."))


@admin_view
@require_POST
def team_rename(request: HttpRequest, team_id: int) -> HttpResponse:
    def write():
        account_services.team_rename(
            actor=actor(request), team_id=team_id, name=request.POST.get("name", "")
        )

    return _attempt(request, write, _("Team renamed."))


@admin_view
@require_POST
def default_visibility(request: HttpRequest) -> HttpResponse:
    def write():
        value = int_or_none(request.POST.get("default_visibility"))
        if value not in VISIBILITY_LABELS:
            raise ValidationError({"default_visibility": _("Choose a visibility in the list.")})
        core_services.company_update(actor=actor(request), data={"default_visibility": value})

    return _attempt(request, write, _("Default visibility saved."))
