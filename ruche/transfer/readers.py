"""Tables read from files one row at a time, so memory does not grow with the file.

CSV: the encoding is read from a byte-order mark, else UTF-8 if the sample decodes as UTF-8,
else charset-normalizer's guess on the sample (Latin-1 family guesses are read as
Windows-1252, its superset). A line that does not decode in the file's encoding is read as
Windows-1252 (files glued together from two sources). The delimiter is csv.Sniffer's guess on
the sample, among , ; tab and |.
XLSX: openpyxl in read-only mode, first sheet, values (not formulas).

`open_table(path)` gives a `Table`: `headers` and `rows()`, which yields (line number, {header:
cell}) pairs; the line number is the one a spreadsheet shows (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from charset_normalizer import from_bytes

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
LATIN_FAMILY = {
    "latin_1",
    "iso8859_1",
    "iso8859_15",
    "cp1252",
    "windows_1252",
    "cp1250",
    "mac_roman",
}
csv.field_size_limit(10 * 1024 * 1024)


class ReadError(ValueError):
    """The file cannot be read as a table; the message is shown to the user."""


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the end of the sample is still UTF-8.
        if error.start >= len(sample) - 3 and error.reason == "unexpected end of data":
            return "utf-8"
    # Files glued from two sources: if some lines with accents are valid UTF-8, read the file
    # as UTF-8 and the other lines as Windows-1252.
    for line in sample.splitlines()[:-1]:
        if not line.isascii():
            try:
                line.decode("utf-8")
                return "utf-8"
            except UnicodeDecodeError:
                continue
    best = from_bytes(sample).best()
    if best is None or best.encoding in LATIN_FAMILY or best.encoding.startswith("iso8859"):
        return "cp1252"
    return best.encoding


def detect_delimiter(sample_text: str) -> str:
    lines = [line for line in sample_text.splitlines() if line.strip()][:50]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0]
        return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


@dataclass
class Table:
    path: Path
    headers: list[str]
    kind: str
    encoding: str = ""
    delimiter: str = ""
    _opened: list = field(default_factory=list, repr=False)

    def rows(self) -> Iterator[tuple[int, dict]]:
        if self.kind == "xlsx":
            yield from _xlsx_rows(self.path, self.headers)
        else:
            yield from _csv_rows(self.path, self.encoding, self.delimiter, self.headers)

    def count_rows(self) -> int:
        """Data rows (blank lines excepted), for a progress bar's total."""
        if self.kind == "xlsx":
            return sum(1 for _ in self.rows())
        reader = csv.reader(_decoded_lines(self.path, self.encoding), delimiter=self.delimiter)
        next(reader, None)
        return sum(1 for cells in reader if any(cell.strip() for cell in cells))


def _decoded_lines(path: Path, encoding: str) -> Iterator[str]:
    fallback = "cp1252"
    first = True
    with open(path, "rb") as handle:
        if encoding == "utf-16":
            yield from codecs.getreader("utf-16")(handle)
            return
        for raw in handle:
            if first and encoding == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            first = False
            try:
                yield raw.decode("utf-8" if encoding == "utf-8-sig" else encoding)
            except UnicodeDecodeError:
                yield raw.decode(fallback, errors="replace")


def _clean_headers(raw: list) -> list[str]:
    headers, seen = [], {}
    for index, header in enumerate(raw):
        name = ("" if header is None else str(header)).strip() or f"Column {index + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        headers.append(name)
    while headers and headers[-1].startswith("Column ") and raw and not raw[len(headers) - 1]:
        headers.pop()
    return headers


def _csv_rows(path, encoding, delimiter, headers) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(_decoded_lines(path, encoding), delimiter=delimiter)
    next(reader, None)
    width = len(headers)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ReadError(f"Line {reader.line_num}: {error}.") from None
        if not any(cell.strip() for cell in cells):
            continue
        line = reader.line_num
        row = dict(zip(headers, cells[:width], strict=False))
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            row["__extra__"] = cells[width:]
        yield line, row


def _xlsx_rows(path, headers) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        width = len(headers)
        for line, values in enumerate(sheet.iter_rows(values_only=True), 1):
            if line == 1:
                continue
            if not any(v is not None and str(v).strip() for v in values):
                continue
            yield line, dict(zip(headers, values[:width], strict=False))
    finally:
        workbook.close()


def open_table(path: str | Path) -> Table:
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"No such file: {path}.")
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:
            raise ReadError(f"Not a readable XLSX file: {error}.") from None
        try:
            first = next(workbook.worksheets[0].iter_rows(values_only=True, max_row=1), ())
        finally:
            workbook.close()
        headers = _clean_headers(list(first))
        if not headers:
            raise ReadError("The first sheet has no header row.")
        return Table(path, headers, "xlsx")
    encoding = detect_encoding(sample)
    if encoding == "utf-16":
        sample_text = sample.decode("utf-16", errors="ignore")
    else:
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
        sample_text = sample.decode(codec, errors="ignore").lstrip("\ufeff")
    delimiter = detect_delimiter(sample_text)
    table = Table(path, [], "csv", encoding, delimiter)
    reader = csv.reader(_decoded_lines(path, encoding), delimiter=delimiter)
    first = next(reader, None)
    if not first or not any(cell.strip() for cell in first):
        raise ReadError("The file is empty: a header row is expected on line 1.")
    table.headers = _clean_headers(first)
    return table
