"""The imports API: upload and start with a mapping, status and report, cancel, undo; errors
name the field and a refused request leaves nothing behind."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ruche.pipelines.models import Deal
from ruche.transfer.models import ImportRun

CSV = (
    "Ref;Title;Amount;Stage;Company\n"
    "A1;Site web;1.200,50 €;Négo;ACME SAS\n"
    "A2;Audit;abc;Lead;Beta\n"
    "A3;Formation;300;Prospect;Gamma\n"
)
UNKNOWN_FIELD = (
    "Column 'Ref': unknown field 'colour' for deals. Known: ruche_id, external_id, title, "
    "value, currency, pipeline, stage, status, owner, org, org_external_id, org_siren, "
    "org_ruche_id, person, person_email, person_phone, person_external_id, person_ruche_id, "
    "expected_close_date, probability, lost_reason, source, labels, competitor, next_step, "
    "description, win_loss_report, revenue_type, recurring_monthly, recurring_term_months, "
    "recurring_start_date, visible_to, add_time, won_time, lost_time, close_time, "
    "stage_change_time, custom_fields_json."
)
MAPPING = {
    "columns": {"Ref": "external_id", "Amount": "value", "Company": "org"},
    "values": {"stage": {"Négo": "Negotiation"}},
}


def post_import(client, content=CSV, name="deals.csv", **fields):
    data = {"entity": "deals", "file": SimpleUploadedFile(name, content.encode()), **fields}
    return client.client.post("/api/v2/imports", data=data, HTTP_X_API_TOKEN=client.token)


def test_upload_start_status_and_undo(api_as, admin, stages, background):
    client = api_as(admin)
    with background():
        response = post_import(client, mapping=json.dumps(MAPPING), on_error="skip")
    assert response.status_code == 201
    body = response.json()
    run = ImportRun.objects.get()
    assert body["success"] is True and body["data"]["id"] == run.pk
    assert (body["data"]["status"], body["data"]["entity"]) == ("pending", "deals")

    data = client.get(f"/imports/{run.pk}").json()["data"]
    assert (data["status"], data["rows_total"], data["rows_done"], data["errors_count"]) == (
        "done",
        3,
        3,
        1,
    )
    assert data["report"]["errors"] == [
        {"line": 3, "column": "Amount", "reason": "'abc' is not an amount."}
    ]
    assert (data["report"]["created"], data["report"]["related_created"]) == (
        2,
        {"organization": 2},
    )
    assert sorted(
        Deal.objects.values_list("external_id", "title", "value_minor", "stage__name")
    ) == [
        ("A1", "Site web", 120050, "Negotiation"),
        ("A3", "Formation", 30000, "Prospect"),
    ]

    refused = client.post(f"/imports/{run.pk}/cancel")
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"status": f"Import #{run.pk} is done: it is not running."}

    undone = client.post(f"/imports/{run.pk}/undo")
    assert undone.status_code == 200
    assert undone.json()["data"]["status"] == "undone"
    assert undone.json()["data"]["report"]["undo"] == {"deleted": 4, "restored": 0}
    assert Deal.objects.count() == 0


def test_abort_imports_nothing(api_as, admin, stages, background):
    with background():
        post_import(api_as(admin), mapping=json.dumps(MAPPING))
    run = ImportRun.objects.get()
    assert (run.status, run.errors_count) == ("invalid", 1)
    assert Deal.objects.count() == 0


def test_draft_then_cancel_before_the_worker(api_as, admin, stages, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client = api_as(admin)
    response = post_import(client, start="false")
    run_id = response.json()["data"]["id"]
    assert response.json()["data"]["status"] == "draft"
    assert client.post(f"/imports/{run_id}/cancel").status_code == 422


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"entity": "invoices"},
            {
                "entity": "Unknown entity 'invoices': one of organizations, "
                "persons, products, deals, deal_lines, activities, notes."
            },
        ),
        ({"name": "deals.pdf"}, {"file": "A CSV or XLSX file is expected."}),
        ({"content": ""}, {"file": "The file is empty: a header row is expected on line 1."}),
        (
            {"mapping": "{"},
            {"mapping": "Not JSON: Expecting property name enclosed in double quotes."},
        ),
        ({"mapping": "[]"}, {"mapping": "A JSON object is expected."}),
        (
            {"mapping": '{"columns": {"Nope": "title"}}'},
            {"columns": "No column 'Nope' in the file."},
        ),
        (
            {"mapping": '{"columns": {"Ref": "colour"}}'},
            {"mapping": UNKNOWN_FIELD},
        ),
        ({"on_error": "later"}, {"on_error": "One of abort, skip."}),
    ],
)
def test_refused_requests_name_the_field_and_keep_nothing(
    api_as, admin, stages, background, fields, errors
):
    with background():
        response = post_import(api_as(admin), **fields)
    assert response.status_code == 422
    assert response.json()["errors"] == errors
    assert ImportRun.objects.count() == 0 and Deal.objects.count() == 0


def test_who_may_import_and_see_imports(api_as, admin, manager, rep, stages, background):
    assert post_import(api_as(rep)).status_code == 403
    with background():
        post_import(api_as(admin), mapping=json.dumps(MAPPING), start="false")
    run = ImportRun.objects.get()
    assert api_as(manager).get(f"/imports/{run.pk}").status_code == 404
    assert api_as(rep).get(f"/imports/{run.pk}").status_code == 404
    assert api_as(manager).post(f"/imports/{run.pk}/undo").status_code == 404
    assert api_as(admin).get(f"/imports/{run.pk}").json()["data"]["status"] == "draft"
