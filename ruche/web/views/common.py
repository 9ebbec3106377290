"""What every page shares: sign-in required, the user's language, domain errors as pages."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from ruche.core.exceptions import NotFound, PermissionDenied, RucheError
from ruche.core.history import Actor
from ruche.core.models import Visibility
from ruche.pipelines.models import Activity, Deal

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}

STATUS_LABELS = {
    Deal.Status.OPEN: _("Open"),
    Deal.Status.WON: _("Won"),
    Deal.Status.LOST: _("Lost"),
}
ACTIVITY_TYPE_LABELS = {
    Activity.Type.CALL: _("Call"),
    Activity.Type.MEETING: _("Meeting"),
    Activity.Type.TASK: _("Task"),
    Activity.Type.EMAIL: _("Email"),
    Activity.Type.DEADLINE: _("Deadline"),
}
VISIBILITY_LABELS = {
    Visibility.OWNER: _("Owner only"),
    Visibility.TEAM: _("Owner's team"),
    Visibility.EVERYONE: _("Everyone"),
}


def activate_user_language(request: HttpRequest) -> None:
    """The user's chosen language wins over the browser's; French is the default."""
    locale = getattr(request.user, "locale", "") or ""
    if locale in LANGUAGE_CODES and locale != translation.get_language():
        translation.activate(locale)
        request.LANGUAGE_CODE = locale


def web_view(view: Callable) -> Callable:
    """Sign-in required, the user's language active, and a record the user may not see is the
    same 404 as one that does not exist."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        activate_user_language(request)
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapped


def role_view(allowed: Callable) -> Callable:
    """`web_view` for the pages only some users may open (`allowed(user)`): anyone else gets
    403, and so does a domain refusal of permission."""

    def decorator(view: Callable) -> Callable:
        @web_view
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not allowed(request.user):
                raise DjangoPermissionDenied
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                raise DjangoPermissionDenied from None

        return wrapped

    return decorator


def actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


# The domain's fixed refusal messages, so the web app shows them in the user's language (the
# API keeps them in English). Messages that carry values (ids, amounts) stay as they are.
DOMAIN_MESSAGES = [
    gettext_noop("A loss reason is required to mark a deal lost."),
    gettext_noop("A lost deal keeps a loss reason."),
    gettext_noop("A title is required when no organization is set."),
    gettext_noop("The value is the sum of the deal's lines; change the lines instead."),
    gettext_noop("The currency cannot change while the deal has lines."),
    gettext_noop("A unit price is required for a line without a product."),
    gettext_noop("A unit price cannot be negative."),
    gettext_noop("A line needs a product or a name."),
    gettext_noop("A note belongs to a deal, a person or an organization."),
    gettext_noop("A local time (HH:MM) without a UTC offset."),
    gettext_noop("There is no pipeline yet."),
]


def error_text(error: RucheError) -> str:
    """The refusal in words, translated where the domain's message is a fixed one."""
    messages = error.field_errors.values() if error.field_errors else [error.message]
    return " ".join(gettext(message) for message in messages)


def int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def decimal_text(value: str | None) -> str | None:
    """French users type "1 234,50": spaces out, comma as the decimal point."""
    if value is None:
        return None
    text = value.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    return text or None
