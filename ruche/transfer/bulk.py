"""Fast creation of many organisations, persons and deals inside the import's transaction.

Ids are reserved up front (PostgreSQL: the table's sequence; SQLite: after the highest id or
sequence value, safe because the import holds SQLite's write lock from the start of its
transaction), so a row can be referred to before it is written. Rows are then sent with
`ruche.demo.bulk.BulkTable` (executemany / COPY), together with their history (ChangeRecord
"created"), stage entries and the import's record of what it created, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache, reduce
from operator import itemgetter, or_

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from ruche.core.history import Actor, json_safe
from ruche.core.models import ChangeRecord
from ruche.demo.bulk import BulkTable
from ruche.pipelines.models import StageEntry
from ruche.transfer.models import ImportedRecord

BLOCK = 1000


class Table(BulkTable):
    """BulkTable whose date and time conversions are cached: an import repeats the same few
    thousand dates (and one "now") over its rows. JSON columns holding {} skip the encoder."""

    def __init__(self, model, columns):
        super().__init__(model, columns)
        adapters = []
        for index, adapt in self.adapters:
            field = self.fields[index]
            if isinstance(field, models.JSONField):
                adapters.append((index, _json_adapter(adapt)))
            else:
                adapters.append((index, lru_cache(maxsize=1024)(adapt)))
        self.adapters = adapters


def _json_adapter(adapt):
    empty = adapt({})
    return lambda value: empty if value == {} else adapt(value)


class IdAllocator:
    def __init__(self, model: type[models.Model]):
        self.model = model
        self.table = model._meta.db_table
        self.free: list[int] = []
        self.next_sqlite: int | None = None

    def take(self) -> int:
        if not self.free:
            self.free = self._reserve(BLOCK)
            self.free.reverse()
        return self.free.pop()

    def _reserve(self, count: int) -> list[int]:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [self.table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            if self.next_sqlite is None:
                quoted = connection.ops.quote_name(self.table)
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")
                highest = cursor.fetchone()[0]
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
                row = cursor.fetchone()
                self.next_sqlite = max(highest, row[0] if row else 0) + 1
            start = self.next_sqlite
            self.next_sqlite += count
            return list(range(start, start + count))


class BulkWriter:
    """Buffers new rows of one model (as dicts keyed by id) and writes them in batches."""

    def __init__(self, model, entity: str, columns: Sequence[str], actor: Actor, run_id: int):
        self.model = model
        self.entity = entity
        self.columns = ("id", *columns)
        self.table = Table(model, self.columns)
        # A row's values in column order; every writer gives every column.
        self.row_values = itemgetter(*columns)
        self.ids = IdAllocator(model)
        self.pending: dict[int, dict] = {}
        self.history: dict[int, dict] = {}
        self.actor = actor
        self.run_id = run_id
        # What was written, as [first, last] id ranges: ids are reserved in blocks, so a few
        # ranges hold a whole import, whatever its size.
        self.created: list[list[int]] = []

    def add(self, values: dict, history: dict) -> int:
        pk = self.ids.take()
        self.pending[pk] = values
        self.history[pk] = history
        return pk

    def flush(self, sink: HistorySink) -> None:
        if not self.pending:
            return
        row_values = self.row_values
        rows = [(pk, *row_values(values)) for pk, values in self.pending.items()]
        self.table.write(rows)
        for pk, values in self.history.items():
            sink.created(self.entity, pk, values)
        for pk in self.pending:
            if self.created and self.created[-1][1] == pk - 1:
                self.created[-1][1] = pk
            else:
                self.created.append([pk, pk])
        self.pending.clear()
        self.history.clear()


class HistorySink:
    """ChangeRecord, StageEntry and ImportedRecord rows written in batches."""

    def __init__(self, actor: Actor, run_id: int):
        self.actor = actor
        self.run_id = run_id
        self.changes = Table(
            ChangeRecord,
            (
                "entity",
                "entity_id",
                "event",
                "field",
                "old_value",
                "new_value",
                "actor_kind",
                "actor_user",
                "actor_label",
                "time",
            ),
        )
        self.entries_table = Table(
            StageEntry, ("deal", "pipeline", "stage", "from_stage", "entered_at", "left_at")
        )
        self.records_table = Table(
            ImportedRecord, ("run", "entity", "record_id", "action", "before")
        )
        self.change_rows: list[tuple] = []
        self.entry_rows: list[tuple] = []
        self.now = timezone.now()
        # The same actor and time on every "created" record of the run.
        self.signature = (
            actor.kind,
            actor.user.pk if actor.user else None,
            actor.label,
            self.now,
        )

    def created(self, entity: str, pk: int, values: dict) -> None:
        self.change_rows.append(
            (entity, pk, ChangeRecord.Event.CREATED, "", None, _flat(values), *self.signature)
        )

    def stage_entry(self, deal_id, pipeline_id, stage_id, from_stage_id, entered_at, left_at):
        self.entry_rows.append((deal_id, pipeline_id, stage_id, from_stage_id, entered_at, left_at))

    def flush(self) -> None:
        self.changes.write(self.change_rows)
        self.entries_table.write(self.entry_rows)
        self.change_rows = []
        self.entry_rows = []

    def record_created_ranges(self, entity: str, ranges: list) -> None:
        """What the import created, as ranges of ids: {"last": id} on the first id."""
        rows = [
            (self.run_id, entity, first, ImportedRecord.Action.CREATED, {"last": last})
            for first, last in ranges
        ]
        self.records_table.write(rows)


_PLAIN = (str, int, bool, type(None))


def _flat(values: dict) -> dict:
    """json_safe for a flat dict of mostly plain values, without the recursion's cost."""
    out = {}
    for key, value in values.items():
        if isinstance(value, _PLAIN):
            out[key] = value
        elif isinstance(value, dt.date):  # datetimes too
            out[key] = value.isoformat()
        else:
            out[key] = json_safe(value)
    return out


def id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """[(first, last)] of consecutive ids."""
    ranges: list[tuple[int, int]] = []
    for pk in sorted(ids):
        if ranges and ranges[-1][1] == pk - 1:
            ranges[-1] = (ranges[-1][0], pk)
        else:
            ranges.append((pk, pk))
    return ranges


def id_ranges_q(field: str, ranges) -> Q:
    """A filter on `field` matching the ids of `ranges` ([(first, last)]); none when empty."""
    bounded = (Q(**{f"{field}__gte": first, f"{field}__lte": last}) for first, last in ranges)
    return reduce(or_, bounded, Q(pk__in=[]))
