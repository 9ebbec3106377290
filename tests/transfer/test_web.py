"""The web import: upload, mapping (remembered), value mapping, preview with every problem,
background run with progress, rows to fix, notification, undo; and who may do what."""

import csv
import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ruche.contacts.models import Organization
from ruche.pipelines.models import Deal
from ruche.transfer.models import ImportRun, SavedMapping

DIRTY = (
    "Réf;Intitulé;Montant TTC;Étape;Société;Commercial;Statut;Raison\n"
    "W1;Site web;1.200,50 €;Négo;ACME SAS;rep@ruche.test;;\n"
    "W2;Audit;abc;Lead;Beta;;;\n"
    "W3;Formation;300;Prospect;Gamma;Rémi Nord;perdu;trop cher\n"
    "W4;Conseil;45,10;Phase X;;;;\n"
)
PROPOSED = {
    "Réf": "external_id",
    "Intitulé": "title",
    "Montant TTC": None,
    "Étape": "stage",
    "Société": "org",
    "Commercial": "owner",
    "Statut": "status",
    "Raison": None,
}


def upload(client, content=DIRTY, name="affaires.csv", entity="deals"):
    file = SimpleUploadedFile(name, content.encode("cp1252"), content_type="text/csv")
    return client.post(reverse("web:import_home"), {"entity": entity, "file": file})


def map_columns(client, run, targets: dict, **options):
    data = {f"column-{i}": target or "" for i, target in enumerate(targets.values())}
    data |= {"duplicates": "update", "create_related": "on", **options}
    return client.post(reverse("web:import_mapping", args=[run.pk]), data)


def test_upload_proposes_columns_and_remembers_the_choice(web_as, admin, stages, background):
    client = web_as(admin)
    response = upload(client)
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_mapping", args=[run.pk])
    assert (run.status, run.entity, run.file_name) == ("draft", "deals", "affaires.csv")
    assert run.mapping["columns"] == PROPOSED

    page = client.get(reverse("web:import_mapping", args=[run.pk]))
    assert page.status_code == 200
    chosen = PROPOSED | {"Montant TTC": "value", "Raison": "lost_reason"}
    response = map_columns(client, run, chosen)
    assert response["Location"] == reverse("web:import_values", args=[run.pk])
    run.refresh_from_db()
    assert run.mapping["columns"] == chosen
    assert SavedMapping.objects.get().columns == chosen

    upload(client, name="again.csv")
    assert ImportRun.objects.order_by("-id").first().mapping["columns"] == chosen


def test_values_preview_background_run_rows_to_fix_notice_and_undo(
    web_as, admin, rep, stages, loss_reason, background, settings
):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "ruche.transfer.notices.ImportNoticeMiddleware",
    ]
    client = web_as(admin)
    upload(client)
    run = ImportRun.objects.get()
    map_columns(client, run, PROPOSED | {"Montant TTC": "value", "Raison": "lost_reason"})

    page = client.get(reverse("web:import_values", args=[run.pk]))
    choices = {c.target: c for _label, c, _rows in page.context["choices"]}
    assert choices["stage"].found == ["Négo", "Lead", "Prospect", "Phase X"]
    assert choices["stage"].chosen == {
        "Négo": "",
        "Lead": "Lead",
        "Prospect": "Prospect",
        "Phase X": "",
    }
    assert choices["owner"].chosen == {
        "rep@ruche.test": "rep@ruche.test",
        "Rémi Nord": "rep@ruche.test",
    }
    assert choices["lost_reason"].chosen == {"trop cher": ""}
    response = client.post(
        reverse("web:import_values", args=[run.pk]),
        {
            "value-stage-0": "Negotiation",
            "value-stage-1": "Lead",
            "value-stage-2": "Prospect",
            "value-stage-3": "",
            "value-owner-0": "rep@ruche.test",
            "value-owner-1": "rep@ruche.test",
            "value-lost_reason-0": "Prix trop élevé",
        },
    )
    assert response["Location"] == reverse("web:import_preview", args=[run.pk])

    preview = client.get(reverse("web:import_preview", args=[run.pk])).context["preview"]
    assert [line for line, _cells in preview.rows] == [2, 3, 4, 5]
    assert preview.problems == [
        {"line": 3, "column": "Montant TTC", "reason": "'abc' is not an amount."},
        {
            "line": 5,
            "column": "Étape",
            "reason": "Unknown stage 'Phase X' in pipeline 'New business'. Known: Lead, "
            "Prospect, Meeting, Qualified / quote sent, Negotiation.",
        },
    ]
    assert (preview.checked_rows, preview.problems_count, preview.complete) == (4, 2, True)
    assert Deal.objects.count() == 0

    with background():
        response = client.post(reverse("web:import_preview", args=[run.pk]), {"on_error": "skip"})
    assert response["Location"] == reverse("web:import_run", args=[run.pk])
    run.refresh_from_db()
    assert (run.status, run.rows_total, run.rows_done, run.errors_count) == ("done", 4, 4, 2)
    deals = Deal.objects.order_by("external_id")
    assert [
        (
            d.external_id,
            d.title,
            d.value_minor,
            d.currency,
            d.stage.name,
            d.status,
            d.owner_id,
            d.org.name,
        )
        for d in deals
    ] == [
        ("W1", "Site web", 120050, "EUR", "Negotiation", "open", rep.pk, "ACME SAS"),
        ("W3", "Formation", 30000, "EUR", "Prospect", "lost", rep.pk, "Gamma"),
    ]
    assert deals[1].lost_reason_id == loss_reason.pk
    assert sorted(Organization.objects.values_list("name", flat=True)) == ["ACME SAS", "Gamma"]
    assert [m.subject for m in mail.outbox] == [f"Ruche : l’import n° {run.pk} est terminé"]  # noqa: RUF001
    assert mail.outbox[0].to == ["admin@ruche.test"]

    home = client.get(reverse("web:import_home"))
    assert [str(m) for m in home.context["messages"]] == [
        f"L’import n° {run.pk} (affaires.csv) est terminé. 4 lignes lues, 2 créées, "  # noqa: RUF001
        "0 mises à jour, 0 ignorées, 2 erreurs."
    ]
    again = client.get(reverse("web:import_home"))
    assert list(again.context["messages"]) == []

    rows = client.get(reverse("web:import_bad_rows", args=[run.pk]))
    assert rows["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(rows.streaming_content).decode()
    assert list(csv.reader(io.StringIO(content))) == [
        [
            "Réf",
            "Intitulé",
            "Montant TTC",
            "Étape",
            "Société",
            "Commercial",
            "Statut",
            "Raison",
            "Erreurs / errors",
        ],
        ["W2", "Audit", "abc", "Lead", "Beta", "", "", "", "Montant TTC: 'abc' is not an amount."],
        [
            "W4",
            "Conseil",
            "45,10",
            "Phase X",
            "",
            "",
            "",
            "",
            "Étape: Unknown stage 'Phase X' in pipeline 'New business'. Known: Lead, Prospect, "
            "Meeting, Qualified / quote sent, Negotiation.",
        ],
    ]

    response = client.post(reverse("web:import_undo", args=[run.pk]))
    assert response.status_code == 302
    assert Deal.objects.count() == 0 and Organization.objects.count() == 0
    run.refresh_from_db()
    assert run.status == "undone"


def test_abort_on_error_imports_nothing(web_as, manager, stages, background):
    client = web_as(manager)
    upload(client)
    run = ImportRun.objects.get()
    map_columns(client, run, PROPOSED | {"Montant TTC": "value"})
    with background():
        client.post(reverse("web:import_preview", args=[run.pk]), {"on_error": "abort"})
    run.refresh_from_db()
    known = "Known: Lead, Prospect, Meeting, Qualified / quote sent, Negotiation."
    assert run.status == "invalid"
    assert run.report["errors"] == [
        {
            "line": 2,
            "column": "Commercial",
            "reason": "Unknown user 'rep@ruche.test' (give an email or a name).",
        },
        {
            "line": 2,
            "column": "Étape",
            "reason": f"Unknown stage 'Négo' in pipeline 'New business'. {known}",
        },
        {"line": 3, "column": "Montant TTC", "reason": "'abc' is not an amount."},
        {
            "line": 4,
            "column": "Commercial",
            "reason": "Unknown user 'Rémi Nord' (give an email or a name).",
        },
        {"line": 4, "column": "status", "reason": "A lost deal needs a loss reason."},
        {
            "line": 5,
            "column": "Étape",
            "reason": f"Unknown stage 'Phase X' in pipeline 'New business'. {known}",
        },
    ]
    assert Deal.objects.count() == 0 and Organization.objects.count() == 0
    page = client.get(reverse("web:import_run", args=[run.pk]))
    assert "refusé : rien n’a été importé" in page.content.decode()  # noqa: RUF001


def test_cancel_before_the_worker_starts_keeps_nothing(web_as, admin, stages, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client = web_as(admin)
    upload(client)
    run = ImportRun.objects.get()
    client.post(reverse("web:import_preview", args=[run.pk]), {"on_error": "skip"})
    response = client.post(reverse("web:import_cancel", args=[run.pk]))
    assert response.status_code == 302
    from ruche.transfer.tasks import run_import

    run_import.call(run.pk)
    run.refresh_from_db()
    assert run.status == "cancelled" and Deal.objects.count() == 0
    refused = client.post(reverse("web:import_cancel", args=[run.pk]))
    assert refused.status_code == 302
    assert run.status == ImportRun.objects.get().status


@pytest.mark.parametrize(
    ("name", "content", "entity", "message"),
    [
        ("deals.pdf", "x", "deals", "Fichier : Un fichier CSV ou XLSX est attendu."),
        ("deals.csv", "", "deals", "Fichier : The file is empty"),
        ("deals.csv", "a;b\n1;2\n", "invoices", "Quoi importer : Unknown entity 'invoices'"),
    ],
)
def test_refused_upload_names_the_field_and_keeps_nothing(
    web_as, admin, background, name, content, entity, message
):
    response = upload(web_as(admin), content=content, name=name, entity=entity)
    assert response.status_code == 422
    assert response.context["error"].startswith(message)
    assert ImportRun.objects.count() == 0


def test_reps_may_not_import_and_managers_see_only_their_runs(
    web_as, admin, manager, rep, background
):
    upload(web_as(admin))
    run = ImportRun.objects.get()
    assert web_as(rep).get(reverse("web:import_home")).status_code == 403
    assert upload(web_as(rep)).status_code == 403
    assert ImportRun.objects.count() == 1
    for name in ("import_run", "import_mapping", "import_preview", "import_progress"):
        assert web_as(manager).get(reverse(f"web:{name}", args=[run.pk])).status_code == 404
    assert web_as(manager).post(reverse("web:import_undo", args=[run.pk])).status_code == 404


def test_home_page_queries_do_not_grow_with_runs(
    web_as, admin, manager, background, django_assert_max_num_queries
):
    client = web_as(admin)
    for user in (admin, manager) * 5:
        ImportRun.objects.create(user=user, entity="deals", file_path="x.csv", file_name="x.csv")
    with django_assert_max_num_queries(8):
        response = client.get(reverse("web:import_home"))
    assert len(response.context["runs"]) == 10


def test_run_page_queries_do_not_grow_with_errors_shown(
    web_as, admin, background, django_assert_max_num_queries
):
    errors = [
        {"line": n, "column": "Montant", "reason": "'x' is not an amount."} for n in range(500)
    ]
    run = ImportRun.objects.create(
        user=admin,
        entity="deals",
        file_path="x.csv",
        file_name="x.csv",
        status="done",
        report={"rows": 500, "errors": errors, "errors_count": 500},
    )
    client = web_as(admin)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("web:import_run", args=[run.pk]))
    assert response.content.decode().count("is not an amount") == 500
    with django_assert_max_num_queries(6):
        client.get(reverse("web:import_progress", args=[run.pk]), HTTP_HX_REQUEST="true")
