"""/api/v2/reports: CRUD with the usual envelopes and ETags, /data with the caller's figures;
refusals answer 4xx naming the field and change nothing."""

import pytest
from django.forms.models import model_to_dict

from ruche.core.models import Visibility
from ruche.reports.models import Report

CUSTOM_2026 = {"period": "custom", "date_from": "2026-01-01", "date_to": "2026-12-31"}


def state(report: Report) -> dict:
    fresh = Report.objects.get(pk=report.pk)
    return model_to_dict(fresh) | {"version": fresh.version, "deleted": fresh.is_deleted}


@pytest.fixture
def shared(make_deal, rep, other_rep, admin, usd_rates, make_report):
    make_deal(rep, "1000", status="won", won="2026-01-15", competitor="Acme")
    make_deal(rep, "333.33", currency_code="USD", status="won", won="2026-02-10")
    make_deal(other_rep, "250.55", currency_code="USD", status="won", won="2026-03-05")
    make_deal(other_rep, "40.01", status="won", won="2026-04-02", visible_to=Visibility.OWNER)
    return make_report(admin, name="CA", grouping="owner", shared=True, **CUSTOM_2026)


def test_create_get_list_update_delete(reports_api, rep):
    client = reports_api(rep)
    created = client.post(
        "/reports",
        {"name": "Pertes", "kind": "win_loss", "grouping": "reason", "chart": "pie", **CUSTOM_2026},
    )
    assert created.status_code == 200 and created["ETag"] == '"1"'
    body = created.json()
    report_id = body["data"]["id"]
    assert body["success"] is True
    assert {k: body["data"][k] for k in ("kind", "grouping", "chart", "date_from", "owner_id")} == {
        "kind": "win_loss",
        "grouping": "reason",
        "chart": "pie",
        "date_from": "2026-01-01",
        "owner_id": rep.pk,
    }
    listed = client.get("/reports?kind=win_loss").json()
    assert [r["id"] for r in listed["data"]] == [report_id]
    assert listed["additional_data"] == {"next_cursor": None}
    updated = client.patch(f"/reports/{report_id}", {"shared": True}, if_match='"1"')
    assert updated.status_code == 200 and updated.json()["data"]["shared"] is True
    assert updated["ETag"] == '"2"'
    stale = client.patch(f"/reports/{report_id}", {"name": "X"}, if_match='"1"')
    assert stale.status_code == 412 and Report.objects.get(pk=report_id).name == "Pertes"
    assert client.delete(f"/reports/{report_id}").json() == {
        "success": True,
        "data": {"id": report_id},
    }
    assert client.get(f"/reports/{report_id}").status_code == 404


def test_data_gives_the_callers_figures(reports_api, admin, rep, other_rep, shared):
    body = reports_api(rep).get(f"/reports/{shared.pk}/data").json()
    assert body["data"] == [
        {"key": rep.pk, "label": "Rémi Nord", "deals": 2, "amount": 1300},
        {
            "key": shared.owner_id and body["data"][1]["key"],
            "label": "Sarah Sud",
            "deals": 1,
            "amount": 200.44,
        },
    ]
    extra = body["additional_data"]
    assert (extra["currency"], extra["from"], extra["to"], extra["grouping"]) == (
        "EUR",
        "2026-01-01",
        "2026-12-31",
        "owner",
    )
    assert [c["key"] for c in extra["columns"]] == ["deals", "amount"]
    admin_rows = reports_api(admin).get(f"/reports/{shared.pk}/data").json()["data"]
    assert [(r["label"], r["amount"]) for r in admin_rows] == [
        ("Rémi Nord", 1300),
        ("Sarah Sud", 240.45),
    ]


def test_the_list_holds_mine_and_shared_but_not_others_private(
    reports_api, rep, admin, shared, make_report
):
    mine = make_report(rep, name="Mien")
    make_report(admin, name="Privé")
    ids = [r["id"] for r in reports_api(rep).get("/reports").json()["data"]]
    assert ids == [shared.pk, mine.pk]
    assert [r["id"] for r in reports_api(rep).get("/reports?mine=true").json()["data"]] == [mine.pk]


def test_bad_input_answers_422_naming_the_field(reports_api, rep):
    client = reports_api(rep)
    for body, field in (
        ({"name": "A", "kind": "funnel", "grouping": "owner"}, "grouping"),
        ({"name": "A", "kind": "nope"}, "kind"),
        (
            {"name": "A", "kind": "revenue", "period": "custom", "date_from": "2026-02-01"},
            "date_to",
        ),
        ({"kind": "revenue"}, "name"),
    ):
        response = client.post("/reports", body)
        assert response.status_code == 422, body
        assert field in response.json()["errors"]
    assert Report.objects.count() == 0


def test_another_users_shared_report_is_read_only(reports_api, rep, shared):
    before = state(shared)
    client = reports_api(rep)
    assert client.get(f"/reports/{shared.pk}").status_code == 200
    response = client.patch(f"/reports/{shared.pk}", {"name": "À moi"})
    assert response.status_code == 403
    assert response.json()["error"] == "Only the report's owner can change it."
    assert client.delete(f"/reports/{shared.pk}").status_code == 403
    assert state(shared) == before


def test_a_private_report_is_404_for_others(reports_api, rep, admin, make_report):
    private = make_report(admin, name="Privé")
    before = state(private)
    client = reports_api(rep)
    assert client.get(f"/reports/{private.pk}").status_code == 404
    assert client.get(f"/reports/{private.pk}/data").status_code == 404
    assert client.patch(f"/reports/{private.pk}", {"name": "X"}).status_code == 404
    assert client.delete(f"/reports/{private.pk}").status_code == 404
    assert state(private) == before
