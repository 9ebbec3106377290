"""Every download of a table, as CSV or XLSX, goes through here so that each one is streamed and
made safe the same way. Cells that a spreadsheet would run as a formula are neutralised."""

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from openpyxl import Workbook

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
NUMBERS = int | float | Decimal


def spreadsheet_safe(value) -> str:
    """OWASP's advice for CSV injection: prefix a quote to text that starts like a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def safe_row(row: Iterable) -> list:
    """Numbers stay numbers so a spreadsheet can sum them; everything else becomes safe text."""
    return [value if isinstance(value, NUMBERS) else spreadsheet_safe(value) for value in row]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(safe_row(row))


def _xlsx_cell(value):
    # openpyxl writes dates natively; timezone-aware datetimes are refused by Excel.
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, NUMBERS | dt.date):
        return value
    return spreadsheet_safe(value)


def xlsx_file(rows: Iterable[Iterable], sheet: str = "Export"):
    """A write-only workbook keeps one row in memory at a time; the file is spooled to disk."""
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet[:31])
    for row in rows:
        worksheet.append([_xlsx_cell(value) for value in row])
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
    workbook.save(spool)
    spool.seek(0)
    return spool


def download(rows: Iterable[Iterable], filename: str, file_format: str = "csv") -> HttpResponse:
    """`filename` has no extension: the format adds it."""
    if file_format == "xlsx":
        return FileResponse(
            xlsx_file(rows, sheet=filename),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
