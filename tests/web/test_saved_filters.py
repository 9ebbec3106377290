"""Saved filters (private to their user) for the board and the lists, and the board's filters
by forecast category and by any custom field."""

import pytest

from ruche.core.custom_fields import custom_field_create
from ruche.core.models import Lookup
from ruche.web.models import SavedFilter
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def column_url(pipeline, stage, query):
    return f"/pipelines/{pipeline.pk}/board/stages/{stage.pk}/?status=open&{query}"


def test_a_saved_filter_is_kept_normalised_and_private(web_as, rep, other_rep, stages):
    client = web_as(rep)
    response = client.post(
        "/lists/deals/filters/",
        {
            "name": "Mes gagnées",
            "query": f"status=won&owner={rep.pk}&cursor=abc&sort=-title&label=x&junk=1",
            "next": "/deals/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/deals/"
    saved = SavedFilter.objects.get(user=rep)
    assert (saved.list_key, saved.name) == ("deals", "Mes gagnées")
    assert saved.query == f"owner={rep.pk}&status=won&sort=-title"
    page = client.get("/deals/").content.decode()
    assert f'<a href="?{saved.query.replace("&", "&amp;")}">Mes gagnées</a>' in page
    assert "Mes gagnées" not in web_as(other_rep).get("/deals/").content.decode()
    assert "Mes gagnées" not in client.get("/organizations/").content.decode()
    # The same name twice is refused; another user may use it.
    again = client.post("/lists/deals/filters/", {"name": "Mes gagnées", "query": "status=lost"})
    assert again.status_code == 302
    assert SavedFilter.objects.filter(user=rep).count() == 1
    web_as(other_rep).post("/lists/deals/filters/", {"name": "Mes gagnées", "query": ""})
    assert SavedFilter.objects.count() == 2
    assert client.post("/lists/deals/filters/", {"name": " ", "query": ""}).status_code == 302
    assert client.post("/lists/nope/filters/", {"name": "x"}).status_code == 404
    assert SavedFilter.objects.count() == 2


def test_only_its_owner_deletes_a_saved_filter(web_as, rep, other_rep):
    theirs = SavedFilter.objects.create(user=other_rep, list_key="deals", name="X", query="")
    mine = SavedFilter.objects.create(user=rep, list_key="persons", name="Y", query="q=a")
    client = web_as(rep)
    assert client.post(f"/saved-filters/{theirs.pk}/delete/").status_code == 404
    assert SavedFilter.objects.filter(pk=theirs.pk).exists()
    response = client.post(f"/saved-filters/{mine.pk}/delete/", {"next": "/persons/"})
    assert response["Location"] == "/persons/"
    assert not SavedFilter.objects.filter(pk=mine.pk).exists()


def test_board_saved_filters_keep_the_board_params(web_as, rep, pipeline, stages):
    client = web_as(rep)
    client.post(
        "/lists/board/filters/",
        {"name": "Moi", "query": f"owner={rep.pk}&stage={stages[1].pk}&status=open"},
    )
    saved = SavedFilter.objects.get(user=rep, list_key="board")
    assert saved.query == f"owner={rep.pk}&status=open"
    board = client.get(f"/pipelines/{pipeline.pk}/board/").content.decode()
    assert f'<a href="?owner={rep.pk}&amp;status=open">Moi</a>' in board


def test_the_board_filters_by_forecast_category_and_custom_fields(web_as, rep, pipeline, stages):
    category = Lookup.objects.filter(kind=Lookup.Kind.FORECAST_CATEGORY).first()
    sector = custom_field_create(
        user=None,
        entity="deal",
        data={
            "name": "Secteur",
            "field_type": "enum",
            "options": [{"label": "BTP"}, {"label": "Santé"}],
        },
    )
    tags = custom_field_create(
        user=None,
        entity="deal",
        data={
            "name": "Tags",
            "field_type": "set",
            "options": [{"label": f"T{n}"} for n in range(12)],
        },
    )
    note = custom_field_create(
        user=None, entity="deal", data={"name": "Note", "field_type": "text"}
    )
    signed = custom_field_create(
        user=None, entity="deal", data={"name": "Signé", "field_type": "date"}
    )
    budget = custom_field_create(
        user=None, entity="deal", data={"name": "Budget", "field_type": "monetary"}
    )
    score = custom_field_create(
        user=None, entity="deal", data={"name": "Score", "field_type": "double"}
    )
    a = DealFactory(
        owner=rep,
        stage=stages[0],
        forecast_category_id=category.pk,
        custom_fields={
            sector.key: 1,
            tags.key: [2, 11],
            note.key: "Client fidèle",
            signed.key: "2027-01-15",
            budget.key: {"value": "1500", "currency": "EUR"},
        },
    )
    b = DealFactory(
        owner=rep,
        stage=stages[0],
        custom_fields={sector.key: 2, tags.key: [1, 12], score.key: "12.5"},
    )
    c = DealFactory(owner=rep, stage=stages[0])
    client = web_as(rep)

    def cards(query):
        html = client.get(column_url(pipeline, stages[0], query)).content.decode()
        return {deal.pk for deal in (a, b, c) if f'id="card-{deal.pk}"' in html}

    assert cards(f"forecast={category.pk}") == {a.pk}
    assert cards(f"cf_{sector.key}=2") == {b.pk}
    assert cards(f"cf_{tags.key}=1") == {b.pk}
    assert cards(f"cf_{tags.key}=11") == {a.pk}
    assert cards(f"cf_{tags.key}=12") == {b.pk}
    assert cards(f"cf_{note.key}=fidèle") == {a.pk}
    assert cards(f"cf_{signed.key}=2027-01-15") == {a.pk}
    assert cards(f"cf_{budget.key}=1 500,00") == {a.pk}
    assert cards(f"cf_{score.key}=12,5") == {b.pk}
    # A value that cannot be read is ignored and said, never a server error.
    board = client.get(
        f"/pipelines/{pipeline.pk}/board/?cf_{signed.key}=demain&cf_{sector.key}=x&cf_zz=1"
    )
    assert board.status_code == 200
    assert board.content.decode().count("ce filtre est ignoré") == 3
    assert cards(f"cf_{signed.key}=demain") == {a.pk, b.pk, c.pk}
    page = client.get(f"/pipelines/{pipeline.pk}/board/?cf_{sector.key}=1").content.decode()
    assert '<option value="1" selected>BTP</option>' in page
