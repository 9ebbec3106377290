"""A report's table as text (the page and the emails, in the active language) and as raw values
(CSV and XLSX, where numbers stay numbers)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ruche.reports.figures import GROUPING_LABELS, Column, ReportData
from ruche.web import formatting


def cell_text(column: Column, value, currency: str | None) -> str:
    if value is None:
        return "—"
    if column.type == "money":
        return formatting.major_money(value, currency)
    if column.type == "percent":
        return formatting.percent(value)
    return formatting.number(value)


def header(data: ReportData) -> list[str]:
    return [str(GROUPING_LABELS[data.report.grouping])] + [str(c.label) for c in data.columns]


def text_rows(data: ReportData) -> list[list[str]]:
    return [
        [str(row["label"])] + [cell_text(c, row[c.key], data.currency) for c in data.columns]
        for row in data.rows
    ]


def export_rows(data: ReportData) -> list[list]:
    """The header (money columns name their currency), then one row per group."""
    titles = [
        f"{c.label} ({data.currency})" if c.type == "money" and data.currency else str(c.label)
        for c in data.columns
    ]
    rows = [[str(GROUPING_LABELS[data.report.grouping]), *titles]]
    rows += [[str(row["label"])] + [row[c.key] for c in data.columns] for row in data.rows]
    return rows


def span_text(data: ReportData) -> str:
    if data.date_from is None and data.date_to is None:
        return _("All dates")
    return _("From %(start)s to %(end)s") % {
        "start": formatting.date(data.date_from) if data.date_from else "…",
        "end": formatting.date(data.date_to) if data.date_to else "…",
    }
