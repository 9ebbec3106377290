"""Funnel math: stage conversion from the history, time to close, and what a target takes."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.core.exceptions import ValidationError
from ruche.forecasting.funnel import funnel
from ruche.forecasting.metrics import MetricQuery
from ruche.pipelines.services import deal_move_to_stage, deal_update
from tests.factories import FACTORY_ACTOR
from tests.forecasting.conftest import at, set_entries, set_times

WINDOW = MetricQuery(date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 3, 31))


@pytest.fixture
def history(make_deal, rep, stages, loss_reason):
    """d1, d2: Lead -> Prospect -> won (1000 and 3000); d3: Lead -> Prospect -> lost;
    d4: Lead -> lost. Open now: two deals in Lead, one in Prospect (added after the window)."""

    def path(value, moves, status, end):
        deal = make_deal(rep, value)
        days = [day for _, day in moves]
        for stage, _ in moves[1:]:
            deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=stage.pk)
        times = [at(day) for day in days]
        set_entries(deal, *zip(times, [*times[1:], None], strict=True))
        data = {"status": status}
        if status == "lost":
            data["lost_reason_id"] = loss_reason.pk
        deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data=data)
        moment = at(end)
        times = {"close_time": moment, f"{status}_time": moment, "add_time": at(days[0])}
        return set_times(deal, **times)

    lead, prospect = stages[0], stages[1]
    path("1000", [(lead, "2026-01-01"), (prospect, "2026-01-03")], "won", "2026-01-11")
    path("3000", [(lead, "2026-01-01"), (prospect, "2026-01-05")], "won", "2026-01-21")
    path("500", [(lead, "2026-01-01"), (prospect, "2026-01-07")], "lost", "2026-01-10")
    path("500", [(lead, "2026-01-01")], "lost", "2026-01-09")
    make_deal(rep, "10", created="2026-04-10")
    make_deal(rep, "10", created="2026-04-10")
    make_deal(rep, "10", created="2026-04-10", stage=prospect)
    return lead, prospect


def test_stage_conversion_time_to_close_and_stall(history, admin):
    _lead, prospect = history
    result = funnel(admin, WINDOW)
    assert (result["won_in_window"], result["average_deal_value"], result["open_deals"]) == (
        2,
        Decimal("2000.00"),
        3,
    )
    # Open now: 2 in Lead x 2/4 + 1 in Prospect x 2/3 = 1.666...
    assert result["expected_wins_from_open"] == Decimal("1.67")
    lead_row, prospect_row = result["stages"][:2]
    assert {
        k: lead_row[k]
        for k in (
            "entered",
            "reached_next",
            "won",
            "next_rate",
            "won_rate",
            "average_days_in_stage",
            "days_to_close",
            "open_now",
        )
    } == {
        "entered": 4,
        "reached_next": 3,
        "won": 2,
        "next_rate": Decimal("75.00"),
        "won_rate": Decimal("50.00"),
        "average_days_in_stage": Decimal("5.00"),
        "days_to_close": Decimal("15.0"),
        "open_now": 2,
    }
    assert {
        k: prospect_row[k]
        for k in ("entered", "won", "won_rate", "average_days_in_stage", "days_to_close")
    } == {
        "entered": 3,
        "won": 2,
        "won_rate": Decimal("66.67"),
        "average_days_in_stage": Decimal("9.00"),
        "days_to_close": Decimal("12.0"),
    }
    assert all(row["entered"] == 0 for row in result["stages"][2:])
    assert result["stall"] == {
        "longest_stay_stage_id": prospect.pk,
        "longest_stay_days": Decimal("9.00"),
        "largest_drop_off_stage_id": prospect.pk,
        "largest_drop_off_percent": Decimal("33.33"),
    }
    assert "target" not in result


def test_what_a_target_takes(history, admin):
    result = funnel(
        admin, WINDOW, target_deals=3, deadline=dt.date(2026, 6, 30), today=dt.date(2026, 5, 1)
    )
    lead_row, prospect_row = result["stages"][:2]
    # Lead converts 2 of 4 to won: 3 wins need 6 deals there (2 open: 4 short);
    # Prospect converts 2 of 3: 3 wins need 5 deals there (1 open: 4 short).
    assert (lead_row["needed_now"], lead_row["shortfall"]) == (6, 4)
    assert (prospect_row["needed_now"], prospect_row["shortfall"]) == (5, 4)
    assert result["stages"][2]["needed_now"] is None  # no history at Meeting
    # 3 - 1.666 = 1.333 more wins, at 2 wins per 4 leads: 2.67 -> 3 leads, which take 15 days
    # to close from Lead: add them by 15 June.
    assert result["target"] == {
        "deals_to_win": 3,
        "opportunities_needed": 6,
        "new_leads_needed": 3,
        "add_leads_by": dt.date(2026, 6, 15),
        "late": False,
        "shortfall_alert": "3 opportunities in the pipeline, 6 needed: lead generation is the "
        "bottleneck",
    }
    # The same target as an amount: 5000.00 at 2000.00 a deal is 3 deals.
    by_amount = funnel(
        admin,
        WINDOW,
        target_amount="5000",
        deadline=dt.date(2026, 6, 30),
        today=dt.date(2026, 6, 20),
    )
    assert by_amount["target"]["deals_to_win"] == 3
    assert by_amount["target"]["late"] is True


def test_a_reachable_target_raises_no_alert(history, admin):
    result = funnel(admin, WINDOW, target_deals=1)
    assert result["target"]["new_leads_needed"] == 0
    assert result["target"]["shortfall_alert"] is None


def test_funnel_api_matches_and_refuses(history, admin, api_as):
    response = api_as(admin).get(
        "/funnel?from=2026-01-01&to=2026-03-31&target_deals=3&deadline=2026-06-30"
    )
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["target"]["new_leads_needed"] == 3
    assert data["stages"][0]["won_rate"] == 50
    assert api_as(admin).get("/funnel?target_deals=0").status_code == 422
    both = api_as(admin).get("/funnel?target_deals=1&target_amount=5")
    assert both.status_code == 422 and "target_deals" in both.json()["errors"]
    assert api_as(admin).get("/funnel?pipeline_id=999").status_code == 422
    with pytest.raises(ValidationError):
        funnel(admin, MetricQuery(interval="month"))
