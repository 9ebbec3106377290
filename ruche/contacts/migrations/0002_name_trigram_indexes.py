"""Trigram indexes for the deal search on PostgreSQL (ruche.pipelines.selectors.deal_search):
`name__icontains` is `UPPER(name::text) LIKE UPPER('%term%')`, which a GIN index on the same
expression with gin_trgm_ops serves, so a rare name is found without reading every row.
pg_trgm ships with PostgreSQL and is a trusted extension: the database owner may create it.
SQLite has no such index and scans, which its sizes allow."""

from django.db import migrations

INDEXES = (
    ("organization_name_trgm", "contacts_organization", "name"),
    ("person_name_trgm", "contacts_person", "name"),
)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
