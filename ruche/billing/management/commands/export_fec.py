"""`ruche export_fec --from YYYY-MM-DD --to YYYY-MM-DD FILE [--format fec|quickbooks|xero]`:
the accounting export of a period (every document: run by the administrator). `-` as FILE
writes to standard output."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ruche.billing.exports import check_period
from ruche.billing.exports.csv_layouts import export_quickbooks, export_xero
from ruche.billing.exports.fec import export_fec
from ruche.core.exceptions import ValidationError

FORMATS = {"fec": export_fec, "quickbooks": export_quickbooks, "xero": export_xero}


class Command(BaseCommand):
    help = "Export a period's invoices, credit notes and payments (FEC, QuickBooks or Xero)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="Last day, YYYY-MM-DD")
        parser.add_argument("--format", choices=sorted(FORMATS), default="fec")
        parser.add_argument("file", help="Output file, or - for standard output")

    def handle(self, *args, start, end, file, **options):
        try:
            start, end = check_period(start, end)
        except ValidationError as error:
            raise CommandError(str(error)) from None
        text = FORMATS[options["format"]](None, start, end)
        if file == "-":
            sys.stdout.write(text)
            return
        try:
            Path(file).write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(str(error)) from None
        lines = text.count("\r\n") - 1
        self.stdout.write(f"{file}: {lines} lines ({options['format']}, {start} to {end}).")
