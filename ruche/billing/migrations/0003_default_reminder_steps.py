from django.db import migrations


def create_steps(apps, schema_editor):
    from ruche.billing.reminders import ensure_default_steps

    ensure_default_steps(apps.get_model("billing", "ReminderStep"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_reminders")]

    operations = [migrations.RunPython(create_steps, migrations.RunPython.noop)]
