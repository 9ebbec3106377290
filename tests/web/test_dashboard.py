"""The dashboard shows the API's numbers (GET /api/v2/metrics/{indicator}) for the same
filters, only what the user may see, in a bounded number of queries."""

import html
import json
import re
from decimal import Decimal

import pytest
from django.utils import translation

from ruche.core.models import Visibility
from ruche.web import formatting
from tests.factories import DealFactory
from tests.forecasting.conftest import at, make_deal, set_times, usd_rates  # noqa: F401

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}
# The whole page: session and user, lists for the filters, the company (read once), one GROUP
# BY per indicator (tiles with MRR, funnel and its stages, chart, leaderboard, sales grid), MRR's
# tally, the owners of the leaderboard and of the grid, and for an admin the cached projection
# run.
QUERIES = 23


def tile(page: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}"><h2>[^<]*</h2><p class="kpi-value">([^<]*)</p>', page)
    assert match, key
    return html.unescape(match.group(1))


def fr(text_of):
    with translation.override("fr"):
        return text_of()


def api_row(client, indicator: str, params: dict) -> tuple[dict, str | None]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    body = client.get(f"/metrics/{indicator}?{query}").json()
    assert body["success"] is True, body
    return (body["data"][0] if body["data"] else {}), body["additional_data"]["currency"]


def expected_tiles(client, params: dict) -> dict:
    """The tiles as the dashboard must show them, computed from the API's JSON."""
    won, cur = api_row(client, "won_revenue", params)
    expected, expected_cur = api_row(client, "expected_revenue", params)
    conversion, _ = api_row(client, "conversion_rate", params)
    average, _ = api_row(client, "average_deal_value", params)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    recurring = client.get(f"/metrics/mrr?{query}").json()
    mrr = recurring["data"][-1] if recurring["data"] else {}
    mrr_currency = recurring["additional_data"]["currency"]

    def money(row, key, currency):
        return formatting.major_money(Decimal(str(row.get(key, 0))), currency)

    return fr(
        lambda: {
            "deals_won": formatting.number(won.get("deals", 0)),
            "won_revenue": money(won, "amount", cur),
            "expected_revenue": money(expected, "amount", expected_cur),
            "conversion_rate": formatting.percent(conversion.get("rate")) or "—",
            "average_deal_value": money(average, "average", cur) if average else "—",
            "mrr": money(mrr, "mrr", mrr_currency),
        }
    )


def page_tiles(page: str) -> dict:
    keys = ["deals_won", "won_revenue", "expected_revenue", "conversion_rate"]
    return {key: tile(page, key) for key in [*keys, "average_deal_value", "mrr"]}


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def book(make_deal, usd_rates, rep, other_rep, stages):  # noqa: F811
    """Rep: two won (one in USD), one lost, one open; the other rep: a private won deal and an
    open deal visible to everyone."""
    make_deal(rep, "1000", status="won", won="2026-02-10")
    make_deal(rep, "2500.50", currency_code="USD", status="won", won="2026-03-05")
    make_deal(rep, "300", status="lost", lost="2026-02-20")
    make_deal(rep, "4000", stage=stages[1], expected_close_date="2026-03-15")
    make_deal(other_rep, "7000", status="won", won="2026-02-01", visible_to=Visibility.OWNER)
    make_deal(other_rep, "600", stage=stages[1], expected_close_date="2026-02-01")


def test_tiles_match_the_api_for_the_same_filters(book, web_as, api_as, admin, rep, stages):
    web, api = web_as(admin), api_as(admin)
    page = web.get("/dashboard/", PERIOD).content.decode()
    assert page_tiles(page) == expected_tiles(api, PERIOD)
    tiles = {key: plain(value) for key, value in page_tiles(page).items()}
    # 1 000 € + 2 500,50 $ at 0,8 (rate from 2026-03-01) + 7 000 €
    assert tiles["deals_won"] == "3"
    assert tiles["won_revenue"] == "10 000,40 €"
    assert tiles["average_deal_value"] == "3 333,47 €"
    assert tiles["conversion_rate"] == "75,00 %"
    for params in (
        PERIOD | {"owner": rep.pk},
        PERIOD | {"pipeline": stages[0].pipeline_id},
        {"from": "2026-02-15", "to": "2026-02-28"},
    ):
        api_params = {
            {"owner": "owner_id", "pipeline": "pipeline_id"}.get(k, k): v for k, v in params.items()
        }
        page = web.get("/dashboard/", params).content.decode()
        assert page_tiles(page) == expected_tiles(api, api_params), params


def test_a_rep_sees_only_what_they_may_see(book, web_as, api_as, rep, other_rep):
    page = web_as(rep).get("/dashboard/", PERIOD).content.decode()
    assert page_tiles(page) == expected_tiles(api_as(rep), PERIOD)
    assert plain(tile(page, "won_revenue")) == "3 000,40 €"
    assert tile(page, "deals_won") == "2"
    assert "Sarah Sud" not in page.split('id="leaderboard-title"')[1].split("</table>")[0]
    # Asking for the other rep's numbers shows only their visible deals: none won.
    page = web_as(rep).get("/dashboard/", PERIOD | {"owner": other_rep.pk}).content.decode()
    assert tile(page, "deals_won") == "0"
    assert plain(tile(page, "won_revenue")) == "0,00 €"


def funnel_rows(page: str) -> dict[int, tuple[str, str, str]]:
    found = re.findall(
        r'<tr data-stage="(\d+)">\s*<th scope="row"><a href="([^"]+)">[^<]*</a>.*?'
        r"<td class=\"num\" data-count>(\d+)</td>\s*<td class=\"num\" data-value>([^<]*)</td>",
        page,
        re.S,
    )
    return {int(s): (html.unescape(href), n, plain(v)) for s, href, n, v in found}


def test_the_funnel_counts_per_stage_and_links_to_the_filtered_list(
    book, web_as, api_as, manager, rep, stages
):
    page = web_as(manager).get("/dashboard/").content.decode()
    funnel = funnel_rows(page)
    assert list(funnel) == [stage.pk for stage in stages]
    href, count, value = funnel[stages[1].pk]
    pipeline_id = stages[1].pipeline_id
    assert href == f"/deals/?status=open&pipeline={pipeline_id}&stage={stages[1].pk}"
    assert (count, value) == ("2", "4 600,00 €")
    assert funnel[stages[0].pk][1:] == ("0", "0,00 €")
    api = (
        api_as(manager)
        .get(f"/metrics/pipeline?group_by=stage&pipeline_id={pipeline_id}")
        .json()["data"]
    )
    assert [(row["group"], row["deals"]) for row in api] == [(stages[1].pk, 2)]
    listed = web_as(manager).get(href).content.decode()
    assert listed.count('<td><a href="/deals/') == 2
    # With an owner filter, the link keeps it.
    page = web_as(manager).get("/dashboard/", {"owner": rep.pk}).content.decode()
    href, count, _value = funnel_rows(page)[stages[1].pk]
    assert href == f"/deals/?owner={rep.pk}&status=open&pipeline={pipeline_id}&stage={stages[1].pk}"
    assert count == "1"
    listed = web_as(manager).get(href).content.decode()
    assert listed.count('<td><a href="/deals/') == 1


def test_queries_do_not_grow_with_the_deals(
    web_as, admin, rep, other_rep, stages, django_assert_max_num_queries
):
    client = web_as(admin)
    client.get("/dashboard/")

    def add(n):
        for i in range(n):
            owner = rep if i % 2 else other_rep
            DealFactory(owner=owner, value=str(100 + i), stage=stages[i % len(stages)])
            if i % 3 == 0:
                DealFactory(owner=owner, value="50", status="won")

    add(3)
    with django_assert_max_num_queries(QUERIES) as few:
        assert client.get("/dashboard/").status_code == 200
    add(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/dashboard/").status_code == 200


def test_chart_and_leaderboard(book, web_as, admin):
    page = web_as(admin).get("/dashboard/", PERIOD).content.decode()
    assert 'src="/static/vendor/chart.umd.min.js"' in page
    raw = re.search(r'id="won-chart-data" type="application/json">(.*?)</script>', page).group(1)
    data = json.loads(raw)
    assert len(data["labels"]) == len(data["amounts"]) == len(data["texts"]) == 24
    by_month = dict(zip(data["labels"], data["amounts"], strict=True))
    assert by_month["févr. 2026"] == 8000.0
    assert by_month["mars 2026"] == 2000.4
    assert sum(data["amounts"]) == pytest.approx(10000.4)
    board = page.split('id="leaderboard-title"')[1].split("</table>")[0]
    assert board.index("Sarah Sud") < board.index("Rémi Nord")
    assert "7 000,00" in plain(board)


def test_bad_dates_are_refused_naming_the_field(web_as, admin):
    client = web_as(admin)
    response = client.get("/dashboard/", {"from": "2026-13-01"})
    assert response.status_code == 400
    assert "Du : saisissez une date valide (AAAA-MM-JJ)." in response.content.decode()
    response = client.get("/dashboard/", {"from": "2026-03-01", "to": "2026-02-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Au : la fin de la période précède son début." in page
    assert 'data-kpi="' not in page


def test_the_top_bar_links_to_the_dashboard(web_as, rep):
    page = web_as(rep).get("/deals/").content.decode()
    assert '<a href="/dashboard/">Tableau de bord</a>' in page
