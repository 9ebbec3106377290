"""Telling whoever started a background import that it ended: an email when it ends (sent by
the task), and a message on their next page (`ImportNoticeMiddleware`, or the import pages
themselves, which call `announce_finished_imports`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ruche.transfer.models import ImportRun

STATUS_LABELS = {
    ImportRun.Status.DRAFT: _("waiting for its mapping"),
    ImportRun.Status.PENDING: _("waiting to start"),
    ImportRun.Status.RUNNING: _("running"),
    ImportRun.Status.DONE: _("done"),
    ImportRun.Status.INVALID: _("refused: nothing was imported"),
    ImportRun.Status.FAILED: _("failed: nothing was imported"),
    ImportRun.Status.CANCELLED: _("cancelled: nothing was imported"),
    ImportRun.Status.UNDONE: _("undone"),
}


def finished_text(run: ImportRun) -> str:
    report = run.report or {}
    return gettext(
        "Import #%(id)s (%(file)s) is %(status)s. %(rows)s rows read, %(created)s created, "
        "%(updated)s updated, %(skipped)s skipped, %(errors)s errors."
    ) % {
        "id": run.pk,
        "file": run.file_name,
        "status": STATUS_LABELS[run.status],
        "rows": report.get("rows", 0),
        "created": report.get("created", 0),
        "updated": report.get("updated", 0),
        "skipped": report.get("skipped", 0),
        "errors": report.get("errors_count", 0),
    }


def notify_by_email(run: ImportRun) -> None:
    user = run.user
    if user is None or not user.email:
        return
    with translation.override(getattr(user, "locale", "") or "fr"):
        send_mail(
            subject=gettext("Ruche: import #%(id)s has ended") % {"id": run.pk},
            message=finished_text(run),
            from_email=None,
            recipient_list=[user.email],
            fail_silently=True,
        )


def announce_finished_imports(request) -> None:
    """A message for each background import of this user that ended since they last saw it."""
    runs = list(
        ImportRun.objects.filter(
            user=request.user, notified=False, status__in=ImportRun.FINISHED
        ).order_by("id")
    )
    for run in runs:
        level = messages.SUCCESS if run.status == ImportRun.Status.DONE else messages.WARNING
        messages.add_message(request, level, finished_text(run))
    if runs:
        ImportRun.objects.filter(pk__in=[run.pk for run in runs]).update(notified=True)


class ImportNoticeMiddleware:
    """After MessageMiddleware: on each full page a signed-in user loads."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.method == "GET"
            and "HX-Request" not in request.headers
            and not request.path.startswith("/api/")
        ):
            announce_finished_imports(request)
        return self.get_response(request)
