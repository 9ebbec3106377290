"""The activities report's indexes, partial: only live activities (and, for the completed
ones, done ones) are indexed, the flags leave the key, and a month of the report is one count
of an index range (ruche.reports.figures)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0006_closed_metrics_loss_reason"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="activity", name="activity_added"),
        migrations.RemoveIndex(model_name="activity", name="activity_completed"),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                condition=models.Q(is_deleted=False),
                fields=["add_time", "owner", "type"],
                name="activity_added_live",
            ),
        ),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                condition=models.Q(done=True, is_deleted=False),
                fields=["marked_as_done_time", "owner", "type"],
                name="activity_completed_live",
            ),
        ),
    ]
