"""Accounting exports: the FEC checked against its format rules (18 columns in order, tabs,
YYYYMMDD dates, comma decimals, debit = credit per entry, continuous entry numbers), and the
QuickBooks Online and Xero CSV layouts; the API for admins and managers only; the command."""

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from ruche.billing import services
from ruche.billing.exports.csv_layouts import QUICKBOOKS_COLUMNS, XERO_COLUMNS
from ruche.billing.exports.fec import COLUMNS, export_fec

TODAY = timezone.localdate()
FEC_HEADER = (
    "JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\t"
    "CompAuxLib\tPieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\t"
    "ValidDate\tMontantdevise\tIdevise"
)
AMOUNT = re.compile(r"^\d+,\d{2}$")


@pytest.fixture
def ledger(issued_invoice, rep_actor):
    """An invoice of 3 065,75 (three VAT rates), a payment of 1 000, a credit note of it all."""
    services.payment_create(
        actor=rep_actor,
        data={"invoice_id": issued_invoice.pk, "amount": Decimal("1000"), "reference": "VIR 42"},
    )
    note = services.credit_note_create(
        actor=rep_actor,
        data={
            "invoice_id": issued_invoice.pk,
            "lines": [
                {"name": "Remise commerciale", "quantity": 1, "unit_price": "100", "vat_rate": "20"}
            ],
        },
    )
    services.invoice_issue(actor=rep_actor, invoice_id=note.pk)
    return issued_invoice


def parse_fec(text: str) -> list[dict]:
    lines = text.split("\r\n")
    assert lines[0] == FEC_HEADER and lines[-1] == ""
    rows = [line.split("\t") for line in lines[1:-1]]
    assert all(len(row) == 18 for row in rows)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def cents(text: str) -> int:
    return int(text.replace(",", ""))


def check_fec_rules(rows: list[dict]) -> None:
    by_entry = defaultdict(list)
    for row in rows:
        for field in ("EcritureDate", "PieceDate", "ValidDate"):
            assert re.fullmatch(r"\d{8}", row[field])
            dt.datetime.strptime(row[field], "%Y%m%d")
        assert AMOUNT.match(row["Debit"]) and AMOUNT.match(row["Credit"])
        assert (cents(row["Debit"]) == 0) != (cents(row["Credit"]) == 0)
        assert row["JournalCode"] in ("VT", "BQ") and row["CompteNum"] and row["EcritureLib"]
        if row["CompteNum"].startswith("411"):
            assert row["CompAuxNum"] and row["CompAuxLib"]
        by_entry[(row["JournalCode"], row["EcritureNum"])].append(row)
    for entry in by_entry.values():
        assert sum(cents(r["Debit"]) for r in entry) == sum(cents(r["Credit"]) for r in entry)
        assert len({r["EcritureDate"] for r in entry}) == 1
    for journal in ("VT", "BQ"):
        numbers = sorted(n for j, n in by_entry if j == journal)
        assert numbers == [f"{journal}{i:06d}" for i in range(1, len(numbers) + 1)]


def test_fec_entries_for_an_invoice_a_payment_and_a_credit_note(ledger, admin):
    rows = parse_fec(export_fec(admin, TODAY, TODAY))
    check_fec_rules(rows)
    day = TODAY.strftime("%Y%m%d")
    aux = f"C{ledger.org_id:06d}"
    simple = [
        (
            r["JournalCode"],
            r["EcritureNum"],
            r["CompteNum"],
            r["CompAuxNum"],
            r["PieceRef"],
            r["Debit"],
            r["Credit"],
        )
        for r in rows
    ]
    note_number = f"AV{TODAY.year}-00001"
    assert simple == [
        ("VT", "VT000001", "411000", aux, ledger.number, "3065,75", "0,00"),
        ("VT", "VT000001", "706000", "", ledger.number, "0,00", "2222,21"),
        ("VT", "VT000001", "445710", "", ledger.number, "0,00", "444,44"),
        ("VT", "VT000001", "706000", "", ledger.number, "0,00", "349,97"),
        ("VT", "VT000001", "445710", "", ledger.number, "0,00", "35,00"),
        ("VT", "VT000001", "706000", "", ledger.number, "0,00", "13,39"),
        ("VT", "VT000001", "445710", "", ledger.number, "0,00", "0,74"),
        ("VT", "VT000002", "411000", aux, note_number, "0,00", "120,00"),
        ("VT", "VT000002", "706000", "", note_number, "100,00", "0,00"),
        ("VT", "VT000002", "445710", "", note_number, "20,00", "0,00"),
        ("BQ", "BQ000001", "512000", "", "VIR 42", "1000,00", "0,00"),
        ("BQ", "BQ000001", "411000", aux, "VIR 42", "0,00", "1000,00"),
    ]
    assert {r["EcritureDate"] for r in rows} == {day}
    assert rows[0]["CompAuxLib"] == "Atelier Dupont SARL"
    assert rows[0]["EcritureLib"] == f"Facture {ledger.number} Atelier Dupont SARL"


def test_fec_period_excludes_other_days(ledger, admin):
    yesterday = TODAY - dt.timedelta(days=1)
    assert export_fec(admin, yesterday, yesterday) == FEC_HEADER + "\r\n"


def test_quickbooks_layout(ledger, admin, api_as):
    response = api_as(admin).get(f"/exports/quickbooks?from={TODAY}&to={TODAY}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == QUICKBOOKS_COLUMNS
    assert [(r[0], r[7], r[9], r[10], r[11], r[12], r[13]) for r in rows[1:]] == [
        (ledger.number, "Conseil", "2", "1111.104", "2222.21", "TVA 20 %", "444.44"),
        (ledger.number, "Travaux", "3.5", "99.99", "349.97", "TVA 10 %", "35.00"),
        (ledger.number, "Livres", "1", "13.3933", "13.39", "TVA 5.5 %", "0.74"),
    ]
    assert rows[1][2] == rows[1][15] == TODAY.strftime("%d/%m/%Y")


def test_xero_layout_has_credit_notes_negative(ledger, manager, api_as, rep):
    response = api_as(manager).get(f"/exports/xero?from={TODAY}&to={TODAY}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == XERO_COLUMNS
    assert [(r[10], r[16], r[17], r[18], r[20], r[21], r[22]) for r in rows[1:]] == [
        (ledger.number, "Conseil", "2", "1111.104", "706000", "TVA 20 %", "444.44"),
        (ledger.number, "Travaux", "3.5", "99.99", "706000", "TVA 10 %", "35.00"),
        (ledger.number, "Livres", "1", "13.3933", "706000", "TVA 5.5 %", "0.74"),
        (
            f"AV{TODAY.year}-00001",
            "Remise commerciale",
            "-1",
            "100",
            "706000",
            "TVA 20 %",
            "-20.00",
        ),
    ]


def test_fec_api_file_name_and_refusals(ledger, admin, rep, api_as):
    response = api_as(admin).get(f"/exports/fec?from={TODAY}&to={TODAY}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="732829320FEC{TODAY:%Y%m%d}.txt"'
    )
    check_fec_rules(parse_fec(response.content.decode()))
    assert api_as(rep).get(f"/exports/fec?from={TODAY}&to={TODAY}").status_code == 403
    bad = api_as(admin).get(f"/exports/fec?from=2026-13-01&to={TODAY}")
    assert bad.status_code == 422 and "from" in bad.content.decode()
    backwards = api_as(admin).get("/exports/fec?from=2026-02-01&to=2026-01-01")
    assert backwards.status_code == 422 and "to" in backwards.content.decode()
    assert api_as(admin).get("/exports/fec?from=2026-01-01").status_code == 422


def test_export_fec_command(ledger, tmp_path):
    target = tmp_path / "fec.txt"
    out = io.StringIO()
    call_command("export_fec", "--from", str(TODAY), "--to", str(TODAY), str(target), stdout=out)
    rows = parse_fec(target.read_bytes().decode("utf-8"))
    assert len(rows) == 12
    check_fec_rules(rows)
    assert out.getvalue().startswith(f"{target}: 12 lines")
