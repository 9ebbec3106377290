"""The deal title's trigram index for the deal search on PostgreSQL (see contacts 0002, which
creates the pg_trgm extension and the organisation and person name indexes)."""

from django.db import migrations

NAME, TABLE = "deal_title_trgm", "pipelines_deal"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON {TABLE} "
            "USING gin ((UPPER(title::text)) gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_name_trigram_indexes"),
        ("pipelines", "0003_history_metric_indexes"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
