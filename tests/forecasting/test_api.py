"""/api/v2/metrics, /quotas and /forecasts: the same numbers as the selectors, and clear 4xx."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from ruche.core.models import ChangeRecord, Visibility
from ruche.forecasting.metrics import INDICATORS, MetricQuery, metric
from ruche.forecasting.models import ForecastSubmission, Quota
from ruche.forecasting.selectors import quota_attainment

Q1 = {"period": "quarter", "period_start": "2026-01-01"}


def as_json(value):
    """What the API's encoder makes of a selector's result (Decimals as JSON numbers)."""

    def default(o):
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        if isinstance(o, dt.date):
            return o.isoformat()
        raise TypeError(o)

    return json.loads(json.dumps(value, default=default))


@pytest.fixture
def data_set(make_deal, rep, other_rep, usd_rates, stages):
    make_deal(rep, "1000", status="won", won="2026-01-15", created="2026-01-02")
    make_deal(
        rep, "500.55", currency_code="USD", status="won", won="2026-02-10", created="2026-01-20"
    )
    make_deal(other_rep, "250", status="won", won="2026-03-05", visible_to=Visibility.OWNER)
    make_deal(rep, "300", status="lost", lost="2026-02-01")
    make_deal(rep, "800", stage=stages[3], expected_close_date="2026-03-01")


@pytest.mark.parametrize("indicator", sorted(INDICATORS))
@pytest.mark.parametrize("viewer", ["admin", "rep"])
def test_the_api_and_the_selector_give_the_same_numbers(
    request, data_set, api_as, indicator, viewer
):
    user = request.getfixturevalue(viewer)
    group = None if indicator in ("forecast_categories", "mrr") else "owner"
    query = MetricQuery(
        date_from=dt.date(2026, 1, 1),
        date_to=dt.date(2026, 12, 31),
        interval="month",
        group_by=group,
    )
    expected = metric(user, indicator, query)
    url = f"/metrics/{indicator}?from=2026-01-01&to=2026-12-31&interval=month"
    response = api_as(user).get(url + (f"&group_by={group}" if group else ""))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["data"] == as_json(expected.rows)
    assert body["additional_data"]["currency"] == expected.currency
    assert expected.rows  # every indicator has something to show here


def test_api_amounts_are_exact_and_visibility_applies(data_set, api_as, admin, rep):
    url = "/metrics/won_revenue?from=2026-01-01&to=2026-03-31"
    # 500.55 USD x 0.9 = 450.495 -> 450.50
    assert api_as(admin).get(url).json()["data"][0]["amount"] == 1700.5
    assert api_as(rep).get(url).json()["data"][0]["amount"] == 1450.5


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/metrics/profit", 404, None),
        ("/metrics/won_revenue?interval=week", 422, "interval"),
        ("/metrics/won_revenue?group_by=colour", 422, "group_by"),
        ("/metrics/won_revenue?colour=red", 422, "colour"),
        ("/metrics/won_revenue?from=2026-13-01", 422, "from"),
        ("/metrics/won_revenue?from=2026-02-01&to=2026-01-01", 422, "from"),
        ("/metrics/won_revenue?currency=EURO", 422, "currency"),
        ("/metrics/won_revenue?owner_id=0", 422, "owner_id"),
        ("/metrics/sales_cycle?group_by=product", 422, "group_by"),
        ("/quotas/attainment?period=week&period_start=2026-01-01", 422, "period"),
        ("/quotas/attainment?period=quarter&period_start=2026-02-01", 422, "period_start"),
        ("/forecasts?period=quarter", 422, "period_start"),
    ],
)
def test_bad_requests_get_a_clear_4xx(api_as, admin, url, status, field):
    before = ChangeRecord.objects.count()
    response = api_as(admin).get(url)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    if field:
        assert field in body["errors"]
    else:
        assert "Known: won_revenue" in body["error"]
    assert ChangeRecord.objects.count() == before


def test_a_missing_rate_is_a_422_naming_it(api_as, admin, make_deal, rep):
    make_deal(rep, "10", currency_code="CHF", status="won", won="2026-02-02")
    response = api_as(admin).get("/metrics/won_revenue?from=2026-01-01")
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "currency": "No exchange rate CHF→EUR on or before 2026-02-02."
    }


def test_quota_routes(api_as, manager, rep, other_rep, admin, make_deal):
    make_deal(rep, "1200", status="won", won="2026-02-01")
    created = api_as(manager).post("/quotas", {"user_id": rep.pk, "amount": 5000.25, **Q1})
    assert created.status_code == 200, created.content
    quota = created.json()["data"]
    assert (quota["amount"], quota["currency"], quota["period_start"]) == (
        5000.25,
        "EUR",
        "2026-01-01",
    )
    before = list(Quota.objects.values()), ChangeRecord.objects.count()
    refused = api_as(rep).post("/quotas", {"user_id": rep.pk, "amount": 1, **Q1})
    assert refused.status_code == 403
    other = api_as(manager).post("/quotas", {"user_id": other_rep.pk, "amount": 1, **Q1})
    assert other.status_code == 403
    bad = api_as(manager).post("/quotas", {"user_id": rep.pk, "amount": -1, **Q1})
    assert bad.status_code == 422 and "amount" in bad.json()["errors"]
    assert api_as(rep).delete(f"/quotas/{quota['id']}").status_code == 403
    assert api_as(other_rep).delete(f"/quotas/{quota['id']}").status_code == 404
    assert (list(Quota.objects.values()), ChangeRecord.objects.count()) == before

    listed = api_as(rep).get("/quotas?period=quarter").json()["data"]
    assert [q["id"] for q in listed] == [quota["id"]]
    assert api_as(other_rep).get("/quotas").json()["data"] == []

    attainment = (
        api_as(manager)
        .get("/quotas/attainment?period=quarter&period_start=2026-01-01")
        .json()["data"]
    )
    assert attainment == as_json(quota_attainment(manager, **Q1))
    rep_row = next(r for r in attainment["reps"] if r["user_id"] == rep.pk)
    assert (rep_row["quota"], rep_row["won"], rep_row["gap"]) == (5000.25, 1200, 3800.25)

    assert api_as(manager).delete(f"/quotas/{quota['id']}").json() == {
        "success": True,
        "data": {"id": quota["id"]},
    }
    assert not Quota.objects.exists()


def test_forecast_routes(api_as, rep, manager, admin):
    for commit in (1000, 1100.5):
        response = api_as(rep).post("/forecasts", {"commit": commit, **Q1})
        assert response.status_code == 200, response.content
    assert response.json()["data"]["revision"] == 2
    adjusted = api_as(manager).post(
        "/forecasts/adjustments", {"user_id": rep.pk, "amount": 950, "note": "Prudent", **Q1}
    )
    assert adjusted.status_code == 200
    refused = api_as(rep).post("/forecasts/adjustments", {"user_id": rep.pk, "amount": 5, **Q1})
    assert refused.status_code == 403

    query = "period=quarter&period_start=2026-01-01"
    as_manager = api_as(manager).get(f"/forecasts?{query}").json()["data"]
    row = next(u for u in as_manager["users"] if u["user_id"] == rep.pk)
    assert (row["commit"], row["revisions"], row["final"]) == (1100.5, 2, 950)
    as_rep = api_as(rep).get(f"/forecasts?{query}").json()["data"]
    assert as_rep["users"][0]["commit"] == 1100.5
    assert "adjustment" not in as_rep["users"][0]
    assert "adjusted" not in as_rep["totals"]
    revisions = api_as(rep).get(f"/forecasts/revisions?user_id={rep.pk}&{query}").json()["data"]
    assert [r["commit"] for r in revisions["revisions"]] == [1000, 1100.5]
    assert revisions["adjustments"] is None
    managed = api_as(manager).get(f"/forecasts/revisions?user_id={rep.pk}&{query}").json()
    assert [a["amount"] for a in managed["data"]["adjustments"]] == [950]
    hidden = api_as(rep).get(f"/forecasts/revisions?user_id={manager.pk}&{query}")
    assert hidden.status_code == 404
    assert ForecastSubmission.objects.count() == 2


@pytest.mark.parametrize("indicator", sorted(INDICATORS))
def test_each_indicator_runs_a_bounded_number_of_queries(
    indicator, make_deal, rep, admin, usd_rates, stages
):
    """The query count does not grow with the number of deals."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    query = MetricQuery(
        date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 12, 31), interval="month"
    )

    def count():
        with CaptureQueriesContext(connection) as captured:
            metric(admin, indicator, query)
        return len(captured)

    def add(n):
        for index in range(n):
            make_deal(
                rep,
                "10",
                status="won",
                won=f"2026-0{index % 3 + 1}-1{index}",
                currency_code="USD" if index % 2 else "EUR",
            )
            make_deal(rep, "10", stage=stages[index % 3], expected_close_date="2026-02-02")

    add(2)
    few = count()
    add(6)
    assert count() == few


def test_quotas_are_listed_page_by_page(api_as, manager, rep):
    ids = [
        api_as(manager)
        .post(
            "/quotas",
            {
                "user_id": rep.pk,
                "amount": 100,
                "period": "month",
                "period_start": f"2026-0{month}-01",
            },
        )
        .json()["data"]["id"]
        for month in (1, 2, 3)
    ]
    first = api_as(manager).get("/quotas?limit=2").json()
    second = (
        api_as(manager)
        .get(f"/quotas?limit=2&cursor={first['additional_data']['next_cursor']}")
        .json()
    )
    assert [q["id"] for q in first["data"] + second["data"]] == ids
    assert second["additional_data"]["next_cursor"] is None
