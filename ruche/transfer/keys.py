"""What an import matches rows against (organisations, persons and deals by external id, SIREN,
normalised name or email) lives in a temporary table of the import's own database connection,
not in Python dicts, so that memory does not grow with the number of records.

The file is read in chunks. Before a chunk, `Importer` prefetches the keys the chunk's cells
name (one query per kind of key); a key the prefetch did not foresee costs one query. What
the chunk creates is known at once to the rest of the chunk, and written to the table when
the chunk ends. Existing records are copied into the table, streamed, on first use.

The first record with a key wins (the lowest id), as a dict's setdefault would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import connection

from ruche.contacts.models import Organization, Person
from ruche.pipelines.models import Deal
from ruche.transfer import parsing as p

TABLE = "transfer_match_keys"
QUERY_BATCH = 500
INSERT_BATCH = 5000


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
        self.open()
        batch: list[tuple[str, str, int]] = []
        with connection.cursor() as cursor:
            for row in rows:
                batch.append(row)
                if len(batch) == INSERT_BATCH:
                    self._insert(cursor, batch)
                    batch = []
            if batch:
                self._insert(cursor, batch)

    @staticmethod
    def _insert(cursor, rows) -> None:
        cursor.executemany(f"INSERT INTO {TABLE} (kind, match_key, pk) VALUES (%s, %s, %s)", rows)

    def lookup(self, kind: str, keys: list[str]) -> dict[str, int]:
        self.open()
        found: dict[str, int] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(keys), QUERY_BATCH):
                part = keys[start : start + QUERY_BATCH]
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(
                    f"SELECT match_key, MIN(pk) FROM {TABLE} WHERE kind = %s "
                    f"AND match_key IN ({marks}) GROUP BY match_key",
                    [kind, *part],
                )
                found.update(cursor.fetchall())
        return found


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
        missing = {pk for pk in org_ids if pk and pk not in self.known}
        if missing:
            found = dict(Organization.objects.filter(pk__in=missing).values_list("pk", "source_id"))
            for pk in missing:
                self.known[pk] = found.get(pk)

    def get(self, org_id, default=None):
        if org_id is None:
            return default
        self.prefetch([org_id])
        value = self.known.get(org_id)
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
