"""MRR's recurring contracts (ruche.forecasting.mrr_tallies.contracts) in a partial
covering index on PostgreSQL: the won recurring deals alone (about a sixth of the deals) with
the columns MRR reads (18 MB on a million deals), instead of the won part of the wide
deal_won_metrics index (164 MB in all). SQLite's planner keeps deal_won_metrics (it has no
statistics to prefer the partial index), so the index is not created there."""

from django.db import migrations

NAME = "deal_recurring_won"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON pipelines_deal (is_deleted, owner_id, "
            "pipeline_id, visible_to, currency, org_id, id, recurring_start_date, won_time, "
            "recurring_term_months, recurring_monthly_minor) WHERE status = 'won' AND "
            "revenue_type = 'recurring' AND recurring_monthly_minor IS NOT NULL AND "
            "won_time IS NOT NULL"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0004_deal_title_trigram"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
