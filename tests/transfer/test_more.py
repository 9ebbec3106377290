import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from openpyxl import Workbook

from ruche.catalog.models import Product
from ruche.contacts.models import Person
from ruche.core.exceptions import ValidationError
from ruche.core.models import ChangeRecord, CustomField, Visibility
from ruche.pipelines.models import Deal, DealLine, StageEntry
from ruche.transfer import importers
from ruche.transfer.importers import import_file
from ruche.transfer.mapping import Mapping
from ruche.transfer.models import ImportRun
from ruche.transfer.progress import Progress, read_progress, request_cancel
from ruche.transfer.undo import undo_import


def _xlsx(path, rows):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_pipedrive_xlsx_deals(admin, rep, stages, tmp_path):
    path = _xlsx(
        tmp_path / "deals.xlsx",
        [
            [
                "Deal - ID",
                "Deal - Title",
                "Deal - Value",
                "Deal - Currency",
                "Deal - Stage",
                "Deal - Status",
                "Deal - Owner",
                "Deal - Organization",
                "Deal - Contact person",
                "Person - Email - Work",
                "Person - Email - Home",
                "Deal - Visible to",
                "Deal - Weighted value",
                "Deal - Total activities",
                "Deal - Expected close date",
                "Deal - Won time",
            ],
            [
                101,
                "Vitrine",
                2500.5,
                "EUR",
                "Meeting",
                "Open",
                "rep@ruche.test",
                "Pâtisserie Lu",
                "Lu Chen",
                "lu@patisserie.fr",
                "lu@maison.fr",
                "Entire company",
                1250,
                3,
                dt.date(2025, 1, 31),
                None,
            ],
            [
                102,
                "Caisse",
                900,
                "EUR",
                "Lead",
                "Won",
                "Rémi Nord",
                "Pâtisserie Lu",
                "Lu Chen",
                "lu@patisserie.fr",
                None,
                "Owner only",
                900,
                0,
                None,
                dt.datetime(2024, 11, 5, 15, 0),
            ],
        ],
    )
    _run, report = import_file(
        user=admin, path=path, mapping=Mapping(entity="deals", custom_fields="create")
    )
    assert (report.status, report.created, report.errors) == ("done", 2, [])
    # Computed Pipedrive columns are neither imported nor custom fields.
    assert report.custom_fields_created == []
    assert not CustomField.objects.exists()
    vitrine, caisse = Deal.objects.order_by("external_id")
    assert (vitrine.value_minor, vitrine.visible_to, vitrine.owner) == (
        250050,
        Visibility.EVERYONE,
        rep,
    )
    assert vitrine.expected_close_date == dt.date(2025, 1, 31)
    assert (caisse.visible_to, caisse.status) == (Visibility.OWNER, "won")
    assert caisse.won_time == dt.datetime(2024, 11, 5, 14, tzinfo=dt.UTC)
    person = Person.objects.get()
    assert [e["value"] for e in person.emails] == ["lu@patisserie.fr", "lu@maison.fr"]
    assert vitrine.person == caisse.person == person
    assert vitrine.org == caisse.org == person.org


def test_persons_duplicates_by_email_in_the_file_and_in_the_database(run_import, admin):
    content = (
        "Nom;Email;Fonction\n"
        "Jean Dupont;jean@x.fr;Gérant\n"
        "J. Dupont;JEAN@x.fr;Directeur\n"
        "Anne Roy;anne@y.fr;\n"
    )
    _, report = run_import("persons", content)
    assert (report.created, report.updated) == (2, 1)
    # The second row is the same person (same email, any case): with "update" its values win.
    jean = Person.objects.get(name="J. Dupont")
    assert (jean.job_title, [e["value"] for e in jean.emails]) == ("Directeur", ["JEAN@x.fr"])
    _, again = run_import("persons", "Nom;Email;Fonction\nJean D.;jean@x.fr;PDG\n", name="b.csv")
    jean.refresh_from_db()
    assert (again.updated, jean.job_title, jean.name) == (1, "PDG", "Jean D.")
    assert Person.objects.count() == 2
    assert ChangeRecord.objects.filter(
        entity="person", entity_id=jean.pk, field="job_title", new_value="PDG"
    ).exists()


def test_undo_of_an_update_restores_the_stage_history(run_import, admin, stages):
    run_import("deals", "Réf;Titre;Étape;Créé le\nA1;Alpha;Lead;01/02/2024\n")
    deal = Deal.objects.get()
    entries = list(StageEntry.objects.filter(deal=deal).values())
    run, report = run_import("deals", "Réf;Étape;Montant\nA1;Negotiation;1 000\n", name="b.csv")
    deal.refresh_from_db()
    assert (report.updated, deal.stage.name, deal.value_minor) == (1, "Negotiation", 100000)
    assert StageEntry.objects.filter(deal=deal).count() == 2
    undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)
    deal.refresh_from_db()
    assert (deal.stage.name, deal.value_minor) == ("Lead", 0)
    assert list(StageEntry.objects.filter(deal=deal).values()) == entries
    with pytest.raises(ValidationError, match="only a done import"):
        undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)


def test_products_and_deal_lines(run_import, admin, stages):
    run_import("deals", "Réf;Titre\nD1;Installation\n")
    _, products = run_import(
        "products",
        "Nom;Code;Prix;TVA\nFour;F-1;1 500,00 €;20 %\nPelle;P-1;12,5;5,5\n",
        name="p.csv",
    )
    assert products.created == 2
    assert list(
        Product.objects.order_by("code").values_list("code", "unit_price_minor", "vat_rate")
    ) == [("F-1", 150000, 20), ("P-1", 1250, 5.5)]
    _, lines = run_import(
        "deal_lines",
        "Affaire;Code produit;Quantité;Remise\nInstallation;F-1;2;10 %\n"
        "Installation;;1;\nInconnue;P-1;1;\n",
        name="l.csv",
        on_error="skip",
    )
    assert lines.created == 1
    assert [(e["line"], e["column"], e["reason"]) for e in lines.errors] == [
        (3, "unit_price", "A line without a product needs a unit price."),
        (4, "Affaire", "No such deal."),
    ]
    deal = Deal.objects.get()
    line = DealLine.objects.get()
    assert (line.total_minor, deal.value_minor) == (270000, 270000)


def test_amount_checks(run_import, stages):
    _, report = run_import(
        "deals",
        "Titre;Montant;Devise\nA;100 $;EUR\nB;-5;EUR\nC;10,5;JPY\nD;10,5;XXX1\n",
    )
    assert [(e["line"], e["reason"]) for e in report.errors] == [
        (2, "The amount is in USD and the currency column says EUR."),
        (3, "A deal value cannot be negative."),
        (4, "JPY amounts have at most 0 decimals."),
        (5, "Unknown ISO 4217 currency code: 'XXX1'."),
    ]
    assert Deal.objects.count() == 0


def test_cli_refusals(admin, stages, tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("Titre;Étape\nA;Nope\n")
    with pytest.raises(CommandError, match="1 errors: nothing was written"):
        call_command("import", "deals", str(path))
    assert "line 2, Étape: Unknown stage 'Nope'" in capsys.readouterr().out
    bad_map = tmp_path / "m.json"
    bad_map.write_text(json.dumps({"columns": {"Titre": "titel"}}))
    with pytest.raises(CommandError, match="Column 'Titre': unknown field 'titel' for deals"):
        call_command("import", "deals", str(path), "--mapping", str(bad_map))
    with pytest.raises(CommandError, match="Unknown entity 'deal'"):
        call_command("import", "deal", str(path))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import", "deals", str(tmp_path / "missing.csv"))
    assert Deal.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_cancel_during_an_import_keeps_nothing(admin, stages, tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("Titre\n" + "".join(f"Affaire {i}\n" for i in range(10)))
    run = ImportRun.objects.create(
        user=admin, entity="deals", file_path=str(path), mapping={"entity": "deals"}
    )
    monkeypatch.setattr(importers, "BATCH", 2)
    write = importers.Importer._write_deals

    def write_then_cancel(self, values, line):
        write(self, values, line)
        if line == 4:
            request_cancel(run)

    monkeypatch.setattr(importers.Importer, "_write_deals", write_then_cancel)
    report = importers.execute(run)
    run.refresh_from_db()
    assert (report.status, run.status, Deal.objects.count()) == ("cancelled", "cancelled", 0)
    assert not ChangeRecord.objects.filter(entity="deal").exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite side channel")
def test_progress_is_readable_while_running(admin, tmp_path):
    run = ImportRun.objects.create(
        user=admin, entity="deals", file_path="x.csv", status=ImportRun.Status.RUNNING
    )
    progress = Progress(run)
    progress.publish(0, 0, 500)
    progress.publish(200, 3)
    assert read_progress(run) == {
        "status": "running",
        "rows_total": 500,
        "rows_done": 200,
        "errors_count": 3,
    }
    progress.close()
    assert read_progress(run)["rows_done"] == 0
