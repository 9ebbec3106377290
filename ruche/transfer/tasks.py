"""Imports in the background (django-tasks): `enqueue_import(run)` after the run is saved;
progress (rows_total, rows_done, errors_count) is stored on the run, `request_cancel(run)` stops
it at the next batch, and nothing of a cancelled import is kept. Whoever started the import
gets an email when it ends, and a message on their next page (ruche.transfer.web.notices)."""

from django.db import transaction
from django_tasks import task

from ruche.transfer.importers import execute
from ruche.transfer.models import ImportRun
from ruche.transfer.notices import notify_by_email
from ruche.transfer.progress import cancel_file, read_progress, request_cancel

__all__ = ["enqueue_import", "read_progress", "request_cancel", "run_import"]


@task()
def run_import(run_id: int) -> dict:
    run = ImportRun.objects.select_related("user").get(pk=run_id)
    if run.status != ImportRun.Status.PENDING:
        return run.report  # already run: safe to run twice
    if run.cancel_requested or cancel_file(run.pk).exists():
        run.status = ImportRun.Status.CANCELLED
        run.save(update_fields=["status"])
        cancel_file(run.pk).unlink(missing_ok=True)
        notify_by_email(run)
        return {}
    report = execute(run, count_rows=True).as_dict()
    notify_by_email(run)
    return report


def enqueue_import(run: ImportRun) -> None:
    transaction.on_commit(lambda: run_import.enqueue(run.pk))
