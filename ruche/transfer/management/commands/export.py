"""ruche export all DIR: every entity as CSV files in DIR (all fields, custom fields, stage
entries and history), readable back with `ruche import all DIR`."""

import json

from django.core.management.base import BaseCommand, CommandError

from ruche.transfer.exporters import export_all


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["all"])
        parser.add_argument("directory")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, what, directory, **options):
        try:
            counts = export_all(directory)
        except OSError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(counts))
        else:
            for name, count in counts.items():
                self.stdout.write(f"{name}.csv: {count} rows")
