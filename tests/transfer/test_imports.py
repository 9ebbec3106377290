import datetime as dt
import json

from django.core.management import call_command
from django.utils import timezone

from ruche.contacts.models import Organization, Person
from ruche.core.models import ChangeRecord, CustomField
from ruche.pipelines.models import Activity, Deal, Note, StageEntry
from ruche.transfer.models import ImportRun
from ruche.transfer.undo import undo_import

UTC = dt.UTC

DIRTY_DEALS = (
    "Intitulé;Montant;Étape;Société;SIREN;Contact;E-mail;Commercial;Statut;Raison de la perte;"
    "Clôture prévue;Réf\n"
    "Site web;1.200,50 €;Prospect;ACME S.A.S.;;Jean Dupont;jean@acme.fr;rep@ruche.test;;;"
    "31/12/2024;D1\n"
    "Refonte;1 200,50;Negotiation;Acme;;Jean Dupont;;Rémi Nord;perdu;trop cher;2024-12-31;D2\n"
    "Audit;12;Negociaton;Zeta;;;;;;;31/02/2024;D3\n"
    "Formation;1200.50;Lead;;;;;inconnu@x.fr;;;31.12.2024;D4\n"
    "Support;abc;Lead;Beta;123456789;;;;gagné;;;D5\n"
    "Conseil;300;Meeting;;;Paul Martin;paul@beta.fr;;;;;D6\n"
)


def test_dirty_file_is_refused_with_every_problem_and_nothing_written(run_import, rep, stages):
    history = ChangeRecord.objects.count()
    run, report = run_import(
        "deals",
        DIRTY_DEALS.encode("cp1252"),
        values={"lost_reason": {"trop cher": "Prix trop élevé"}},
    )
    assert report.status == "invalid" and run.status == "invalid"
    assert report.errors == [
        {
            "line": 4,
            "column": "Clôture prévue",
            "reason": "'31/02/2024' is not a date: février 2024 has 29 days.",
        },
        {
            "line": 4,
            "column": "Étape",
            "reason": "Unknown stage 'Negociaton' in pipeline "
            "'New business'. Did you mean 'Negotiation'? Known: Lead, Prospect, Meeting, "
            "Qualified / quote sent, Negotiation.",
        },
        {
            "line": 5,
            "column": "Commercial",
            "reason": "Unknown user 'inconnu@x.fr' (give an email or a name).",
        },
        {"line": 6, "column": "Montant", "reason": "'abc' is not an amount."},
        {
            "line": 6,
            "column": "SIREN",
            "reason": "Invalid SIREN: The number's checksum or check digit is invalid.",
        },
    ]
    assert (report.rows, report.created, report.errors_count) == (6, 0, 5)
    assert Deal.objects.count() == Organization.objects.count() == Person.objects.count() == 0
    assert ChangeRecord.objects.count() == history


def test_dirty_file_good_rows_imported_bad_rows_to_fix(run_import, admin, rep, stages, tmp_path):
    run, report = run_import(
        "deals",
        DIRTY_DEALS.encode("cp1252"),
        on_error="skip",
        values={"lost_reason": {"trop cher": "Prix trop élevé"}},
    )
    assert report.status == "done"
    assert (report.rows, report.created, report.updated, report.skipped) == (6, 3, 0, 0)
    assert sorted(e["line"] for e in report.errors) == [4, 4, 5, 6, 6]
    assert report.related_created == {"organization": 1, "person": 2}
    deals = {d.external_id: d for d in Deal.objects.select_related("org", "person", "stage")}
    assert sorted(deals) == ["D1", "D2", "D6"]
    one, two, six = deals["D1"], deals["D2"], deals["D6"]
    assert (one.value_minor, one.currency, one.stage.name, one.owner, one.status) == (
        120050,
        "EUR",
        "Prospect",
        rep,
        "open",
    )
    assert one.expected_close_date == dt.date(2024, 12, 31)
    # "ACME S.A.S." and "Acme" are the same organisation; the person is found by name.
    assert one.org == two.org and one.org.name == "ACME S.A.S."
    assert one.person == two.person and one.person.emails == [
        {"value": "jean@acme.fr", "label": "work", "primary": True}
    ]
    assert (two.status, two.lost_reason.name, two.probability) == ("lost", "Prix trop élevé", 0)
    assert two.lost_time is not None and two.owner == rep
    assert (six.org, six.person.name, six.owner) == (None, "Paul Martin", admin)
    history = ChangeRecord.objects.filter(entity="deal", entity_id=one.pk).get()
    assert (history.event, history.actor_label, history.actor_user) == (
        "created",
        f"import #{run.pk}",
        admin,
    )
    assert StageEntry.objects.filter(deal=one).count() == 1
    bad = (tmp_path / "file.errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(bad) == 4 and bad[1].startswith("Audit;12;Negociaton;Zeta;")
    assert bad[3].endswith("SIREN: Invalid SIREN: The number's checksum or check digit is invalid.")


def test_rerun_updates_by_external_id_and_undo_restores(run_import, admin, rep, stages):
    first = "Ref;Titre;Montant;Étape\nX1;Alpha;100;Lead\nX2;Beta;200;Lead\n"
    run1, report1 = run_import("deals", first)
    assert report1.created == 2
    second = "Ref;Titre;Montant;Étape\nX1;Alpha v2;150;Meeting\nX3;Gamma;300;Lead\n"
    run2, report2 = run_import("deals", second, name="second.csv")
    assert (report2.created, report2.updated) == (1, 1)
    alpha = Deal.objects.get(external_id="X1")
    assert (alpha.title, alpha.value_minor, alpha.stage.name) == ("Alpha v2", 15000, "Meeting")
    assert Deal.objects.count() == 3
    moved = ChangeRecord.objects.get(entity="deal", entity_id=alpha.pk, event="stage_moved")
    assert moved.actor_label == f"import #{run2.pk}"
    counts = undo_import(run=ImportRun.objects.get(pk=run2.pk), user=admin)
    assert counts == {"deleted": 1, "restored": 1}
    alpha.refresh_from_db()
    assert (alpha.title, alpha.value_minor, alpha.stage.name) == ("Alpha", 10000, "Lead")
    assert sorted(Deal.objects.values_list("external_id", flat=True)) == ["X1", "X2"]
    assert ImportRun.objects.get(pk=run2.pk).status == "undone"
    undo_import(run=ImportRun.objects.get(pk=run1.pk), user=admin)
    assert Deal.objects.count() == 0 and StageEntry.objects.count() == 0


def test_duplicate_policies_for_organizations(run_import, admin):
    base = "Nom;SIREN;Ville\nDupont SARL;732829320;Lyon\nMartin;;Paris\n"
    run_import("organizations", base)
    again = "Nom;SIREN;Ville\nDupont et fils;732 829 320;Nice\nMARTIN;;Lille\nNeuf;;Brest\n"
    _, skipped = run_import("organizations", again, name="b.csv", duplicates="skip")
    assert skipped.errors == []
    assert (skipped.created, skipped.updated, skipped.skipped) == (1, 0, 2)
    _, updated = run_import("organizations", again, name="c.csv", duplicates="update")
    assert (updated.created, updated.updated, updated.skipped) == (0, 3, 0)
    assert dict(Organization.objects.values_list("siren", "city").filter(siren="732829320")) == {
        "732829320": "Nice"
    }
    _, created = run_import("organizations", again, name="d.csv", duplicates="create")
    assert (created.created, created.updated) == (3, 0)
    assert Organization.objects.count() == 6


def test_stage_history_is_rebuilt(run_import, stages):
    content = (
        "Titre;Étape;Statut;Date Lead;Date Prospect;Date Meeting;Gagné le;Créé le\n"
        "A;Meeting;gagné;01/01/2024;15/01/2024 10:00;01/02/2024;20/02/2024;01/01/2024\n"
        "B;Prospect;;;;;;05/03/2024\n"
    )
    _, report = run_import("deals", content)
    assert report.created == 2, report.errors
    a = Deal.objects.get(title="A")
    paris = dt.timezone(dt.timedelta(hours=1))
    assert a.won_time == dt.datetime(2024, 2, 20, tzinfo=paris)
    assert (a.status, a.probability, a.close_time) == ("won", 100, a.won_time)
    entries = list(
        StageEntry.objects.filter(deal=a).values_list(
            "stage__name", "from_stage__name", "entered_at", "left_at"
        )
    )
    assert entries == [
        (
            "Lead",
            None,
            dt.datetime(2024, 1, 1, tzinfo=paris),
            dt.datetime(2024, 1, 15, 10, tzinfo=paris),
        ),
        (
            "Prospect",
            "Lead",
            dt.datetime(2024, 1, 15, 10, tzinfo=paris),
            dt.datetime(2024, 2, 1, tzinfo=paris),
        ),
        ("Meeting", "Prospect", dt.datetime(2024, 2, 1, tzinfo=paris), None),
    ]
    b = Deal.objects.get(title="B")
    assert list(StageEntry.objects.filter(deal=b).values_list("stage__name", "entered_at")) == [
        ("Prospect", dt.datetime(2024, 3, 5, tzinfo=paris))
    ]


def test_dry_run_writes_nothing(run_import, stages):
    run, report = run_import("deals", "Titre;Société\nA;Acme\nB;Acme\n", dry_run=True)
    assert (report.status, report.created, report.related_created) == (
        "done",
        2,
        {"organization": 1},
    )
    assert Deal.objects.count() == Organization.objects.count() == 0
    assert run.records.count() == 0


def test_persons_activities_notes(run_import, admin, rep, stages):
    run_import("deals", "Titre;Réf\nAlpha;A1\n")
    _, persons = run_import(
        "persons", "Prénom;Nom;Email;Société\nJean;Dupont;j@d.fr;Dupont\n", name="p.csv"
    )
    assert (persons.created, persons.related_created) == (1, {"organization": 1})
    _, activities = run_import(
        "activities",
        "Sujet;Type;Échéance;Affaire;Contact;Fait;Durée;Responsable\n"
        "Appeler;appel;15/03/2025;Alpha;Jean Dupont;non;1:30;rep@ruche.test\n"
        "Relancer;fax;16/03/2025;Inconnue;;oui;;\n",
        name="a.csv",
        on_error="skip",
    )
    assert activities.created == 1
    assert [(e["line"], e["column"]) for e in activities.errors] == [(3, "Type"), (3, "Affaire")]
    activity = Activity.objects.get()
    assert (activity.type, activity.duration_minutes, activity.owner, activity.done) == (
        "call",
        90,
        rep,
        False,
    )
    assert activity.deal.title == "Alpha" and activity.person.name == "Jean Dupont"
    _, notes = run_import(
        "notes", "Contenu;Affaire;Date\nTrès intéressé;Alpha;02/01/2024\n", name="n.csv"
    )
    note = Note.objects.get()
    assert (notes.created, note.deal.title, timezone.localdate(note.add_time)) == (
        1,
        "Alpha",
        dt.date(2024, 1, 2),
    )


def test_cli_json_report(admin, stages, tmp_path, capsys):
    path = tmp_path / "deals.csv"
    path.write_text("Deal;Amount\nA;10\nB;1,5\n")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"columns": {"Deal": "title", "Amount": "value"}}))
    call_command("import", "deals", str(path), "--mapping", str(mapping), "--json", "--dry-run")
    report = json.loads(capsys.readouterr().out)
    assert {
        k: report[k] for k in ("rows", "created", "updated", "skipped", "errors", "dry_run")
    } == {"rows": 2, "created": 2, "updated": 0, "skipped": 0, "errors": [], "dry_run": True}
    assert Deal.objects.count() == 0


def test_custom_fields_created_when_asked(run_import, admin, stages):
    _, report = run_import("deals", "Titre;Secteur\nA;Santé\n", custom_fields="create")
    field = CustomField.objects.get(entity="deal")
    assert (report.custom_fields_created, field.name) == (["Secteur"], "Secteur")
    assert Deal.objects.get().custom_fields == {field.key: "Santé"}
