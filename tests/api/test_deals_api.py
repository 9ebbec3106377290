"""The deals API: envelope, paging, concurrency, retries, visibility and refusals."""

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from ruche.core.history import Actor
from ruche.core.models import ChangeRecord, Lookup, Visibility
from ruche.pipelines.models import Deal, DealLine, Pipeline
from ruche.pipelines.services import deal_create, pipeline_create_standard


@pytest.fixture
def api(api_as, admin):
    return api_as(admin)


@pytest.fixture
def deal(admin_actor, stages):
    return deal_create(
        actor=admin_actor, data={"title": "Fournil", "value": "1500.00", "stage_id": stages[0].pk}
    )


def test_create_then_read_in_pipedrive_envelope(api, stages):
    created = api.post(
        "/deals", {"title": "Moulin", "value": 1234.56, "currency": "EUR", "stage_id": stages[1].pk}
    )
    assert created.status_code == 200
    body = created.json()
    assert body["success"] is True
    assert body["data"]["value"] == 1234.56
    assert body["data"]["stage_id"] == stages[1].pk
    assert created["ETag"] == '"1"'
    deal = Deal.objects.get(pk=body["data"]["id"])
    assert (deal.value_minor, deal.currency, deal.title) == (123456, "EUR", "Moulin")


def test_stale_if_match_is_refused_and_changes_nothing(api, deal, stages, unchanged):
    fresh = api.patch(f"/deals/{deal.pk}", {"title": "Fournil 2"}, if_match='"1"')
    assert (fresh.status_code, fresh["ETag"]) == (200, '"2"')
    with unchanged(deal):
        stale = api.patch(f"/deals/{deal.pk}", {"stage_id": stages[2].pk}, if_match='"1"')
    assert stale.status_code == 412
    assert stale.json()["success"] is False
    assert "version 2" in stale.json()["error"]
    deal.refresh_from_db()
    assert (deal.title, deal.stage_id, deal.version) == ("Fournil 2", stages[0].pk, 2)


def test_same_idempotency_key_creates_one_deal(api):
    first = api.post("/deals", {"title": "Retry"}, idempotency_key="abc-123")
    second = api.post("/deals", {"title": "Retry"}, idempotency_key="abc-123")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert Deal.objects.filter(title="Retry").count() == 1
    reused = api.post("/deals", {"title": "Something else"}, idempotency_key="abc-123")
    assert reused.status_code == 422
    assert Deal.objects.count() == 1


def test_refused_request_does_not_burn_its_idempotency_key(api):
    refused = api.post("/deals", {"title": "x", "currency": "ZZZ"}, idempotency_key="k")
    assert refused.status_code == 422
    accepted = api.post("/deals", {"title": "x", "currency": "EUR"}, idempotency_key="k")
    assert accepted.status_code == 200
    assert Deal.objects.count() == 1


@pytest.fixture
def private_deal(other_rep, stages):
    """A deal of the Sud team, visible to that team only."""
    return deal_create(
        actor=Actor.for_user(other_rep),
        data={"title": "Secret Sud", "stage_id": stages[0].pk, "visible_to": Visibility.TEAM},
    )


def test_rep_gets_404_for_another_teams_deal_everywhere(api_as, rep, private_deal, unchanged):
    api = api_as(rep)
    missing = api.get("/deals/999999")
    hidden = api.get(f"/deals/{private_deal.pk}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"] == f"Deal {private_deal.pk} not found."
    with unchanged(private_deal):
        assert api.patch(f"/deals/{private_deal.pk}", {"title": "Mine"}).status_code == 404
        assert api.delete(f"/deals/{private_deal.pk}").status_code == 404
        assert (
            api.post(
                f"/deals/{private_deal.pk}/products", {"name": "x", "item_price": 1, "quantity": 1}
            ).status_code
            == 404
        )
    assert api.get(f"/deals/{private_deal.pk}/history").status_code == 404
    assert api.get(f"/deals/{private_deal.pk}/products").status_code == 404
    assert api.get("/deals").json()["data"] == []
    assert api.get("/deals/search?term=Secret").json()["data"]["items"] == []
    assert api.get("/itemSearch?term=Secret").json()["data"]["items"] == []
    export = b"".join(api.get("/deals/export").streaming_content).decode()
    assert export.splitlines()[1:] == []
    assert "Secret" not in export


def test_teammate_and_admin_see_the_team_deal(api_as, admin, other_rep, private_deal, sud):
    from tests.factories import UserFactory

    teammate = UserFactory(email="teammate@ruche.test", role="rep", team=sud)
    for user in (teammate, admin):
        assert api_as(user).get(f"/deals/{private_deal.pk}").status_code == 200
        assert [d["id"] for d in api_as(user).get("/deals").json()["data"]] == [private_deal.pk]


def test_cursor_pages_cover_every_deal_once(api, admin_actor, stages):
    ids = [deal_create(actor=admin_actor, data={"title": f"D{i}"}).pk for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = api.get("/deals?limit=3" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [deal["id"] for deal in page["data"]]
        cursor, pages = page["additional_data"]["next_cursor"], pages + 1
        if cursor is None:
            break
    assert (seen, pages) == (ids, 3)
    newest_first = api.get("/deals?sort_by=add_time&sort_direction=desc&limit=500").json()
    assert [deal["id"] for deal in newest_first["data"]] == ids[::-1]


def test_filters_by_stage_owner_and_status(api, admin_actor, rep, stages, loss_reason):
    in_stage = deal_create(actor=admin_actor, data={"title": "A", "stage_id": stages[2].pk})
    of_rep = deal_create(actor=admin_actor, data={"title": "B", "owner_id": rep.pk})
    lost = deal_create(
        actor=admin_actor, data={"title": "C", "status": "lost", "lost_reason_id": loss_reason.pk}
    )

    def ids(query):
        return [deal["id"] for deal in api.get(f"/deals?{query}").json()["data"]]

    assert ids(f"stage_id={stages[2].pk}") == [in_stage.pk]
    assert ids(f"owner_id={rep.pk}") == [of_rep.pk]
    assert ids("status=lost") == [lost.pk]
    assert ids("status=open,lost") == [in_stage.pk, of_rep.pk, lost.pk]
    assert api.get("/deals?status=closed").status_code == 422


def test_lines_make_the_value_exactly(api, deal):
    for price in ("0.10", "0.20"):
        response = api.post(
            f"/deals/{deal.pk}/products",
            {"name": "Frais", "item_price": price, "quantity": 1, "tax": 20},
        )
        assert response.status_code == 201
    body = api.get(f"/deals/{deal.pk}").json()["data"]
    assert body["value"] == 0.3
    assert Deal.objects.get(pk=deal.pk).value_minor == 30
    refused = api.patch(f"/deals/{deal.pk}", {"value": 99})
    assert refused.status_code == 422
    assert "value" in refused.json()["errors"]
    assert Deal.objects.get(pk=deal.pk).value_minor == 30


def test_history_lists_every_change_with_its_actor(api, deal, stages):
    api.patch(f"/deals/{deal.pk}", {"title": "Fournil Nord", "stage_id": stages[1].pk})
    history = api.get(f"/deals/{deal.pk}/history").json()["data"]
    assert [
        (h["event"], h["field"], h["old_value"], h["new_value"], h["actor_kind"])
        for h in history[1:]
    ] == [
        ("stage_moved", "stage", stages[0].pk, stages[1].pk, "token"),
        ("updated", "title", "Fournil", "Fournil Nord", "token"),
    ]


def test_stage_of_another_pipeline_is_refused(api, admin_actor, deal, unchanged):
    other = pipeline_create_standard(actor=admin_actor, name="Renouvellements")
    foreign_stage = other.stages.first()
    pipeline = Pipeline.objects.exclude(pk=other.pk).first()
    with unchanged(deal):
        response = api.patch(
            f"/deals/{deal.pk}", {"pipeline_id": pipeline.pk, "stage_id": foreign_stage.pk}
        )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["stage_id"]


BAD_INPUTS = [
    # (what, body or raw text, field named in the errors)
    ("wrong type", {"title": "x", "value": "beaucoup"}, "value"),
    ("wrong type for id", {"title": "x", "org_id": "acme"}, "org_id"),
    ("unknown currency", {"title": "x", "currency": "ZZZ"}, "currency"),
    ("too many decimals", {"title": "x", "value": "1.005"}, "value"),
    ("negative value", {"title": "x", "value": -5}, "value"),
    ("10 MB title", {"title": "x" * 10_000_000}, "title"),
    ("impossible date", {"title": "x", "expected_close_date": "2024-02-31"}, "expected_close_date"),
    ("unknown stage", {"title": "x", "stage_id": 987654}, "stage_id"),
    ("probability out of range", {"title": "x", "probability": 140}, "probability"),
    ("unknown status", {"title": "x", "status": "maybe"}, "status"),
    ("unknown custom field", {"title": "x", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ("lost without reason", {"title": "x", "status": "lost"}, "lost_reason"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_deal_input_is_a_4xx_naming_the_field(api, deal, case, body, field, unchanged):
    with unchanged(deal):
        created = api.post("/deals", body)
        updated = api.patch(f"/deals/{deal.pk}", body)
    for response in (created, updated):
        assert response.status_code == 422, response.content[:300]
        assert response.json()["success"] is False
        assert field in response.json()["errors"]


def test_malformed_json_is_a_400(api, deal, unchanged):
    with unchanged(deal):
        response = api.post("/deals", raw='{"title": "x",')
    assert response.status_code == 400
    assert response.json()["error"] == "Malformed JSON in the request body."


def test_negative_quantity_is_refused_and_nothing_changes(api, deal, unchanged):
    with unchanged(deal):
        response = api.post(
            f"/deals/{deal.pk}/products", {"name": "x", "item_price": 10, "quantity": -2}
        )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["quantity"]
    assert DealLine.objects.count() == 0


def test_authentication(api_as, admin, token_for, deal):
    assert Client().get("/api/v2/deals").status_code == 401
    assert Client().get("/api/v2/deals", HTTP_X_API_TOKEN="wrong").status_code == 401
    token = token_for(admin)
    assert Client().get(f"/api/v2/deals?api_token={token}").status_code == 200
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    assert browser.get("/api/v2/deals").status_code == 200
    refused = browser.post("/api/v2/deals", data={"title": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert Deal.objects.count() == 1


@override_settings(RUCHE_API_RATE_LIMIT=3, RUCHE_API_RATE_WINDOW_SECONDS=3600)
def test_tokens_are_rate_limited_with_pipedrive_headers(api):
    cache.clear()
    remaining = [api.get("/deals")["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    limited = api.get("/deals")
    assert limited.status_code == 429
    assert limited["x-ratelimit-limit"] == "3"
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["success"] is False
    cache.clear()


def test_history_is_written_in_the_same_transaction(api, deal):
    before = ChangeRecord.objects.count()
    api.patch(f"/deals/{deal.pk}", {"title": "x" * 300})
    assert ChangeRecord.objects.count() == before


@pytest.mark.parametrize("count", [5, 60])
def test_list_query_count_does_not_grow_with_deals(
    api, admin_actor, stages, loss_reason, count, django_assert_max_num_queries
):
    label = Lookup.objects.filter(kind=Lookup.Kind.LABEL).first()
    for index in range(count):
        deal_create(
            actor=admin_actor,
            data={
                "title": f"D{index}",
                "label_ids": [label.pk],
                "status": "lost",
                "lost_reason_id": loss_reason.pk,
            },
        )
    # token, its last-use stamp, deals, their labels, custom field definitions
    with django_assert_max_num_queries(6):
        page = api.get("/deals?limit=100").json()
    assert len(page["data"]) == count
    assert {deal["lost_reason"] for deal in page["data"]} == {loss_reason.name}
    assert {tuple(deal["label_ids"]) for deal in page["data"]} == {(label.pk,)}
