"""The activities report's indexes, split by the copy of the deal's visibility (0008): the
activities of deals visible to everyone in narrow indexes, the others with what the visibility
rule reads. Built after 0008 is committed, so that the row versions its UPDATE left behind are
not indexed."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0008_activity_deal_visibility"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_added_live',
        ),
        migrations.RemoveIndex(
            model_name='activity',
            name='activity_completed_live',
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('is_deleted', False), ('deal_visible_to', 7)), fields=['add_time', 'owner', 'type'], name='activity_added_public'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('is_deleted', False), models.Q(('deal_visible_to__lt', 7), ('deal_visible_to__isnull', True), _connector='OR')), fields=['add_time', 'owner', 'type', 'deal', 'deal_owner', 'deal_visible_to', 'person', 'org'], name='activity_added_private'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('done', True), ('is_deleted', False), ('deal_visible_to', 7)), fields=['marked_as_done_time', 'owner', 'type'], name='activity_completed_public'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(condition=models.Q(('done', True), ('is_deleted', False), models.Q(('deal_visible_to__lt', 7), ('deal_visible_to__isnull', True), _connector='OR')), fields=['marked_as_done_time', 'owner', 'type', 'deal', 'deal_owner', 'deal_visible_to', 'person', 'org'], name='activity_completed_private'),
        ),
    ]
