"""The forecast board: columns by month with won, open and total (weighted or not), and moving
a deal to another month through the deal service."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Deal
from tests.factories import DealFactory

URL = "/forecast-board/"
START = {"start": "2026-11"}


def won_in(deal, day: dt.date) -> Deal:
    when = timezone.make_aware(dt.datetime.combine(day, dt.time(15)))
    Deal.objects.filter(pk=deal.pk).update(won_time=when, close_time=when)
    return deal


def column(response, key) -> dict:
    return next(c for c in response.context["columns"] if c["key"] == key)


def figures(response, key) -> tuple:
    totals = column(response, key)["totals"]
    return (
        totals["won_count"],
        totals["won"],
        totals["open_count"],
        totals["open"],
        totals["total"],
    )


def plain(texts):
    return [text.replace("\u202f", " ").replace("\xa0", " ") for text in texts]


@pytest.fixture
def month_deals(rep, stages, other_rep):
    """November: an open 1 000 € deal at 10 %, an open 500 € deal at 60 %, a deal won on
    2026-11-03 for 2 000 €; December: an open 300 € deal at 20 % whose probability is set
    to 50 %; outside the window, and a lost one, nothing."""
    deals = {
        "lead": DealFactory(
            owner=rep, stage=stages[0], value="1000", expected_close_date="2026-11-10"
        ),
        "quote": DealFactory(
            owner=rep, stage=stages[3], value="500", expected_close_date="2026-11-30"
        ),
        "won": DealFactory(
            owner=other_rep, stage=stages[4], value="2000", expected_close_date="2026-10-01"
        ),
        "december": DealFactory(
            owner=rep,
            stage=stages[1],
            value="300",
            expected_close_date="2026-12-31",
            probability=50,
        ),
        "later": DealFactory(owner=rep, value="99", expected_close_date="2027-06-01"),
        "lost": DealFactory(owner=rep, value="77", expected_close_date="2026-11-15"),
    }
    Deal.objects.filter(pk=deals["won"].pk).update(status="won")
    won_in(deals["won"], dt.date(2026, 11, 3))
    Deal.objects.filter(pk=deals["lost"].pk).update(status="lost")
    return deals


def test_columns_show_won_open_and_total(web_as, rep, month_deals):
    response = web_as(rep).get(URL, START)
    assert response.status_code == 200
    assert [c["key"] for c in response.context["columns"]] == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
        "2027-03",
        "2027-04",
    ]
    count_won, won, count_open, open_, total = figures(response, "2026-11")
    assert (count_won, plain(won), count_open, plain(open_), plain(total)) == (
        1,
        ["2 000,00 €"],
        2,
        ["1 500,00 €"],
        ["3 500,00 €"],
    )
    assert [d.title for d in column(response, "2026-11")["cards"]] == [
        month_deals["lead"].title,
        month_deals["quote"].title,
        month_deals["won"].title,
    ]
    assert plain(figures(response, "2026-12")[3]) == ["300,00 €"]
    assert figures(response, "2027-01") == (0, [], 0, [], [])


def test_weighted_amounts(web_as, rep, month_deals):
    response = web_as(rep).get(URL, START | {"weighted": "1"})
    # 1 000 at 10 % plus 500 at 60 % is 400; won counts in full.
    _count_won, won, _count_open, open_, total = figures(response, "2026-11")
    assert (plain(won), plain(open_), plain(total)) == (
        ["2 000,00 €"],
        ["400,00 €"],
        ["2 400,00 €"],
    )
    # The deal's own probability (50 %) wins over its stage's (20 %).
    assert plain(figures(response, "2026-12")[3]) == ["150,00 €"]
    assert 'aria-pressed="true"' in response.content.decode()


def test_owner_filter_and_visibility(web_as, rep, other_rep, month_deals, stages):
    DealFactory(
        owner=other_rep,
        visible_to=Visibility.OWNER,
        value="123",
        expected_close_date="2026-11-05",
        title="Secrète",
    )
    response = web_as(rep).get(URL, START)
    assert figures(response, "2026-11")[2] == 2
    assert "Secrète" not in response.content.decode()
    mine = web_as(rep).get(URL, START | {"owner": str(rep.pk)})
    assert figures(mine, "2026-11")[:3] == (0, [], 2)


def test_move_to_next_month_keeps_the_day_and_records_history(web_as, rep, month_deals):
    deal = month_deals["quote"]  # 2026-11-30; December has 31 days, February 28
    client = web_as(rep)
    response = client.post(
        f"/forecast-board/deals/{deal.pk}/month/?start=2026-11&weighted=1", {"month": "2026-12"}
    )
    assert (response.status_code, response["Location"]) == (
        302,
        "/forecast-board/?start=2026-11&weighted=1",
    )
    deal.refresh_from_db()
    assert deal.expected_close_date == dt.date(2026, 12, 30)
    record = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, field="expected_close_date")
    assert (record.old_value, record.new_value, record.actor_user_id) == (
        "2026-11-30",
        "2026-12-30",
        rep.pk,
    )
    client.post(f"/forecast-board/deals/{deal.pk}/month/", {"month": "2027-02"})
    deal.refresh_from_db()
    assert deal.expected_close_date == dt.date(2027, 2, 28)


def test_a_drag_gets_204(web_as, rep, month_deals):
    deal = month_deals["lead"]
    response = web_as(rep).post(
        f"/forecast-board/deals/{deal.pk}/month/",
        {"month": "2027-01"},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert response.status_code == 204
    deal.refresh_from_db()
    assert deal.expected_close_date == dt.date(2027, 1, 10)


@pytest.mark.parametrize("month", ["", "2026-13", "novembre", "2026-11-01"])
def test_a_bad_month_names_the_field_and_changes_nothing(
    web_as, rep, month_deals, unchanged, month
):
    deal = month_deals["lead"]
    client = web_as(rep)
    with unchanged(deal):
        page = client.post(
            f"/forecast-board/deals/{deal.pk}/month/?start=2026-11", {"month": month}
        )
        fetched = client.post(
            f"/forecast-board/deals/{deal.pk}/month/",
            {"month": month},
            HTTP_X_REQUESTED_WITH="fetch",
        )
    assert page.status_code == 422
    assert page.context["error"] == "Un mois au format AAAA-MM est attendu."
    assert (fetched.status_code, fetched.content.decode()) == (
        422,
        "Un mois au format AAAA-MM est attendu.",
    )


def test_a_won_deal_does_not_move(web_as, rep, month_deals, unchanged):
    deal = month_deals["won"]
    with unchanged(deal):
        response = web_as(rep).post(
            f"/forecast-board/deals/{deal.pk}/month/",
            {"month": "2026-12"},
            HTTP_X_REQUESTED_WITH="fetch",
        )
    assert (response.status_code, response.content.decode()) == (
        422,
        "Seule une affaire ouverte change de mois.",
    )


def test_an_invisible_deal_is_404_and_unchanged(web_as, rep, other_rep, unchanged):
    private = DealFactory(
        owner=other_rep, visible_to=Visibility.OWNER, expected_close_date="2026-11-05"
    )
    with unchanged(private):
        response = web_as(rep).post(
            f"/forecast-board/deals/{private.pk}/month/", {"month": "2026-12"}
        )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"start": "hier"},
        {"start": "0001-01"},
        {"start": "9999-12"},
        {"pipeline": "abc"},
        {"owner": "-1"},
        {"weighted": "oui"},
    ],
)
def test_bad_filters_fall_back(web_as, rep, pipeline, params):
    response = web_as(rep).get(URL, params)
    assert response.status_code == 200
    filters = response.context["filters"]
    assert filters.pipeline == pipeline
    if "start" in params:
        assert filters.start == timezone.localdate().replace(day=1)


def test_query_count_does_not_grow_with_deals(web_as, rep, stages, django_assert_max_num_queries):
    client = web_as(rep)
    DealFactory(owner=rep, value="10", expected_close_date="2026-11-02")
    with django_assert_max_num_queries(16) as few:
        client.get(URL, START)
    for n in range(24):
        DealFactory(
            owner=rep,
            stage=stages[n % 5],
            value="10",
            expected_close_date=f"2026-{11 + n % 2}-{1 + n:02d}",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, START)
    assert figures(response, "2026-11")[2] + figures(response, "2026-12")[2] == 25
