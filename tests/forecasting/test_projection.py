"""Learned probabilities, the projection and the backtest on a small hand-built history.

Cutoff: 2025-07-01 00:00 (Paris). Maturity 120 days: past deals count when added, and in a
stage, before 2025-03-03.

    deal  value  added       stages (entered)                status events
    A     1000   2025-01-01  s0 01-01 -> s1 01-10            won 02-01
    B     2000   2025-01-01  s0 01-01                        lost 01-20
    C      400   2025-01-05  s0 01-05                        (open), no close date
    D      800   2025-01-01  s0 01-01 -> s2 07-15 (after)    won 08-01 (after the cutoff)
    E      200   2025-05-01  s1 05-01                        (open), close 2025-08-10
    F      600   2025-03-10  s0 03-10                        won 03-20
"""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.core.models import ChangeRecord
from ruche.forecasting.backtest import backtest
from ruche.forecasting.projection import (
    learned_probabilities,
    local_midnight,
    open_deals_at,
    projection,
)
from ruche.pipelines.models import Deal, StageEntry
from tests.factories import DealFactory
from tests.forecasting.conftest import at

pytestmark = pytest.mark.django_db

CUTOFF = local_midnight(dt.date(2025, 7, 1))


def _deal(owner, stages, value, added, path, *, status=None, closed=None, close_date=None):
    deal = DealFactory(owner=owner, stage=stages[path[-1][0]], value=value)
    StageEntry.objects.filter(deal=deal).delete()
    previous = None
    for i, (stage_index, day) in enumerate(path):
        left = at(path[i + 1][1]) if i + 1 < len(path) else None
        StageEntry.objects.create(
            deal=deal,
            pipeline=stages[0].pipeline,
            stage=stages[stage_index],
            from_stage=previous,
            entered_at=at(day),
            left_at=left,
        )
        previous = stages[stage_index]
    times = {"add_time": at(added), "expected_close_date": close_date}
    if status:
        moment = at(closed)
        times |= {"status": status, "close_time": moment, f"{status}_time": moment}
        ChangeRecord.objects.create(
            entity="deal",
            entity_id=deal.pk,
            event=status,
            field="status",
            old_value="open",
            new_value=status,
            actor_kind="job",
            time=moment,
        )
    Deal.objects.filter(pk=deal.pk).update(**times)
    return deal


@pytest.fixture
def history(rep, stages):
    return {
        "A": _deal(
            rep,
            stages,
            "1000",
            "2025-01-01",
            [(0, "2025-01-01"), (1, "2025-01-10")],
            status="won",
            closed="2025-02-01",
        ),
        "B": _deal(
            rep,
            stages,
            "2000",
            "2025-01-01",
            [(0, "2025-01-01")],
            status="lost",
            closed="2025-01-20",
        ),
        "C": _deal(rep, stages, "400", "2025-01-05", [(0, "2025-01-05")]),
        "D": _deal(
            rep,
            stages,
            "800",
            "2025-01-01",
            [(0, "2025-01-01"), (2, "2025-07-15")],
            status="won",
            closed="2025-08-01",
            close_date=dt.date(2025, 7, 20),
        ),
        "E": _deal(
            rep, stages, "200", "2025-05-01", [(1, "2025-05-01")], close_date=dt.date(2025, 8, 10)
        ),
        "F": _deal(
            rep, stages, "600", "2025-03-10", [(0, "2025-03-10")], status="won", closed="2025-03-20"
        ),
    }


def test_learned_probabilities_are_exact(history, stages):
    s0, s1 = stages[0].pk, stages[1].pk
    learned = learned_probabilities(None, CUTOFF, min_sample=1)
    # s0, ages 0-29: A, B, C, D were there; only A is won by the cutoff (D wins after it).
    assert learned.cells[(s0, 0)] == (1, 4)
    # s0, ages 30-89: C (still open) and D (open until after the cutoff); A and B had left.
    assert learned.cells[(s0, 1)] == (0, 2)
    assert (s0, 2) not in learned.cells  # nobody was 90+ days old before 2025-03-03
    assert learned.cells[(s1, 0)] == (1, 1) and learned.cells[(s1, 1)] == (1, 1)
    assert learned.stages == {s0: (1, 4), s1: (1, 1)}  # E and F are too recent
    assert learned.probability(s0, 0) == (Decimal("0.25"), "stage_age")
    assert learned.probability(s0, 1) == (Decimal(0), "stage_age")
    assert learned.probability(s0, 3) == (Decimal("0.25"), "stage")
    strict = learned_probabilities(None, CUTOFF, min_sample=3)
    assert strict.probability(s0, 1) == (Decimal("0.25"), "stage")
    nominal = Decimal(stages[1].deal_probability) / 100
    assert strict.probability(s1, 0) == (nominal, "nominal")


def test_a_deal_won_after_the_cutoff_is_open_at_it_in_its_stage_then(history, stages):
    deals = {d.pk: d.stage_then for d in open_deals_at(None, CUTOFF)}
    assert deals == {
        history["C"].pk: stages[0].pk,
        history["D"].pk: stages[0].pk,  # its row says won, in s2, today
        history["E"].pk: stages[1].pk,
    }


def test_projection_adds_won_learned_pipeline_and_run_rate(history, stages):
    result = projection(None, now=CUTOFF, months=2, min_sample=1)
    july, august = result["months"]
    assert result["history_months"] == 5 and result["run_rate_method"] == "trailing_mean"
    assert july["month"] == "2025-07" and july["won_to_date"] == Decimal("0.00")
    # C (no close date) and D (2025-07-20), both in s0 and 180 days old or so: stage rate 1/4.
    assert july["open_deals"] == 2 and july["pipeline_value"] == Decimal("1200.00")
    assert july["expected_from_pipeline"] == Decimal("300.00")
    p0 = stages[0].deal_probability
    assert july["nominal_weighted"] == (Decimal(1200 * p0) / 100).quantize(Decimal("0.01"))
    # Revenue won in the month from deals created that month, Feb..Jun: 0, 600, 0, 0, 0.
    assert july["run_rate"] == Decimal("120.00")
    assert july["projected"] == Decimal("420.00")
    assert july["low"] <= july["projected"] <= july["high"]
    # E (s1, 61 days old: s1 at 30-89 days was won 1 of 1) + created in the last 2 months:
    # A (Jan -> Feb) 1000, F (Mar -> Mar) 600, over 5 months.
    assert august["expected_from_pipeline"] == Decimal("200.00")
    assert august["run_rate"] == Decimal("320.00")
    assert august["projected"] == Decimal("520.00")
    assert result["total"]["projected"] == Decimal("940.00")


def test_backtest_uses_only_what_was_known_at_each_cutoff(history, stages):
    result = backtest(None, months=2, today=dt.date(2025, 9, 15), min_sample=1)
    july, august = result["monthly"]
    assert july["period"] == "2025-07" and july["actual"] == Decimal("0.00")
    assert july["learned"] == Decimal("300.00") and july["combined"] == Decimal("420.00")
    assert july["learned_error_percent"] is None
    # 1 August: D is open (won at noon) and in s2 since 15 July, where nothing closed yet:
    # its nominal probability. E (s1, 92 days: s1's 1 of 1) 200; C (s0, 180+ days: s0's
    # rate, A and F won of A, B, C, D, F) 2/5 x 400.
    assert august["actual"] == Decimal("800.00")
    expected = Decimal(200 + 160) + Decimal(8 * stages[2].deal_probability)
    assert august["learned"] == expected
    error = (100 * (expected - 800) / 800).quantize(Decimal("0.01"))
    assert august["learned_error_percent"] == error
    assert result["mape"]["monthly"]["learned"] == abs(error)
    assert result["quarterly"] == [] or result["quarterly"][0]["period"].startswith("2025-07")


def test_projection_api(api_as, admin, history):
    response = api_as(admin).get("/forecasts/projection?months=3")
    assert response.status_code == 200, response.content
    body = response.json()["data"]
    assert len(body["months"]) == 3 and body["currency"] == "EUR"
    for url, field in (
        ("/forecasts/projection?months=0", "months"),
        ("/forecasts/projection?horizon=3", "horizon"),
    ):
        response = api_as(admin).get(url)
        assert response.status_code == 422, response.content
        assert field in str(response.json()), response.content
