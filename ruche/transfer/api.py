"""Imports over the API: upload a file with its mapping and start it in the background, follow
its progress and report, cancel it, undo it. The same services as the web pages; admins and
managers only, each seeing their own imports (admins every import)."""

import datetime as dt
import json

from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from ruche.api.schemas import Id, envelope, ok
from ruche.core.exceptions import ValidationError
from ruche.transfer import services
from ruche.transfer.models import ImportRun
from ruche.transfer.tasks import read_progress
from ruche.transfer.undo import undo_import

router = Router(tags=["Imports and exports"])


class ImportOut(Schema):
    id: int
    entity: str
    file_name: str
    status: str
    dry_run: bool
    user_id: int | None
    rows_total: int
    rows_done: int
    errors_count: int
    mapping: dict
    report: dict
    message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


def _shown(run: ImportRun) -> dict:
    """The run with its live progress (ruche.transfer.progress) while it runs."""
    progress = read_progress(run)
    data = ImportOut.from_orm(run).model_dump()
    return data | {key: progress[key] for key in ("rows_total", "rows_done", "errors_count")}


def _mapping_data(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationError({"mapping": f"Not JSON: {error.msg}."}) from None
    if not isinstance(data, dict):
        raise ValidationError({"mapping": "A JSON object is expected."})
    return data


@router.post(
    "/imports",
    response={201: envelope(ImportOut)},
    operation_id="addImport",
    summary="Upload a CSV or XLSX file and import it in the background",
    description=(
        "`mapping` is the JSON of a mapping file (see docs/import.md); columns it does not "
        "name are proposed from their headers. `start=false` keeps the import as a draft."
    ),
)
def add_import(
    request,
    file: File[UploadedFile],
    entity: Form[str],
    mapping: Form[str | None] = None,
    on_error: Form[str | None] = None,
    dry_run: Form[bool] = False,
    start: Form[bool] = True,
):
    options = _mapping_data(mapping)
    run = services.import_upload(user=request.auth, entity=entity, upload=file)
    try:
        services.import_set_mapping(run=run, options=options)
        if start:
            services.import_start(run=run, on_error=on_error, dry_run=dry_run)
    except ValidationError:
        services.discard_draft(run)
        raise
    return Status(201, ok(_shown(run)))


@router.get(
    "/imports/{int:id}",
    response=envelope(ImportOut),
    operation_id="getImport",
    summary="Status, progress (rows done out of the total, errors so far) and report",
)
def get_import(request, id: Id):
    return ok(_shown(services.access_import_run(request.auth, id)))


@router.post(
    "/imports/{int:id}/cancel",
    response=envelope(ImportOut),
    operation_id="cancelImport",
    summary="Stop a running import at its next batch of rows; nothing of it is kept",
)
def cancel_import(request, id: Id):
    run = services.import_cancel(run=services.access_import_run(request.auth, id))
    return ok(_shown(run))


@router.post(
    "/imports/{int:id}/undo",
    response=envelope(ImportOut),
    operation_id="undoImport",
    summary="Undo a done import as a whole",
)
def undo(request, id: Id):
    run = services.access_import_run(request.auth, id)
    undo_import(run=run, user=request.auth)
    run.refresh_from_db()
    return ok(_shown(run))
