"""ruche import ENTITY FILE [--mapping MAP.json] [--dry-run] [--json] [--user EMAIL]
              [--on-error abort|skip] [--duplicates skip|update|create]
              [--custom-fields ignore|create] [--no-create-related] [--pipeline NAME]
ruche import all DIR [--dry-run] [--json] [--user EMAIL]
ruche import undo RUN_ID [--user EMAIL]

ENTITY: organizations, persons, products, deals, deal_lines, activities, notes.
Exit status: 0 when the import is done, 1 when rows were refused or the file is unreadable.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ruche.core.exceptions import ValidationError
from ruche.transfer.checks import Reference
from ruche.transfer.exporters import import_all
from ruche.transfer.importers import import_file
from ruche.transfer.mapping import Mapping, MappingError, canonical_entity
from ruche.transfer.models import ImportRun
from ruche.transfer.readers import ReadError, open_table
from ruche.transfer.undo import undo_import


class Command(BaseCommand):
    help = __doc__
    # Django's system checks import every URL module and API (3 s, 50 MB) to read a file.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("entity")
        parser.add_argument("path")
        parser.add_argument("--mapping")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--user", help="who imports (default: the first admin)")
        parser.add_argument("--on-error", choices=["abort", "skip"])
        parser.add_argument("--duplicates", choices=["skip", "update", "create"])
        parser.add_argument("--custom-fields", choices=["ignore", "create"])
        parser.add_argument("--no-create-related", action="store_true")
        parser.add_argument("--pipeline")

    def _user(self, email):
        users = get_user_model().objects.filter(is_active=True)
        user = (
            users.filter(email=email.lower()).first()
            if email
            else (users.filter(role="admin").order_by("id").first())
        )
        if user is None:
            raise CommandError(f"No active user {email}." if email else "No admin user yet.")
        return user

    def handle(self, *args, entity, path, **options):
        user = self._user(options["user"])
        if entity == "all":
            reports = import_all(directory=path, user=user, dry_run=options["dry_run"])
            self._print(reports, options)
            if any(isinstance(r, dict) and r.get("status") != "done" for r in reports.values()):
                raise CommandError("The import was refused; nothing was written.")
            return
        if entity == "undo":
            run = ImportRun.objects.filter(pk=int(path)).first()
            if run is None:
                raise CommandError(f"No import #{path}.")
            try:
                counts = undo_import(run=run, user=user)
            except ValidationError as error:
                raise CommandError(str(error)) from None
            self._print(counts, options)
            return
        try:
            entity = canonical_entity(entity)
            mapping = (
                Mapping.load(options["mapping"], entity)
                if options["mapping"]
                else Mapping(entity=entity)
            )
            for name in ("on_error", "duplicates", "custom_fields", "pipeline"):
                if options[name]:
                    setattr(mapping, name, options[name])
            if options["no_create_related"]:
                mapping.create_related = False
            mapping.check()
            if options["verbosity"] >= 2:
                table = open_table(path)
                columns = mapping.resolved(table.headers, Reference().stage_names())
                self.stderr.write("Columns: " + json.dumps(columns, ensure_ascii=False))
            run, report = import_file(
                user=user, path=path, mapping=mapping, dry_run=options["dry_run"]
            )
        except (MappingError, ReadError, ValidationError) as error:
            raise CommandError(str(error)) from None
        result = {"import_id": run.pk, **report.as_dict(), "message": run.message}
        self._print(result, options)
        if report.status != "done":
            raise CommandError(run.message or f"{report.errors_count} errors: nothing was written.")

    def _print(self, result, options):
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str))
            return
        if "rows" in result:
            self.stdout.write(
                f"Import #{result['import_id']} ({result['entity']}): {result['status']}"
                f"{' (dry run)' if result['dry_run'] else ''} - {result['rows']} rows, "
                f"{result['created']} created, {result['updated']} updated, "
                f"{result['skipped']} skipped, {result['errors_count']} errors."
            )
            for error in result["errors"]:
                self.stdout.write(f"  line {error['line']}, {error['column']}: {error['reason']}")
            if result["bad_rows_file"]:
                self.stdout.write(f"Rows to fix: {result['bad_rows_file']}")
        else:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
