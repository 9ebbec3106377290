"""Import pages: upload, column mapping, value mapping, preview, then the background run with
its progress, cancel, rows to fix and undo. Admins and managers only (403 for others); a run
someone may not see is a 404. Every write goes through ruche.transfer.services."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from ruche.core.exceptions import RucheError
from ruche.core.models import CustomField
from ruche.core.spreadsheets import download
from ruche.transfer import services
from ruche.transfer.checks import Reference
from ruche.transfer.mapping import (
    CUSTOM,
    CUSTOM_FIELD_ENTITY,
    FIELDS,
    PRICE,
    STAGE_ENTERED,
    Mapping,
)
from ruche.transfer.models import ImportRun
from ruche.transfer.notices import STATUS_LABELS, announce_finished_imports
from ruche.transfer.tasks import read_progress
from ruche.transfer.undo import undo_import
from ruche.transfer.web.labels import (
    DUPLICATE_LABELS,
    ENTITY_LABELS,
    FIELD_LABELS,
    VALUE_TARGET_LABELS,
)
from ruche.web.views.common import error_text, role_view

RECENT_RUNS = 20
# The services' fixed refusals met on these pages, translated for the web.
IMPORT_MESSAGES = [
    gettext_noop("Choose a file to import."),
    gettext_noop("A CSV or XLSX file is expected."),
    gettext_noop("One of abort, skip."),
]


# Signed in, and an admin or a manager (else 403).
importer_view = role_view(services.can_import)


def _page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    if "HX-Request" not in request.headers:
        announce_finished_imports(request)
    return render(request, f"transfer/{template}", context, status=status)


@importer_view
def import_home(request: HttpRequest) -> HttpResponse:
    error, entity = None, request.POST.get("entity", "deals")
    if request.method == "POST":
        try:
            run = services.import_upload(
                user=request.user, entity=entity, upload=request.FILES.get("file")
            )
        except RucheError as refusal:
            error = _field_error(refusal)
        else:
            return redirect("web:import_mapping", run_id=run.pk)
    runs = services.import_run_list(user=request.user)[:RECENT_RUNS]
    context = {
        "entities": ENTITY_LABELS.items(),
        "entity": entity,
        "error": error,
        "runs": [(run, STATUS_LABELS[run.status]) for run in runs],
    }
    return _page(request, "home.html", context, status=422 if error else 200)


def _field_error(refusal: RucheError) -> str:
    """The refusal preceded by the field it names, translated where it is a fixed message."""
    labels = {"file": _("File"), "entity": _("What to import"), "on_error": _("On errors")}
    if not refusal.field_errors:
        return error_text(refusal)
    return " ".join(
        _("%(field)s: %(message)s") % {"field": labels.get(name, name), "message": _(message)}
        for name, message in refusal.field_errors.items()
    )


def _draft(request, run_id: int) -> ImportRun:
    return services.access_import_run(request.user, run_id)


def _target_options(run: ImportRun, current: dict) -> list[tuple[str, str]]:
    """Every field a column of this entity can go to, the entity's custom fields and, for
    deals, the date a stage was entered."""
    options = [(target, FIELD_LABELS[target]) for target in FIELDS[run.entity]]
    cf_entity = CUSTOM_FIELD_ENTITY.get(run.entity)
    if cf_entity:
        names = CustomField.objects.filter(entity=cf_entity).values_list("name", flat=True)
        options += [(CUSTOM + name, _("Custom field: %s") % name) for name in names]
    if run.entity == "deals":
        for stage in dict.fromkeys(Reference().stage_names()):
            options.append((STAGE_ENTERED + stage, _("Date entered in %s") % stage))
    prices = sorted({t for t in current.values() if t and t.startswith(PRICE)})
    options += [(t, _("Unit price in %s") % t[len(PRICE) :]) for t in prices]
    known = {value for value, _label in options}
    options += [(t, t) for t in current.values() if t and t not in known]
    return options


@importer_view
def import_mapping(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _draft(request, run_id)
    if run.status != ImportRun.Status.DRAFT:
        return redirect("web:import_run", run_id=run.pk)
    error = None
    headers = services.run_headers(run)
    if request.method == "POST":
        columns = {
            header: request.POST.get(f"column-{index}") for index, header in enumerate(headers)
        }
        options = {
            "duplicates": request.POST.get("duplicates", "update"),
            "create_related": request.POST.get("create_related") == "on",
            "custom_fields": "create" if request.POST.get("custom_fields") == "on" else "ignore",
        }
        try:
            services.import_set_mapping(run=run, columns=columns, options=options)
        except RucheError as refusal:
            error = _field_error(refusal)
        else:
            return redirect("web:import_values", run_id=run.pk)
    mapping = Mapping.from_dict(run.mapping, run.entity)
    current = {header: mapping.columns.get(header) for header in headers}
    context = {
        "run": run,
        "entity_label": ENTITY_LABELS[run.entity],
        "headers": [(index, header, current[header]) for index, header in enumerate(headers)],
        "options": _target_options(run, current),
        "mapping": mapping,
        "duplicates": DUPLICATE_LABELS.items(),
        "step": "mapping",
        "error": error,
    }
    return _page(request, "mapping.html", context, status=422 if error else 200)


@importer_view
def import_values(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _draft(request, run_id)
    if run.status != ImportRun.Status.DRAFT:
        return redirect("web:import_run", run_id=run.pk)
    choices = services.value_choices(run)
    if request.method == "POST" or not choices:
        values = {
            choice.target: {
                raw: request.POST.get(f"value-{choice.target}-{index}", "")
                for index, raw in enumerate(choice.found)
            }
            for choice in choices
        }
        services.import_set_mapping(run=run, values=values)
        return redirect("web:import_preview", run_id=run.pk)
    context = {
        "run": run,
        "step": "values",
        "choices": [
            (
                VALUE_TARGET_LABELS[choice.target],
                choice,
                [(index, raw, choice.chosen[raw]) for index, raw in enumerate(choice.found)],
            )
            for choice in choices
        ],
    }
    return _page(request, "values.html", context)


@importer_view
def import_preview(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _draft(request, run_id)
    if run.status != ImportRun.Status.DRAFT:
        return redirect("web:import_run", run_id=run.pk)
    error = None
    if request.method == "POST":
        try:
            services.import_start(run=run, on_error=request.POST.get("on_error"))
        except RucheError as refusal:
            error = _field_error(refusal)
        else:
            return redirect("web:import_run", run_id=run.pk)
    try:
        preview = services.import_preview(run)
    except RucheError as refusal:
        messages.error(request, _field_error(refusal))
        return redirect("web:import_mapping", run_id=run.pk)
    context = {
        "run": run,
        "preview": preview,
        "step": "preview",
        "mapped": [
            FIELD_LABELS.get(preview.columns.get(h), preview.columns.get(h, ""))
            for h in preview.headers
        ],
        "on_error": Mapping.from_dict(run.mapping, run.entity).on_error,
        "error": error,
    }
    return _page(request, "preview.html", context, status=422 if error else 200)


def _run_context(run: ImportRun) -> dict:
    progress = read_progress(run)
    total = progress["rows_total"]
    return {
        "run": run,
        "status_label": STATUS_LABELS[run.status],
        "progress": progress,
        "percent": int(100 * progress["rows_done"] / total) if total else 0,
        "active": run.status in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING),
        "report": run.report or {},
    }


@importer_view
def import_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = services.access_import_run(request.user, run_id)
    if run.status == ImportRun.Status.DRAFT:
        return redirect("web:import_mapping", run_id=run.pk)
    response = _page(request, "run.html", _run_context(run))
    if run.status in ImportRun.FINISHED and not run.notified:
        ImportRun.objects.filter(pk=run.pk).update(notified=True)  # seen here
    return response


@importer_view
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    run = services.access_import_run(request.user, run_id)
    context = _run_context(run)
    if not context["active"] and not run.notified:
        ImportRun.objects.filter(pk=run.pk).update(notified=True)
    return render(request, "transfer/progress.html", context)


@require_POST
@importer_view
def import_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = services.access_import_run(request.user, run_id)
    try:
        services.import_cancel(run=run)
    except RucheError as refusal:
        messages.error(request, _field_error(refusal))
    else:
        messages.info(request, _("The import stops at its next batch of rows; nothing is kept."))
    return redirect("web:import_run", run_id=run.pk)


@require_POST
@importer_view
def import_undo(request: HttpRequest, run_id: int) -> HttpResponse:
    run = services.access_import_run(request.user, run_id)
    try:
        counts = undo_import(run=run, user=request.user)
    except RucheError as refusal:
        messages.error(request, error_text(refusal))
    else:
        messages.success(
            request,
            _("Import undone: %(deleted)s records deleted, %(restored)s restored.") % counts,
        )
    return redirect("web:import_run", run_id=run.pk)


@importer_view
def import_bad_rows(request: HttpRequest, run_id: int) -> HttpResponse:
    run = services.access_import_run(request.user, run_id)
    return download(services.bad_rows(run), f"import-{run.pk}-rows-to-fix")
