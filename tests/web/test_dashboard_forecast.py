"""The dashboard's sales grid, MRR tile and cached projection: the API's numbers for the same
filters, the projection computed by the background job (never per request), admins only."""

# ruff: noqa: F811 (the fixtures imported from other test modules are used as parameters)

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from ruche.forecasting.models import ProjectionRun
from ruche.forecasting.projection_runs import STALE_AFTER, compute_run, latest_run, request_run
from ruche.web import formatting
from tests.forecasting.conftest import at, make_deal, set_times, usd_rates  # noqa: F401
from tests.web.test_dashboard import PERIOD, QUERIES, book, fr, plain, tile  # noqa: F401

pytestmark = pytest.mark.django_db


def grid_cells(page: str) -> dict[int, list[tuple[str, str]]]:
    """{owner id: [(won cell, open cell) per period]}, spaces made plain."""
    section = page.split('id="grid-title"')[1].split("</section>")[0]
    rows = re.findall(r'<tr data-owner="(\d+)">(.*?)</tr>', section, re.S)
    return {
        int(owner): list(
            zip(
                [plain(html.unescape(t)) for t in re.findall(r"data-won>([^<]*)<", body)],
                [plain(html.unescape(t)) for t in re.findall(r"data-open>([^<]*)<", body)],
                strict=True,
            )
        )
        for owner, body in rows
    }


def grid_periods(page: str) -> list[str]:
    section = page.split('id="grid-title"')[1].split("</thead>")[0]
    return re.findall(r'<th scope="colgroup" colspan="2">([^<]*)</th>', section)


def api_grid(client, params: dict, interval: str) -> dict:
    """The same cells built from GET /metrics/won_revenue and /metrics/pipeline."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    cells = {}
    for indicator, count, amount in (
        ("won_revenue", "deals", "amount"),
        ("pipeline", "deals", "value"),
    ):
        body = client.get(f"/metrics/{indicator}?{query}&group_by=owner&interval={interval}").json()
        currency = body["additional_data"]["currency"]
        for row in body["data"]:
            text = fr(
                lambda r=row, key=amount, cur=currency: formatting.major_money(
                    Decimal(str(r[key])), cur
                )
            )
            cells[(row["group"], row["period_label"], indicator)] = f"{row[count]} · {plain(text)}"
    return cells


def test_the_sales_grid_per_salesperson_and_month_matches_the_api(
    book, web_as, api_as, admin, rep, other_rep
):
    page = web_as(admin).get("/dashboard/", PERIOD).content.decode()
    # Won: the rep 1 000 € in Feb and 2 500,50 $ x 0,8 in Mar; the other rep 7 000 € in Feb.
    # Open, by expected close: the rep 4 000 € in Mar; the other rep 600 € in Feb.
    assert grid_periods(page) == ["2026-02", "2026-03"]
    assert grid_cells(page) == {
        rep.pk: [("1 · 1 000,00 €", "0 · —"), ("1 · 2 000,40 €", "1 · 4 000,00 €")],
        other_rep.pk: [("1 · 7 000,00 €", "1 · 600,00 €"), ("0 · —", "0 · —")],
    }
    api = api_grid(api_as(admin), {"from": PERIOD["from"], "to": PERIOD["to"]}, "month")
    for owner, cells in grid_cells(page).items():
        for label, (won, open_) in zip(grid_periods(page), cells, strict=True):
            assert api.get((owner, label, "won_revenue"), "0 · —") == won
            assert api.get((owner, label, "pipeline"), "0 · —") == open_


def test_the_sales_grid_by_quarter_and_for_a_rep(book, web_as, rep, other_rep):
    page = web_as(rep).get("/dashboard/", PERIOD | {"grid": "quarter"}).content.decode()
    assert grid_periods(page) == ["FY2026-Q1"]
    # The rep does not see the other rep's private won deal, only their visible open one.
    assert grid_cells(page) == {
        rep.pk: [("2 · 3 000,40 €", "1 · 4 000,00 €")],
        other_rep.pk: [("0 · —", "1 · 600,00 €")],
    }


def test_a_bad_grid_interval_is_refused_naming_it(web_as, admin):
    response = web_as(admin).get("/dashboard/", {"grid": "week"})
    assert response.status_code == 400
    assert "Grille des ventes : par mois ou par trimestre." in response.content.decode()


def test_the_mrr_tile_matches_the_api(book, make_deal, web_as, api_as, admin, rep):
    deal = make_deal(rep, "1200", status="won", won="2026-01-20")
    set_times(
        deal,
        revenue_type="recurring",
        recurring_monthly_minor=10000,
        recurring_term_months=12,
        recurring_start_date=dt.date(2026, 2, 1),
    )
    page = web_as(admin).get("/dashboard/", PERIOD).content.decode()
    assert plain(tile(page, "mrr")) == "100,00 €"
    body = api_as(admin).get("/metrics/mrr?from=2026-01-01&to=2026-03-31").json()
    assert body["data"][-1]["mrr"] == 100
    assert [row["new"] for row in body["data"]] == [0, 100, 0]


def test_the_projection_is_requested_once_then_shown_from_the_cached_run(
    book, web_as, api_as, admin, django_capture_on_commit_callbacks
):
    client = web_as(admin)
    with django_capture_on_commit_callbacks() as callbacks:
        page = client.get("/dashboard/").content.decode()
    assert "Le calcul de la projection est en cours" in page
    assert ProjectionRun.objects.count() == 1 and len(callbacks) == 1
    with django_capture_on_commit_callbacks() as again:
        client.get("/dashboard/")
    assert ProjectionRun.objects.count() == 1 and again == []  # pending: not asked twice
    run = compute_run(ProjectionRun.objects.get().pk)
    assert compute_run(run.pk).computed_at == run.computed_at  # a second run changes nothing
    page = client.get("/dashboard/").content.decode()
    section = page.split('id="projection-title"')[1].split("</section>")[0]
    projected = [plain(html.unescape(t)) for t in re.findall(r"data-projected>([^<]*)<", section)]
    assert len(projected) == 12
    # The page shows the API's cached run, number for number.
    body = api_as(admin).get("/forecasts/projection/latest").json()["data"]
    currency = body["projection"]["currency"]

    def money(value):
        return plain(fr(lambda: formatting.major_money(Decimal(str(value)), currency)))

    assert projected == [money(row["projected"]) for row in body["projection"]["months"]]
    intervals = re.findall(r"data-interval>([^<]*)<", section)
    first = body["projection"]["months"][0]
    assert (
        plain(html.unescape(intervals[0])) == f"{money(first['low'])} \u2013 {money(first['high'])}"
    )
    mape = body["backtest"]["mape"]
    quarter = re.findall(r"data-mape-quarter>([^<]*)<", section)
    assert quarter[0] == (fr(lambda: formatting.percent(mape["quarterly"]["combined"])) or "—")


def test_reps_do_not_see_the_company_projection(book, web_as, api_as, rep, admin):
    page = web_as(rep).get("/dashboard/").content.decode()
    assert 'id="projection-title"' not in page
    assert ProjectionRun.objects.count() == 0  # nothing requested for them
    assert api_as(rep).get("/forecasts/projection/latest").status_code == 403
    assert api_as(admin).get("/forecasts/projection/latest").status_code == 404


def test_a_stale_run_is_requested_again_a_fresh_one_is_not(db):
    now = timezone.now()
    fresh = ProjectionRun.objects.create(requested_at=now, computed_at=now)
    assert request_run(fresh, now=now) is False
    later = now + STALE_AFTER + dt.timedelta(minutes=1)
    assert request_run(fresh, now=later) is True
    assert request_run(fresh, now=later) is False  # one request pending
    assert latest_run() == fresh
    assert ProjectionRun.objects.filter(computed_at__isnull=True).count() == 1


def test_admin_page_queries_are_bounded_with_a_cached_run(
    book,
    make_deal,
    web_as,
    admin,
    rep,
    stages,
    django_assert_max_num_queries,
):
    client = web_as(admin)
    client.get("/dashboard/")
    compute_run(ProjectionRun.objects.get().pk)
    # QUERIES, and the USD rates read once by the indicators that meet USD deals.
    with django_assert_max_num_queries(QUERIES + 1) as few:
        assert client.get("/dashboard/", PERIOD).status_code == 200
    for i in range(20):
        make_deal(rep, str(10 + i), status="won", won="2026-03-02")
        make_deal(rep, "5", stage=stages[i % 3], expected_close_date="2026-02-10")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/dashboard/", PERIOD).status_code == 200
