"""Settings pages: admins only; pipelines and stages, exchange rates and API tokens through the
same services as the API, with history; refusals name the field and change nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ruche.accounts.models import ApiToken, Company, hash_token
from ruche.core.models import ChangeRecord, CustomField, ExchangeRate, Lookup
from ruche.pipelines.models import Deal, Pipeline, Stage
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/settings/",
    "/settings/pipelines/",
    "/settings/rates/",
    "/settings/tokens/",
    "/settings/company/",
    "/settings/lists/",
    "/settings/lists/label/",
    "/settings/fields/",
    "/settings/fields/person/",
]


def stage_url(pipeline, stage=None, action=""):
    base = f"/settings/pipelines/{pipeline.pk}/stages/"
    return base + (f"{stage.pk}/" if stage else "") + action


def order(pipeline):
    return list(
        Stage.objects.filter(pipeline=pipeline, is_deleted=False)
        .order_by("order_nr", "id")
        .values_list("name", flat=True)
    )


@pytest.mark.parametrize("url", PAGES)
def test_only_admins_see_settings(web_as, client, admin, manager, rep, url):
    assert web_as(admin).get(url).status_code == 200
    assert web_as(manager).get(url).status_code == 403
    assert web_as(rep).get(url).status_code == 403
    assert client.get(url).status_code == 302  # to the sign-in page


def test_a_rep_cannot_write_settings(web_as, rep, pipeline, stages, unchanged):
    client = web_as(rep)
    with unchanged(pipeline, *stages):
        assert client.post("/settings/pipelines/add/", {"name": "X"}).status_code == 403
        assert client.post(stage_url(pipeline, stages[0]), {"name": "X"}).status_code == 403
        data = {"move": stages[1].pk, "direction": "up"}
        assert client.post(stage_url(pipeline, action="order/"), data).status_code == 403
        assert client.post(stage_url(pipeline, stages[0], "delete/")).status_code == 403
    assert Pipeline.objects.filter(name="X").count() == 0


def test_settings_link_shows_for_admins_only(web_as, admin, rep):
    assert 'href="/settings/"' in web_as(admin).get("/deals/").content.decode()
    assert 'href="/settings/"' not in web_as(rep).get("/deals/").content.decode()


def test_pipeline_page_lists_stages_with_deal_counts_in_bounded_queries(
    web_as, admin, pipeline, stages, django_assert_max_num_queries
):
    for _ in range(3):
        DealFactory(stage=stages[1])
    client = web_as(admin)
    with django_assert_max_num_queries(8):
        html = client.get(f"/settings/pipelines/?pipeline={pipeline.pk}").content.decode()
    for stage in stages:
        assert f'data-id="{stage.pk}"' in html
    assert "3 affaires" in html
    assert 'value="Prospect"' in html


def test_add_and_rename_a_pipeline(web_as, admin, admin_actor):
    client = web_as(admin)
    response = client.post("/settings/pipelines/add/", {"name": "Partenaires"})
    created = Pipeline.objects.get(name="Partenaires")
    assert response.status_code == 302
    assert response["Location"] == f"/settings/pipelines/?pipeline={created.pk}"
    response = client.post(f"/settings/pipelines/{created.pk}/rename/", {"name": "Revendeurs"})
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.name == "Revendeurs"
    record = ChangeRecord.objects.filter(entity="pipeline", entity_id=created.pk).last()
    assert (record.field, record.old_value, record.new_value) == (
        "name",
        "Partenaires",
        "Revendeurs",
    )
    assert record.actor_user == admin


def test_add_a_stage_and_edit_it_with_history(web_as, admin, pipeline, stages):
    client = web_as(admin)
    data = {
        "name": "Signature",
        "deal_probability": "90",
        "days_to_rotten": "",
        "definition": "Bon",
    }
    assert client.post(stage_url(pipeline, action="add/"), data).status_code == 302
    stage = Stage.objects.get(pipeline=pipeline, name="Signature")
    assert (stage.deal_probability, stage.days_to_rotten, stage.order_nr) == (90, None, 6)
    assert order(pipeline)[-1] == "Signature"
    edit = {"name": "Signé", "deal_probability": "95", "days_to_rotten": "7", "definition": "Bon"}
    assert client.post(stage_url(pipeline, stage), edit).status_code == 302
    stage.refresh_from_db()
    assert (stage.name, stage.deal_probability, stage.days_to_rotten) == ("Signé", 95, 7)
    changes = {
        r.field: (r.old_value, r.new_value)
        for r in ChangeRecord.objects.filter(entity="stage", entity_id=stage.pk, event="updated")
    }
    assert changes == {
        "name": ("Signature", "Signé"),
        "deal_probability": (90, 95),
        "days_to_rotten": (None, 7),
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "deal_probability": "10"}, "name"),
        ({"name": "A", "deal_probability": "101"}, "deal_probability"),
        ({"name": "A", "deal_probability": "dix"}, "deal_probability"),
        ({"name": "A", "deal_probability": "10", "days_to_rotten": "0"}, "days_to_rotten"),
        ({"name": "A" * 256, "deal_probability": "10"}, "name"),
    ],
)
def test_bad_stage_input_names_the_field_and_changes_nothing(
    web_as, admin, pipeline, stages, unchanged, data, field
):
    client = web_as(admin)
    with unchanged(*stages):
        response = client.post(stage_url(pipeline, stages[0]), data)
        add = client.post(stage_url(pipeline, action="add/"), data)
    assert response.status_code == add.status_code == 422
    assert f"{field}:" in response.content.decode()
    assert Stage.objects.filter(pipeline=pipeline, is_deleted=False).count() == 5


def test_reorder_by_drag_sends_the_whole_order(web_as, admin, pipeline, stages):
    client = web_as(admin)
    new = [stages[4], stages[0], stages[1], stages[2], stages[3]]
    response = client.post(
        stage_url(pipeline, action="order/"),
        {"stage_ids": [s.pk for s in new]},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 204
    assert order(pipeline) == [s.name for s in new]
    moved = ChangeRecord.objects.get(entity="stage", entity_id=stages[4].pk, field="order_nr")
    assert (moved.old_value, moved.new_value) == (5, 1)


def test_a_wrong_drag_order_is_refused_and_changes_nothing(
    web_as, admin, pipeline, stages, unchanged
):
    client = web_as(admin)
    with unchanged(*stages):
        response = client.post(
            stage_url(pipeline, action="order/"),
            {"stage_ids": [stages[0].pk, stages[1].pk]},
            headers={"X-Requested-With": "fetch"},
        )
    assert response.status_code == 422
    assert response.content.decode().startswith("stage_ids:")


def test_reorder_with_up_and_down_buttons(web_as, admin, pipeline, stages):
    client = web_as(admin)
    url = stage_url(pipeline, action="order/")
    assert client.post(url, {"move": stages[2].pk, "direction": "up"}).status_code == 302
    assert order(pipeline) == [
        "Lead",
        "Meeting",
        "Prospect",
        "Qualified / quote sent",
        "Negotiation",
    ]
    client.post(url, {"move": stages[0].pk, "direction": "down"})
    assert order(pipeline)[:2] == ["Meeting", "Lead"]
    client.post(url, {"move": stages[4].pk, "direction": "down"})  # already last: no change
    assert order(pipeline)[-1] == "Negotiation"


def test_delete_a_stage_moves_its_deals_first(web_as, admin, pipeline, stages):
    deals = [DealFactory(stage=stages[1]) for _ in range(2)]
    client = web_as(admin)
    url = stage_url(pipeline, stages[1], "delete/")
    response = client.post(url, {"move_deals_to_stage_id": stages[3].pk})
    assert response.status_code == 302
    assert set(
        Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("stage", flat=True)
    ) == {stages[3].pk}
    assert Stage.objects.get(pk=stages[1].pk).is_deleted is True
    moves = ChangeRecord.objects.filter(entity="deal", event="stage_moved")
    assert moves.count() == 2


def test_deleting_a_stage_with_deals_needs_a_target(web_as, admin, pipeline, stages, unchanged):
    deal = DealFactory(stage=stages[1])
    client = web_as(admin)
    url = stage_url(pipeline, stages[1], "delete/")
    with unchanged(deal, *stages):
        assert client.post(url).status_code == 422
        bad = client.post(url, {"move_deals_to_stage_id": "9999999"})
        same = client.post(url, {"move_deals_to_stage_id": stages[1].pk})
    assert bad.status_code == 422
    assert "move_deals_to_stage_id:" in bad.content.decode()
    assert same.status_code == 422


def test_an_empty_stage_is_deleted_without_a_target(web_as, admin, pipeline, stages):
    assert web_as(admin).post(stage_url(pipeline, stages[4], "delete/")).status_code == 302
    assert order(pipeline) == ["Lead", "Prospect", "Meeting", "Qualified / quote sent"]


def test_a_stage_of_another_pipeline_is_refused(web_as, admin, pipeline, stages, unchanged):
    other = Pipeline.objects.create(name="Autre", order_nr=9)
    with unchanged(*stages):
        response = web_as(admin).post(
            f"/settings/pipelines/{other.pk}/stages/{stages[0].pk}/",
            {"name": "Piraté", "deal_probability": "1"},
        )
    assert response.status_code == 422


def test_set_an_exchange_rate_in_french_notation(web_as, admin, company):
    client = web_as(admin)
    data = {"currency": "usd", "valid_from": "2026-01-01", "rate": "0,9215"}
    assert client.post("/settings/rates/", data).status_code == 302
    rate = ExchangeRate.objects.get(currency="USD")
    assert (rate.quote_currency, rate.valid_from, rate.rate) == (
        "EUR",
        dt.date(2026, 1, 1),
        Decimal("0.9215"),
    )
    assert "0,9215 EUR" in client.get("/settings/rates/").content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"currency": "XXQ", "valid_from": "2026-01-01", "rate": "1"}, "currency"),
        ({"currency": "EUR", "valid_from": "2026-01-01", "rate": "1"}, "currency"),
        ({"currency": "USD", "valid_from": "hier", "rate": "1"}, "valid_from"),
        ({"currency": "USD", "valid_from": "2026-01-01", "rate": "-2"}, "rate"),
        ({"currency": "USD", "valid_from": "2026-01-01", "rate": "abc"}, "rate"),
    ],
)
def test_a_bad_rate_names_the_field(web_as, admin, company, data, field):
    response = web_as(admin).post("/settings/rates/", data)
    assert response.status_code == 422
    assert f"{field}:" in response.content.decode()
    assert ExchangeRate.objects.count() == 0


def test_import_rates_from_csv_all_or_nothing(web_as, admin, company):
    client = web_as(admin)
    good = b"currency,valid_from,rate\nUSD,2026-01-01,0.92\nGBP,2026-01-01,1.17\n"
    response = client.post("/settings/rates/", {"file": SimpleUploadedFile("r.csv", good)})
    assert response.status_code == 302
    assert ExchangeRate.objects.count() == 2
    bad = b"CHF,2026-02-01,1.05\nJPY,2026-02-01,-1\n"
    response = client.post("/settings/rates/", {"file": SimpleUploadedFile("r.csv", bad)})
    assert response.status_code == 422
    assert "line 2:" in response.content.decode()
    assert ExchangeRate.objects.count() == 2


def test_create_a_token_shown_once_then_revoke_it(web_as, admin):
    client = web_as(admin)
    response = client.post("/settings/tokens/", {"name": "Zapier"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=admin, name="Zapier")
    html = response.content.decode()
    raw = html.split('id="token-raw" readonly value="')[1].split('"')[0]
    assert hash_token(raw) == token.key_hash
    listing = client.get("/settings/tokens/").content.decode()
    assert raw not in listing
    assert f"{token.prefix}…" in listing
    assert "Jamais" in listing  # never used
    outsider = Client()  # no session: the token alone
    api = outsider.get("/api/v2/deals", headers={"X-Api-Token": raw})
    assert api.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = outsider.get("/api/v2/deals", headers={"X-Api-Token": raw})
    assert api.status_code == 401


def test_revoking_another_users_token_is_404(web_as, admin, rep, token_for):
    token_for(rep)
    token = ApiToken.objects.get(user=rep)
    assert web_as(admin).post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_company_details_are_saved_normalised_with_history(web_as, admin, company):
    data = {
        "name": "Ruche SAS",
        "address": "1 rue de la Paix\n75002 Paris",
        "siren": "732 829 320",
        "vat_number": "FR 40 303 265 045",
        "currency": "eur",
        "fiscal_year_start_month": "4",
        "default_visibility": "3",
    }
    response = web_as(admin).post("/settings/company/", data)
    assert response.status_code == 302
    company = Company.current()
    assert (company.name, company.siren, company.vat_number, company.currency) == (
        "Ruche SAS",
        "732829320",
        "FR40303265045",
        "EUR",
    )
    assert (company.fiscal_year_start_month, company.default_visibility) == (4, 3)
    fields = set(
        ChangeRecord.objects.filter(entity="company", entity_id=company.pk).values_list(
            "field", flat=True
        )
    )
    assert fields == {
        "name",
        "address",
        "siren",
        "vat_number",
        "fiscal_year_start_month",
        "default_visibility",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"siren": "123456789"}, "siren"),
        ({"vat_number": "FR00000000000"}, "vat_number"),
        ({"currency": "EURO"}, "currency"),
        ({"fiscal_year_start_month": "13"}, "fiscal_year_start_month"),
        ({"default_visibility": "5"}, "default_visibility"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_company_details_name_the_field_and_change_nothing(
    web_as, admin, company, unchanged, change, field
):
    data = {
        "name": "Ruche SAS",
        "currency": "EUR",
        "fiscal_year_start_month": "1",
        "default_visibility": "7",
    } | change
    with unchanged(company):
        response = web_as(admin).post("/settings/company/", data)
    assert response.status_code == 422
    assert f"{field}:" in response.content.decode()


def test_lookup_lists_add_rename_reorder_deactivate(web_as, admin):
    client = web_as(admin)
    before = list(
        Lookup.objects.filter(kind="label").order_by("order_nr", "id").values_list("pk", flat=True)
    )
    assert client.post("/settings/lists/label/", {"name": "Urgent"}).status_code == 302
    urgent = Lookup.objects.get(kind="label", name="Urgent")
    top = Lookup.objects.filter(pk__in=before).order_by("-order_nr").first().order_nr
    assert urgent.order_nr == top + 1
    url = f"/settings/lists/label/{urgent.pk}/"
    assert client.post(url, {"name": "Très urgent"}).status_code == 302
    assert client.post(url, {"direction": "up"}).status_code == 302
    assert client.post(url, {"is_active": "0"}).status_code == 302
    urgent.refresh_from_db()
    assert (urgent.name, urgent.is_active) == ("Très urgent", False)
    ids = list(
        Lookup.objects.filter(kind="label").order_by("order_nr", "id").values_list("pk", flat=True)
    )
    assert ids == [*before[:-1], urgent.pk, before[-1]]
    history = {
        r.field: (r.old_value, r.new_value)
        for r in ChangeRecord.objects.filter(entity="lookup", entity_id=urgent.pk, event="updated")
    }
    assert history["name"] == ("Urgent", "Très urgent")
    assert history["is_active"] == (True, False)
    assert "Très urgent" in client.get("/settings/lists/label/").content.decode()


def test_bad_lookup_input_names_the_field(web_as, admin, source, unchanged):
    client = web_as(admin)
    with unchanged(source):
        empty = client.post("/settings/lists/source/", {"name": "  "})
        twin = client.post("/settings/lists/source/", {"name": source.name.upper()})
        rename = client.post(f"/settings/lists/source/{source.pk}/", {"name": ""})
    assert empty.status_code == twin.status_code == rename.status_code == 422
    assert "name:" in twin.content.decode()
    assert client.get("/settings/lists/industry/").status_code == 404
    assert client.post(f"/settings/lists/label/{source.pk}/", {"name": "X"}).status_code == 404


def test_custom_fields_add_edit_options_and_delete_with_history(web_as, admin):
    client = web_as(admin)
    data = {
        "name": "Taille",
        "field_type": "enum",
        "options": "Petite\nGrande\n",
        "is_required": "1",
    }
    assert client.post("/settings/fields/deal/", data).status_code == 302
    field = CustomField.objects.get(entity="deal", name="Taille")
    assert (field.field_type, field.is_required) == ("enum", True)
    assert field.options == [{"id": 1, "label": "Petite"}, {"id": 2, "label": "Grande"}]
    url = f"/settings/fields/deal/{field.key}/"
    edit = {"name": "Taille du site", "options": "Grande\nMoyenne"}
    assert client.post(url, edit).status_code == 302
    field.refresh_from_db()
    assert (field.name, field.is_required) == ("Taille du site", False)
    # A new option gets a fresh id, never one used before.
    assert field.options == [{"id": 2, "label": "Grande"}, {"id": 4, "label": "Moyenne"}]
    html = client.get("/settings/fields/deal/").content.decode()
    assert "Taille du site" in html and "Choix unique" in html
    assert client.post(url, {"delete": "1"}).status_code == 302
    assert not CustomField.objects.filter(pk=field.pk).exists()
    events = list(
        ChangeRecord.objects.filter(entity="custom_field", entity_id=field.pk)
        .order_by("id")
        .values_list("event", "field")
    )
    assert events == [
        ("created", ""),
        ("updated", "name"),
        ("updated", "options"),
        ("updated", "is_required"),
        ("deleted", "name"),
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "field_type": "text"}, "name"),
        ({"name": "X", "field_type": "blob"}, "field_type"),
        ({"name": "X", "field_type": "set", "options": " \n"}, "options"),
        ({"name": "X" * 300, "field_type": "text"}, "name"),
    ],
)
def test_bad_custom_field_names_the_field(web_as, admin, data, field):
    response = web_as(admin).post("/settings/fields/organization/", data)
    assert response.status_code == 422
    assert f"{field}:" in response.content.decode()
    assert CustomField.objects.count() == 0
    assert ChangeRecord.objects.filter(entity="custom_field").count() == 0


def test_unknown_custom_field_or_entity_is_404(web_as, admin):
    client = web_as(admin)
    assert client.get("/settings/fields/invoice/").status_code == 404
    assert client.post("/settings/fields/deal/abc/", {"name": "X"}).status_code == 404
