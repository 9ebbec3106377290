"""Covering indexes for the indicators (ruche.forecasting.metrics); they replace the
(status, won_time) and (status, close_time) indexes, which they begin with."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0002_bench_indexes_lists_board_history"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="deal", name="deal_won"),
        migrations.RemoveIndex(model_name="deal", name="deal_closed"),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=[
                    *("status", "won_time", "is_deleted", "owner", "pipeline", "visible_to"),
                    *("currency", "value_minor", "add_time", "org", "revenue_type"),
                    *("recurring_monthly_minor", "recurring_term_months", "recurring_start_date"),
                    "id",
                ],
                name="deal_won_metrics",
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=[
                    *("status", "close_time", "is_deleted", "owner", "pipeline", "visible_to"),
                    *("currency", "value_minor", "id"),
                ],
                name="deal_closed_metrics",
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=[
                    *("status", "expected_close_date", "is_deleted", "owner", "pipeline"),
                    *("visible_to", "stage", "currency", "value_minor", "probability"),
                    *("forecast_category", "id"),
                ],
                name="deal_open_metrics",
            ),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=[
                    *("add_time", "is_deleted", "owner", "pipeline", "visible_to", "status"),
                    *("currency", "value_minor", "id"),
                ],
                name="deal_added_metrics",
            ),
        ),
    ]
