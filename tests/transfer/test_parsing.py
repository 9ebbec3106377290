import datetime as dt
from decimal import Decimal

import pytest

from ruche.transfer import parsing as p
from ruche.transfer.mapping import propose
from ruche.transfer.readers import open_table


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1.200,50 €", (Decimal("1200.50"), "EUR")),
        ("1 200,50", (Decimal("1200.50"), None)),
        ("1\u202f200,50", (Decimal("1200.50"), None)),
        ("1200.50", (Decimal("1200.50"), None)),
        ("1,200.50 USD", (Decimal("1200.50"), "USD")),
        ("-1 200", (Decimal("-1200"), None)),
        ("(15,5)", (Decimal("-15.5"), None)),
        ("1.200.000", (Decimal("1200000"), None)),
        (1500, (Decimal(1500), None)),
    ],
)
def test_amounts(cell, expected):
    assert p.parse_amount(cell) == expected


@pytest.mark.parametrize("cell", ["douze", "1,2,3.4.5", "12 €€ x", "1.2,3.4"])
def test_not_amounts(cell):
    with pytest.raises(p.ParseError):
        p.parse_amount(cell)


@pytest.mark.parametrize(
    "cell", ["31/12/2024", "2024-12-31", "31.12.2024", "31-12-2024", "31/12/24", "31 décembre 2024"]
)
def test_dates(cell):
    assert p.parse_date(cell) == dt.date(2024, 12, 31)


def test_impossible_date_has_a_plain_reason():
    with pytest.raises(p.ParseError) as error:
        p.parse_date("31/02/2024")
    assert str(error.value) == "'31/02/2024' is not a date: février 2024 has 29 days."
    with pytest.raises(p.ParseError, match="no month 13"):
        p.parse_date("01/13/2024")


def test_datetimes_are_in_the_company_time_zone():
    assert p.parse_datetime("15/03/2024 14:30") == dt.datetime(2024, 3, 15, 13, 30, tzinfo=dt.UTC)
    assert p.parse_datetime("2024-03-15T14:30:00+00:00") == dt.datetime(
        2024, 3, 15, 14, 30, tzinfo=dt.UTC
    )


def test_percent_bool_duration():
    assert p.parse_percent("20 %") == Decimal(20)
    assert p.parse_percent("5,5%") == Decimal("5.5")
    with pytest.raises(p.ParseError):
        p.parse_percent("120")
    assert p.parse_bool("Oui") is True
    assert p.parse_bool("non") is False
    with pytest.raises(p.ParseError, match="oui/non"):
        p.parse_bool("peut-être")
    assert p.parse_duration_minutes("1:30") == 90


def test_normalised_names():
    assert p.normalise_name("ACME S.A.S.") == p.normalise_name("Acme") == "acme"
    assert p.normalise_name("Société Générale") == "societe generale"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Nguyễn Thị Minh", "nguyen thi minh"),  # stacked marks, removed without a scan
        ("Bœuf & Fils SARL", "b uf fils"),  # letters without an ASCII form are separators
        ("Ĳssel Straße GmbH", "ijssel stra e"),
        ("ﬁnance Ⅳ", "finance iv"),  # compatibility forms
        ("Señor\u20d7a", "senora"),  # a rarer combining mark, found character by character
        ("Çà et là\u034f-bas", "ca et la bas"),  # U+034F does not combine: a separator
    ],
)
def test_normalised_names_drop_every_combining_mark(name, key):
    assert p.normalise_name(name) == key


def test_readers_detect_encoding_and_delimiter(tmp_path):
    text = "Nom;Ville\nÉlectricité Dupré;Besançon\n"
    for name, data, encoding in (
        ("cp1252.csv", text.encode("cp1252"), "cp1252"),
        ("bom.csv", b"\xef\xbb\xbf" + text.encode(), "utf-8-sig"),
        ("utf8.csv", text.encode(), "utf-8"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        table = open_table(path)
        assert (table.encoding, table.delimiter, table.headers) == (encoding, ";", ["Nom", "Ville"])
        assert list(table.rows()) == [(2, {"Nom": "Électricité Dupré", "Ville": "Besançon"})]
    tabbed = tmp_path / "tab.csv"
    tabbed.write_text('a\tb\n"x\ny"\t2\n\n3\t4\n')
    table = open_table(tabbed)
    assert table.delimiter == "\t"
    assert list(table.rows()) == [(3, {"a": "x\ny", "b": "2"}), (5, {"a": "3", "b": "4"})]


def test_a_line_in_another_encoding_is_read(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("Nom,Ville\nDupré,Nîmes\n".encode() + "Müller,Orléans\n".encode("cp1252"))
    assert [row for _, row in open_table(path).rows()] == [
        {"Nom": "Dupré", "Ville": "Nîmes"},
        {"Nom": "Müller", "Ville": "Orléans"},
    ]


def test_xlsx(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Titre", "Montant", "Date"])
    sheet.append(["A", 1200.5, dt.datetime(2024, 12, 31)])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    table = open_table(path)
    assert table.headers == ["Titre", "Montant", "Date"]
    assert list(table.rows()) == [
        (2, {"Titre": "A", "Montant": 1200.5, "Date": dt.datetime(2024, 12, 31)})
    ]


def test_proposed_mapping():
    assert propose(
        "deals",
        ["Intitulé", "Montant HT", "Étape", "Société", "E-mail", "Date Meeting", "Divers"],
        ["Lead", "Meeting"],
    ) == {
        "Intitulé": "title",
        "Montant HT": "value",
        "Étape": "stage",
        "Société": "org",
        "E-mail": "person_email",
        "Date Meeting": "stage_entered:Meeting",
    }
    assert propose(
        "persons", ["Person - Name", "Person - Email - Work", "Person - Organization"]
    ) == {
        "Person - Name": "name",
        "Person - Email - Work": "email",
        "Person - Organization": "org",
    }
