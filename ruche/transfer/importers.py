"""The import engine: a file is read once, streamed, inside ONE transaction.

Every row is parsed and checked (ruche.transfer.checks); each problem is an error {line, column,
reason}. A good row is written at once (ruche.transfer.writers) with the actor
`Actor.for_import(run.pk, user)`: new organisations, persons and deals are bulk-inserted with
their ChangeRecord and StageEntry rows (ruche.transfer.bulk); updates, products, deal lines,
activities and notes go through the domain services.

- `on_error: abort` (the default): at the first bad row writing stops, checking goes on so that
  every problem is listed, and the transaction is rolled back: nothing is written (status
  "invalid").
- `on_error: skip`: bad rows are left out and copied to `<file>.errors.csv` (their cells and the
  reasons), to be fixed and imported again; the good rows are committed together.
- A dry run rolls back in every case and reports what would have happened.

Each run keeps what it created (id ranges) and, for what it updated, the fields as they were,
so `ruche.transfer.undo.undo_import` can take it all back.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor
from ruche.forecasting.stage_tallies import take_writers_turn
from ruche.pipelines.models import Activity, Deal, DealLine, Pipeline
from ruche.transfer import parsing as p
from ruche.transfer.bulk import BulkWriter, HistorySink, id_ranges
from ruche.transfer.checks import Reference, RowChecks, RowErrors, _max_lengths, _reason
from ruche.transfer.mapping import PRICE, Mapping, field_kind
from ruche.transfer.models import ImportedRecord, ImportRun
from ruche.transfer.progress import Progress
from ruche.transfer.readers import ReadError, Table, open_table
from ruche.transfer.writers import DEAL_COLUMNS, ORG_COLUMNS, PERSON_COLUMNS, RowWriters

MAX_ERRORS_KEPT = 1000
BATCH = 2000
BULK_ENTITIES = ("organizations", "persons", "deals")


class Cancelled(Exception):
    pass


class _Rollback(Exception):
    pass


@dataclass
class Report:
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_count: int = 0
    related_created: dict[str, int] = field(default_factory=dict)
    custom_fields_created: list[str] = field(default_factory=list)
    bad_rows_file: str = ""
    dry_run: bool = False
    status: str = ""

    def error(self, line: int, column: str, reason: str) -> None:
        self.errors_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "column": column, "reason": reason})

    def as_dict(self) -> dict:
        return {
            "entity": self.entity,
            "status": self.status,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "errors_count": self.errors_count,
            "errors": self.errors,
            "related_created": self.related_created,
            "custom_fields_created": self.custom_fields_created,
            "bad_rows_file": self.bad_rows_file,
        }


class Importer(RowChecks, RowWriters):
    def __init__(
        self,
        *,
        run: ImportRun,
        mapping: Mapping,
        table: Table | None = None,
        id_maps: dict[str, dict[int, int]] | None = None,
        bad_rows_path: str | Path | None = None,
        skip_stage_history: bool = False,
    ):
        self.skip_stage_history = skip_stage_history
        self.run = run
        self.mapping = mapping
        self.entity = mapping.entity
        self.table = table or open_table(run.file_path)
        self.user = run.user
        self.actor = Actor.for_import(run.pk, run.user)
        self.ref = Reference()
        self.columns = mapping.resolved(self.table.headers, self.ref.stage_names())
        self.report = Report(self.entity, dry_run=run.dry_run)
        self.lengths = {
            "organizations": _max_lengths(Organization),
            "persons": _max_lengths(Person),
            "products": _max_lengths(Product),
            "deals": _max_lengths(Deal),
            "deal_lines": _max_lengths(DealLine),
            "activities": _max_lengths(Activity),
            "notes": {},
        }[self.entity]
        self.plan = [
            (
                header,
                target,
                self._parser(target, field_kind(self.entity, target)),
                target in mapping.values,
            )
            for header, target in self.columns.items()
        ]
        self.header_by_target: dict[str, str] = {}
        self.targets_by_prefix: dict[str, list[str]] = {}
        for header, target in self.columns.items():
            self.header_by_target.setdefault(target, header)
            if target.startswith(PRICE):  # a price per currency is the unit price
                self.header_by_target.setdefault("unit_price", header)
        self.id_maps = id_maps if id_maps is not None else {}
        self.bad_rows_path = Path(bad_rows_path) if bad_rows_path else None
        self.pipeline = self._default_pipeline()
        self.default_owner = self._default_owner()
        self.default_currency = (mapping.currency or self.ref.company.currency).upper()
        self.progress = Progress(run)

    def _default_pipeline(self) -> Pipeline | None:
        if self.mapping.pipeline:
            pipeline = self.ref.pipeline_by_name.get(p.normalise_key(self.mapping.pipeline))
            if pipeline is None:
                raise ValidationError({"pipeline": f"No pipeline named {self.mapping.pipeline!r}."})
            return pipeline
        return self.ref.pipelines[0] if self.ref.pipelines else None

    def _default_owner(self) -> int | None:
        if self.mapping.owner:
            owner = self.ref.user_by_email.get(self.mapping.owner.lower())
            if owner is None:
                raise ValidationError({"owner": f"No active user {self.mapping.owner!r}."})
            return owner
        return self.user.pk if self.user else None

    def process(self) -> None:
        """Read every row once: parse and check it, and write it unless it has problems. The
        caller holds the transaction; with `on_error: abort`, writing stops at the first bad row
        while checking goes on, so that every problem is listed, and the caller rolls back."""
        take_writers_turn()  # this import writes deals (ruche.forecasting.stage_tallies)
        self.sink = HistorySink(self.actor, self.run.pk)
        self.writers = {
            entity: BulkWriter(model, entity, columns, self.actor, self.run.pk)
            for entity, model, columns in (
                ("organization", Organization, ORG_COLUMNS),
                ("person", Person, PERSON_COLUMNS),
                ("deal", Deal, DEAL_COLUMNS),
            )
        }
        self.updated_records: list[tuple] = []
        self.deal_labels: list[tuple[int, int]] = []  # (deal, label) rows for new deals
        self.service_created: dict[str, list[int]] = {}
        self._ensure_custom_fields()
        write_row = getattr(self, f"_write_{self.entity}")
        writing = True
        skip_bad = self.mapping.on_error == "skip"
        self.bad_rows = None
        try:
            for chunk in self.chunks():
                for line, row in chunk:
                    self.report.rows += 1
                    try:
                        values = self.parse(row)
                        if writing:
                            self._write(write_row, values, line, savepoint=skip_bad)
                    except RowErrors as error:
                        self._bad_row(line, row, error.errors)
                        writing = writing and skip_bad
                    except ValidationError as error:
                        self._bad_row(line, row, [("", _reason(error))])
                        writing = writing and skip_bad
                self.flush()
                self.ref.end_chunk()
                self.progress.publish(self.report.rows, self.report.errors_count)
                if self.progress.cancelled():
                    raise Cancelled()
        finally:
            if self.bad_rows is not None:
                self.bad_rows[0].close()
                self.report.bad_rows_file = str(self.bad_rows_path)
        self.flush()
        for entity, writer in self.writers.items():
            self.sink.record_created_ranges(entity, writer.created)
        for entity, ids in self.service_created.items():
            self.sink.record_created_ranges(entity, id_ranges(ids))
        self.progress.publish(self.report.rows, self.report.errors_count)

    def _write(self, write_row, values: dict, line: int, *, savepoint: bool) -> None:
        if savepoint and self.entity not in BULK_ENTITIES:
            # A savepoint, so that a row the domain service refuses is left out.
            with transaction.atomic():
                write_row(values, line)
        else:
            write_row(values, line)

    def chunks(self) -> Iterator[list[tuple[int, dict]]]:
        """The file's rows, BATCH at a time, with the records they name looked up at once."""
        chunk: list[tuple[int, dict]] = []
        for item in self.table.rows():
            chunk.append(item)
            if len(chunk) == BATCH:
                self.prefetch(chunk)
                yield chunk
                chunk = []
        if chunk:
            self.prefetch(chunk)
            yield chunk

    def close(self) -> None:
        self.progress.close()
        self.ref.close()

    def _bad_row(self, line: int, row: dict, errors: list[tuple[str, str]]) -> None:
        for column, reason in errors:
            self.report.error(line, column, reason)
        if self.mapping.on_error != "skip" or not self.bad_rows_path:
            return
        if self.bad_rows is None:
            # Closed by process() when the file is read through.
            handle = open(self.bad_rows_path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
            self.bad_rows = (handle, csv.writer(handle, delimiter=";"))
            self.bad_rows[1].writerow([*self.table.headers, "Erreurs / errors"])
        reasons = " | ".join(f"{c}: {r}" if c else r for c, r in errors)
        cells = ["" if row.get(h) is None else row.get(h) for h in self.table.headers]
        self.bad_rows[1].writerow([*cells, reasons])


def execute(
    run: ImportRun,
    *,
    table: Table | None = None,
    id_maps=None,
    bad_rows_path=None,
    mapping: Mapping | None = None,
    skip_stage_history: bool = False,
    count_rows: bool = False,
) -> Report:
    """Run one import in one transaction; the run's status and report are saved at the end."""
    run.status = ImportRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    mapping = mapping or Mapping.from_dict(run.mapping, run.entity)
    importer = None
    try:
        if bad_rows_path is None and mapping.on_error == "skip":
            path = Path(run.file_path)
            bad_rows_path = path.with_name(f"{path.stem}.errors.csv")
        importer = Importer(
            run=run,
            mapping=mapping,
            table=table,
            id_maps=id_maps,
            bad_rows_path=bad_rows_path,
            skip_stage_history=skip_stage_history,
        )
        report = importer.report
        if count_rows:  # for the progress bar of a background import
            run.rows_total = importer.table.count_rows()
            ImportRun.objects.filter(pk=run.pk).update(rows_total=run.rows_total)
            importer.progress.publish(0, 0, run.rows_total)
        try:
            with transaction.atomic():
                importer.process()
                if report.errors_count and mapping.on_error == "abort":
                    report.status = ImportRun.Status.INVALID
                    raise _Rollback()
                report.status = ImportRun.Status.DONE
                if run.dry_run:
                    raise _Rollback()
        except _Rollback:
            pass
        if report.status == ImportRun.Status.INVALID:
            # Nothing was written: the rows that would have been are not counted either.
            report.created = report.updated = report.skipped = 0
            report.related_created = {}
            report.custom_fields_created = []
    except Cancelled:
        report = importer.report
        report.status = ImportRun.Status.CANCELLED
    except (ReadError, ValidationError, ValueError) as error:
        report = importer.report if importer else Report(run.entity, dry_run=run.dry_run)
        report.status = ImportRun.Status.FAILED
        run.message = _reason(error)
    finally:
        if importer is not None:
            importer.close()
    if report.status == ImportRun.Status.DONE and run.dry_run:
        ImportedRecord.objects.filter(run=run).delete()
    run.status = report.status
    run.report = report.as_dict()
    run.rows_total = report.rows
    run.rows_done = report.rows
    run.errors_count = report.errors_count
    run.finished_at = timezone.now()
    run.save()
    return report


def start_run(*, user, entity: str, path: str | Path, mapping: Mapping, dry_run=False) -> ImportRun:
    return ImportRun.objects.create(
        user=user,
        entity=mapping.entity or entity,
        file_path=str(path),
        file_name=Path(path).name,
        mapping=mapping.to_dict(),
        dry_run=dry_run,
    )


def import_file(
    *, user, path, mapping: Mapping, dry_run=False, **kwargs
) -> tuple[ImportRun, Report]:
    run = start_run(user=user, entity=mapping.entity, path=path, mapping=mapping, dry_run=dry_run)
    report = execute(run, mapping=mapping, **kwargs)
    return run, report
