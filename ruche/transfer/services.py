"""Imports started from the web or the API: upload a file, choose the mapping, check a
preview, start the background run, cancel it, undo it. The CLI runs the same engine
(ruche.transfer.importers) in the foreground.

Admins and managers import; each sees their own imports, admins every import.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.models import Lookup
from ruche.transfer.checks import Reference, RowErrors, _reason
from ruche.transfer.importers import Importer
from ruche.transfer.mapping import FIELDS, Mapping, MappingError, canonical_entity, propose
from ruche.transfer.models import ImportRun, SavedMapping
from ruche.transfer.parsing import normalise_key
from ruche.transfer.readers import ReadError, open_table
from ruche.transfer.tasks import enqueue_import, request_cancel

EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")
PREVIEW_ROWS = 10
PREVIEW_CHECKED_ROWS = 5000
MAX_PROBLEMS_SHOWN = 500
MAX_DISTINCT_VALUES = 100
# Fields whose cell values can be translated to what Ruche knows.
VALUE_TARGETS = ("stage", "owner", "lost_reason")


def can_import(user) -> bool:
    return user.is_active and (user.is_admin or user.is_manager)


def import_run_list(*, user) -> QuerySet[ImportRun]:
    runs = ImportRun.objects.select_related("user")
    return runs if user.is_admin else runs.filter(user=user)


def access_import_run(user, run_id: int) -> ImportRun:
    """The run if the user may see it (an admin: every run; a manager: their own)."""
    if not can_import(user):
        raise NotFound("No such import.")
    run = import_run_list(user=user).filter(pk=run_id).first()
    if run is None:
        raise NotFound("No such import.")
    return run


def _upload_directory() -> Path:
    path = Path(settings.VAR_DIR) / "imports" / "uploads" / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def _headers_key(headers: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(headers)).encode()).hexdigest()


def import_upload(*, user, entity: str, upload) -> ImportRun:
    """Keep the uploaded file and open a draft run whose mapping is the one remembered for
    these headers, else the proposal from the header names."""
    if not can_import(user):
        raise PermissionDenied("Only an admin or a manager can import.")
    try:
        entity = canonical_entity(entity or "")
    except MappingError as error:
        raise ValidationError({"entity": str(error)}) from None
    if upload is None:
        raise ValidationError({"file": "Choose a file to import."})
    name = Path(upload.name or "").name
    if Path(name).suffix.lower() not in EXTENSIONS:
        raise ValidationError({"file": "A CSV or XLSX file is expected."})
    directory = _upload_directory()
    path = directory / f"upload{Path(name).suffix.lower()}"
    with open(path, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    try:
        headers = open_table(path).headers
    except (ReadError, csv.Error, UnicodeError) as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise ValidationError({"file": str(error)}) from None
    return ImportRun.objects.create(
        user=user,
        entity=entity,
        file_path=str(path),
        file_name=name,
        mapping=Mapping(entity=entity, columns=initial_columns(entity, headers)).to_dict(),
        status=ImportRun.Status.DRAFT,
    )


def initial_columns(entity: str, headers: list[str]) -> dict[str, str | None]:
    saved = SavedMapping.objects.filter(entity=entity, headers_key=_headers_key(headers)).first()
    if saved is not None:
        return {header: saved.columns.get(header) for header in headers}
    proposal = propose(entity, headers, Reference().stage_names())
    return {header: proposal.get(header) for header in headers}


def discard_draft(run: ImportRun) -> None:
    """A draft refused before it started leaves nothing behind, its file included."""
    _draft(run)
    shutil.rmtree(Path(run.file_path).parent, ignore_errors=True)
    run.delete()


def run_headers(run: ImportRun) -> list[str]:
    try:
        return open_table(run.file_path).headers
    except ReadError as error:
        raise ValidationError({"file": str(error)}) from None


def _draft(run: ImportRun) -> None:
    if run.status != ImportRun.Status.DRAFT:
        raise ValidationError({"status": f"Import #{run.pk} is {run.status}: it has started."})


def import_set_mapping(
    *, run: ImportRun, columns: dict | None = None, values: dict | None = None, options=None
) -> ImportRun:
    """Change the draft's mapping (columns, values, and the options of ruche.transfer.mapping)
    and remember it for the next file with the same headers."""
    _draft(run)
    headers = run_headers(run)
    data = {**run.mapping, **(options or {})}
    if columns is not None:
        data["columns"] = {header: columns.get(header) or None for header in headers}
    if not isinstance(data.get("columns"), dict):
        raise ValidationError({"columns": "An object {column: field} is expected."})
    unknown = [header for header in data["columns"] if header not in headers]
    if unknown:
        raise ValidationError({"columns": f"No column {unknown[0]!r} in the file."})
    if values is not None:
        data["values"] = {
            target: {raw: new for raw, new in table.items() if new}
            for target, table in values.items()
        }
    try:
        mapping = Mapping.from_dict(data, run.entity)
    except (TypeError, ValueError, AttributeError) as error:  # MappingError is a ValueError
        raise ValidationError({"mapping": str(error)}) from None
    run.mapping = mapping.to_dict()
    run.save(update_fields=["mapping"])
    SavedMapping.objects.update_or_create(
        entity=run.entity,
        headers_key=_headers_key(headers),
        defaults={"columns": mapping.columns, "values": mapping.values},
    )
    return run


def import_start(
    *, run: ImportRun, on_error: str | None = None, dry_run: bool = False
) -> ImportRun:
    """Start the draft in the background; its user is told when it ends."""
    _draft(run)
    if on_error is not None:
        if on_error not in ("abort", "skip"):
            raise ValidationError({"on_error": "One of abort, skip."})
        run.mapping = {**run.mapping, "on_error": on_error}
    run.status = ImportRun.Status.PENDING
    run.dry_run = dry_run
    run.notified = False
    run.save(update_fields=["mapping", "status", "dry_run", "notified"])
    enqueue_import(run)
    return run


def import_cancel(*, run: ImportRun) -> ImportRun:
    if run.status not in (ImportRun.Status.PENDING, ImportRun.Status.RUNNING):
        raise ValidationError({"status": f"Import #{run.pk} is {run.status}: it is not running."})
    request_cancel(run)
    return run


# Value mapping ---------------------------------------------------------------------------


@dataclass
class ValueChoice:
    """The distinct values of the column(s) feeding `target`, and what Ruche knows."""

    target: str
    columns: list[str]
    found: list[str] = field(default_factory=list)
    known: list[tuple[str, str]] = field(default_factory=list)  # (value to store, label)
    chosen: dict[str, str] = field(default_factory=dict)


def _known_values(target: str) -> list[tuple[str, str]]:
    if target == "stage":
        names = dict.fromkeys(Reference().stage_names())
        return [(name, name) for name in names]
    if target == "owner":
        users = get_user_model().objects.filter(is_active=True).order_by("name", "email")
        return [(u.email, f"{u.name} <{u.email}>" if u.name else u.email) for u in users]
    reasons = Lookup.objects.filter(kind="loss_reason").order_by("name")
    return [(name, name) for name in reasons.values_list("name", flat=True)]


def value_choices(run: ImportRun) -> list[ValueChoice]:
    """For stage, owner and loss reason columns: the values found in the file (the first
    MAX_DISTINCT_VALUES of each), each with the known value it maps to, if any."""
    mapping = Mapping.from_dict(run.mapping, run.entity)
    table = open_table(run.file_path)
    columns = mapping.resolved(table.headers, Reference().stage_names())
    choices = []
    for target in VALUE_TARGETS:
        feeding = [header for header, to in columns.items() if to == target]
        if feeding and target in FIELDS[run.entity]:
            choices.append(ValueChoice(target, feeding))
    if not choices:
        return []
    for _line, row in table.rows():
        for choice in choices:
            for header in choice.columns:
                raw = str(row.get(header) or "").strip()
                if raw and raw not in choice.found and len(choice.found) < MAX_DISTINCT_VALUES:
                    choice.found.append(raw)
    for choice in choices:
        choice.known = _known_values(choice.target)
        by_key = {normalise_key(value): value for value, _label in choice.known}
        if choice.target == "owner":  # a user is named by email or by name
            users = get_user_model().objects.filter(is_active=True).exclude(name="")
            by_key |= {
                normalise_key(name): email for name, email in users.values_list("name", "email")
            }
        saved = mapping.values.get(choice.target, {})
        for raw in choice.found:
            choice.chosen[raw] = saved.get(raw) or by_key.get(normalise_key(raw), "")
    return choices


# Preview ---------------------------------------------------------------------------------


@dataclass
class Preview:
    headers: list[str]
    columns: dict[str, str]  # header -> field
    rows: list[tuple[int, list[str]]]
    problems: list[dict]
    problems_count: int
    checked_rows: int
    complete: bool  # every row of the file was checked


def import_preview(run: ImportRun) -> Preview:
    """The first rows as they are mapped, and every problem found in the first
    PREVIEW_CHECKED_ROWS rows; nothing is written."""
    mapping = Mapping.from_dict(run.mapping, run.entity)
    try:
        importer = Importer(run=run, mapping=mapping)
    except ReadError as error:
        raise ValidationError({"file": str(error)}) from None
    headers = importer.table.headers
    preview = Preview(headers, importer.columns, [], [], 0, 0, True)
    try:
        for chunk in importer.chunks():
            for line, row in chunk:
                if preview.checked_rows == PREVIEW_CHECKED_ROWS:
                    preview.complete = False
                    return preview
                preview.checked_rows += 1
                if len(preview.rows) < PREVIEW_ROWS:
                    preview.rows.append(
                        (line, ["" if row.get(h) is None else str(row[h]) for h in headers])
                    )
                _check_row(importer, line, row, preview)
    finally:
        importer.close()
    return preview


def _check_row(importer: Importer, line: int, row: dict, preview: Preview) -> None:
    try:
        importer.parse(row)
    except RowErrors as error:
        problems = error.errors
    except ValidationError as error:
        problems = [("", _reason(error))]
    else:
        return
    preview.problems_count += len(problems)
    if len(preview.problems) < MAX_PROBLEMS_SHOWN:
        preview.problems += [{"line": line, "column": c, "reason": r} for c, r in problems]


def bad_rows(run: ImportRun) -> Iterator[list[str]]:
    """The rows a `skip` import left out, with their reasons, to be fixed and imported again
    (read as the download streams them)."""
    path = run.report.get("bad_rows_file")
    if not path or not Path(path).is_file():
        raise NotFound("This import left no rows out.")
    return _read_rows(Path(path))


def _read_rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle, delimiter=";")
