"""What an import matches rows against (organisations, persons and deals by external id, SIREN,
normalised name or email) lives in a temporary table of the import's own database connection,
not in Python dicts, so that memory does not grow with the number of records.

The file is read in chunks. Before a chunk, `Importer` prefetches the keys the chunk's cells
name (one query per kind of key); a key the prefetch did not foresee costs one query. What
the chunk creates is known at once to the rest of the chunk, and written to the table when
the chunk ends. Existing records are copied into the table, streamed, on first use.

The first record with a key wins (the lowest id), as a dict's setdefault would.

A chunk's keys go to the database as ONE list parameter (a JSON array read by json_each on
SQLite, an array on PostgreSQL), not as one placeholder per key: every lookup is then the same
statement, prepared once, where lists of varying length made a new statement each time, and
SQLite's statement cache grew with the file (about 0.13 KB a deal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from django.db import connection

from ruche.contacts.models import Organization, Person
from ruche.pipelines.models import Deal
from ruche.transfer import parsing as p

TABLE = "transfer_match_keys"
INSERT_BATCH = 5000


def in_list(column: str) -> str:
    """SQL testing `column` against a list given as one parameter (see `list_param`)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def list_param(values: list):
    return values if connection.vendor == "postgresql" else json.dumps(values)


class KeyStore:
    """The temporary table: (kind, key, pk) rows, e.g. ("organization.name", "acme", 12)."""

    def __init__(self):
        self.opened = False

    def open(self) -> None:
        if self.opened:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {TABLE} "
                "(kind varchar(32) NOT NULL, match_key text NOT NULL, pk bigint NOT NULL)"
            )
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_idx ON {TABLE} (kind, match_key)")
            cursor.execute(f"DELETE FROM {TABLE}")
        self.opened = True

    def close(self) -> None:
        if self.opened:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
            self.opened = False

    def insert(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Batches of rows: `rows` may stream from a query on the same connection, which
        cannot run while a COPY is in progress."""
        self.open()
        batch: list[tuple[str, str, int]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                self._insert(batch)
                batch = []
        if batch:
            self._insert(batch)

    @staticmethod
    def _insert(rows: list[tuple[str, str, int]]) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {TABLE} (kind, match_key, pk) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO {TABLE} (kind, match_key, pk) VALUES (%s, %s, %s)", rows
                )

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        self.open()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT match_key, MIN(pk) FROM {TABLE} WHERE kind = %s "
                f"AND {in_list('match_key')} GROUP BY match_key",
                [kind, list_param(keys)],
            )
            return dict(cursor.fetchall())


class KeyMap:
    """One kind of key, read like a dict: what this chunk looked up or created, and the
    table for the rest."""

    def __init__(self, store: KeyStore, kind: str):
        self.store = store
        self.kind = kind
        self.known: dict[str, int | None] = {}
        self.new: dict[str, int] = {}

    def prefetch(self, keys: Iterable[str]) -> None:
        missing = list({key for key in keys if key and key not in self.known})
        if missing:
            found = self.store.lookup(self.kind, missing)
            for key in missing:
                self.known[key] = found.get(key)

    def get(self, key, default=None):
        if key not in self.known:
            self.prefetch([key])
        value = self.known.get(key)
        return default if value is None else value

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key) -> int:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def setdefault(self, key: str, pk: int) -> int:
        existing = self.get(key)
        if existing is not None:
            return existing
        self.known[key] = self.new[key] = pk
        return pk

    def end_chunk(self) -> None:
        self.store.insert((self.kind, key, pk) for key, pk in self.new.items())
        self.new.clear()
        self.known.clear()


class OrgSources:
    """An organisation's source, which a deal without one takes: looked up per chunk."""

    def __init__(self):
        self.known: dict[int, int | None] = {}

    def prefetch(self, org_ids: Iterable[int]) -> None:
        missing = list({pk for pk in org_ids if pk and pk not in self.known})
        if missing:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, source_id FROM {Organization._meta.db_table} "
                    f"WHERE {in_list('id')}",
                    [list_param(missing)],
                )
                found = dict(cursor.fetchall())
            for pk in missing:
                self.known[pk] = found.get(pk)

    def get(self, org_id, default=None):
        if org_id is None:
            return default
        if org_id not in self.known:
            self.prefetch([org_id])
        value = self.known[org_id]
        return default if value is None else value

    def __setitem__(self, org_id: int, source: int | None) -> None:
        self.known[org_id] = source

    def end_chunk(self) -> None:
        self.known.clear()


def existing_keys(entity: str) -> Iterator[tuple[str, str, int]]:
    """The keys of the records already in the database, streamed in id order."""
    if entity == "organization":
        rows = Organization.objects.filter(is_deleted=False).order_by("pk")
        for pk, name, siren, ext in rows.values_list("pk", "name", "siren", "external_id").iterator(
            INSERT_BATCH
        ):
            if ext:
                yield "organization.ext", ext, pk
            if siren:
                yield "organization.siren", siren, pk
            yield "organization.name", p.normalise_name(name), pk
    elif entity == "person":
        rows = Person.objects.filter(is_deleted=False).order_by("pk")
        for pk, name, emails, ext in rows.values_list(
            "pk", "name", "emails", "external_id"
        ).iterator(INSERT_BATCH):
            if ext:
                yield "person.ext", ext, pk
            for email in emails or []:
                yield "person.email", str(email.get("value", "")).lower(), pk
            yield "person.name", p.normalise_name(name), pk
    elif entity == "deal":
        rows = Deal.objects.filter(is_deleted=False).exclude(external_id="").order_by("pk")
        for pk, ext in rows.values_list("pk", "external_id").iterator(INSERT_BATCH):
            yield "deal.ext", ext, pk


INDEX_NAMES = {
    "organization": ("ext", "siren", "name"),
    "person": ("ext", "email", "name"),
    "deal": ("ext",),
}


class RecordIndexes:
    """`index(entity)` of ruche.transfer.checks.Reference for organisations, persons and
    deals: {"ext": KeyMap, ...}, plus "source" for organisations."""

    def __init__(self):
        self.store = KeyStore()
        self.maps: dict[str, dict] = {}

    def index(self, entity: str) -> dict:
        if entity not in self.maps:
            self.store.open()
            self.store.insert(existing_keys(entity))
            maps: dict = {
                name: KeyMap(self.store, f"{entity}.{name}") for name in INDEX_NAMES[entity]
            }
            if entity == "organization":
                maps["source"] = OrgSources()
            self.maps[entity] = maps
        return self.maps[entity]

    def end_chunk(self) -> None:
        for maps in self.maps.values():
            for keys in maps.values():
                keys.end_chunk()

    def close(self) -> None:
        self.store.close()
        self.maps.clear()
