"""The activities report's indexes on the `deal_public` flag (0011), built once 0011 is
committed, so that the row versions its UPDATE left behind are not indexed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0011_activity_deal_public"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_added_public',
        ),
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_completed_public',
        ),
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_added_private',
        ),
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_completed_private',
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('is_deleted', False), ('deal_public', True)), fields=['add_time', 'owner', 'type'], name='activity_added_public'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('is_deleted', False), ('deal_public', False)), fields=['add_time', 'owner', 'type', 'deal', 'deal_owner', 'deal_visible_to', 'person', 'org'], name='activity_added_private'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('done', True), ('is_deleted', False), ('deal_public', True)), fields=['marked_as_done_time', 'owner', 'type'], name='activity_completed_public'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('done', True), ('is_deleted', False), ('deal_public', False)), fields=['marked_as_done_time', 'owner', 'type', 'deal', 'deal_owner', 'deal_visible_to', 'person', 'org'], name='activity_completed_private'),
        ),
    ]
