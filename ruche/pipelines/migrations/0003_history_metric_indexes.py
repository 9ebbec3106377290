"""Indexes for the history figures (ruche.forecasting.metrics) and the activities report
(ruche.reports.figures): a deal's stage entries in order now carry their stage, and activities
added, and completed, in a span are read from an index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    # Chained after the deal indexes of the same series, so that the app keeps one leaf.
    dependencies = [
        ("pipelines", "0003_deal_metric_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="stageentry", name="stageentry_deal_later"),
        migrations.AddIndex(
            model_name="stageentry",
            index=models.Index(
                fields=["deal", "pipeline", "entered_at", "stage"], name="stageentry_deal_later"
            ),
        ),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                fields=["add_time", "is_deleted", "owner", "type"], name="activity_added"
            ),
        ),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                fields=["done", "marked_as_done_time", "is_deleted", "owner", "type"],
                name="activity_completed",
            ),
        ),
    ]
