"""Learned probabilities, the projection and the backtest on a small hand-built history.

Cutoff: 2025-07-01 00:00 (Paris). Times at noon. Snapshots of the open pipeline are taken on
each month's first day 00:00, from February (the month after the first deal was added).

    deal  value  added       stages (entered)                status events
    A     1000   2025-01-01  s0 01-01 -> s1 01-10            won 02-01
    B     2000   2025-01-01  s0 01-01                        lost 01-20
    C      400   2025-01-05  s0 01-05                        (open), no close date
    D      800   2025-01-01  s0 01-01 -> s2 07-15 (after)    won 08-01 (after the cutoff)
    E      200   2025-05-01  s1 05-01                        (open), close 2025-08-10
    F      600   2025-03-10  s0 03-10                        won 03-20

Age buckets (days since added): 0-14, 15-29, 30-59, 60-89, 90-179, 180-364, 365+ (0..6).

    snapshot  open: deal (stage, bucket)                              won later
    Feb 1     A (s1, 2)  C (s0, 1)  D (s0, 2)                         A in Feb (k=0), D in Aug
    Mar 1     C (s0, 2)  D (s0, 2)                                    D in Aug
    Apr 1     C (s0, 3)  D (s0, 3)                                    D in Aug
    May 1     C (s0, 4)  D (s0, 4)                                    D in Aug
    Jun 1     C (s0, 4)  D (s0, 4)  E (s1, 2)                         D in Aug
    Jul 1     C (s0, 4)  D (s0, 5)  E (s1, 3)                         D in Aug (k=1)
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from ruche.core.models import ChangeRecord
from ruche.forecasting.backtest import backtest
from ruche.forecasting.models import ProjectionRun
from ruche.forecasting.periods import month_index
from ruche.forecasting.projection import (
    learned_probabilities,
    local_midnight,
    open_deals_at,
    projection,
    snapshots,
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


def test_snapshots_count_open_deals_and_their_later_wins(history, stages):
    s0, s1, s2 = (stage.pk for stage in stages[:3])
    august = month_index(dt.date(2025, 8, 1))
    table = snapshots(None, august - 24, august)
    feb, mar, apr, may, jun, jul = range(august - 6, august)
    assert table.open == {
        (feb, s1, 2): 1,
        (feb, s0, 1): 1,
        (feb, s0, 2): 1,
        (mar, s0, 2): 2,
        (apr, s0, 3): 2,
        (may, s0, 4): 2,
        (jun, s0, 4): 2,
        (jun, s1, 2): 1,
        (jul, s0, 4): 1,  # C, 177 days
        (jul, s0, 5): 1,  # D, 181 days
        (jul, s1, 3): 1,  # E, 61 days
        (august, s0, 5): 1,  # C, 208 days
        (august, s1, 4): 1,  # E, 92 days
        (august, s2, 5): 1,  # D, in s2 since 15 July, won at noon
    }
    # A won in the month of its snapshot; D in August, k months after each snapshot.
    assert table.won == {
        (feb, s1, 2, 0): 1,
        (feb, s0, 2, 6): 1,
        (mar, s0, 2, 5): 1,
        (apr, s0, 3, 4): 1,
        (may, s0, 4, 3): 1,
        (jun, s0, 4, 2): 1,
        (jul, s0, 5, 1): 1,
        (august, s2, 5, 0): 1,
    }
    # A win after the last snapshot month is left out: no cutoff reading them knows it.
    assert snapshots(None, august - 24, jul).won == {(feb, s1, 2, 0): 1}


def test_a_deal_closed_more_than_once_is_read_from_its_history(rep, stages):
    """G: won 20 March, reopened 10 April, won 10 June: open on 1 February, 1 March, 1 May
    and 1 June only (its row alone says open from February to June)."""
    deal = _deal(
        rep, stages, "500", "2025-01-20", [(1, "2025-01-20")], status="won", closed="2025-06-10"
    )
    for event, day in (("won", "2025-03-20"), ("reopened", "2025-04-10")):
        ChangeRecord.objects.create(
            entity="deal",
            entity_id=deal.pk,
            event=event,
            field="status",
            actor_kind="job",
            time=at(day),
        )
    s1 = stages[1].pk
    july = month_index(dt.date(2025, 7, 1))
    table = snapshots(None, july - 24, july - 1)
    feb, mar, _april, may, jun = range(july - 5, july)  # closed (won) on 1 April
    assert table.open == {(feb, s1, 0): 1, (mar, s1, 2): 1, (may, s1, 4): 1, (jun, s1, 4): 1}
    assert table.won == {
        (feb, s1, 0, 1): 1,  # its first win from then on: 20 March
        (mar, s1, 2, 0): 1,
        (may, s1, 4, 1): 1,
        (jun, s1, 4, 0): 1,
    }


def test_learned_rates_use_only_outcomes_known_at_the_cutoff(history, stages):
    s0, s1, s2 = (stage.pk for stage in stages[:3])
    learned = learned_probabilities(None, CUTOFF, horizon=3, min_sample=1)
    # Offset k counts the snapshots at least k + 1 months before July: D's August win is
    # not known yet. (s0, 2): D in Feb, C and D in Mar for every k.
    assert learned.trials[(s0, 2)] == [3, 3, 3]
    assert learned.wins.get((s0, 2)) is None
    # (s0, 4): C and D in May and Jun for k = 0; in May for k = 1; none for k = 2.
    assert learned.trials[(s0, 4)] == [4, 2, 0]
    # s1 over every age: A (Feb, won in Feb) and E (Jun) for k = 0; only A for k = 1, 2.
    assert learned.trials[(s1, None)] == [2, 1, 1] and learned.wins[(s1, None)] == [1, 0, 0]
    half = Decimal(1) / 2
    assert learned.rates(s1, 2) == ([half, Decimal(0), Decimal(0)], "stage_age")
    assert learned.rates(s1, 3) == ([half, Decimal(0), Decimal(0)], "stage")
    assert learned.rates(s2, 0) == (None, "nominal")
    strict = learned_probabilities(None, CUTOFF, horizon=3, min_sample=3)
    assert strict.rates(s0, 2) == ([Decimal(0)] * 3, "stage_age")
    assert strict.rates(s0, 3) == ([Decimal(0)] * 3, "stage")  # s0: 10 snapshots at k = 0
    assert strict.rates(s1, 2) == (None, "nominal")


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
    # By close month: C (no close date) and D (2025-07-20) in July, E in August.
    assert july["open_deals"] == 2 and july["pipeline_value"] == Decimal("1200.00")
    p0 = stages[0].deal_probability
    assert july["nominal_weighted"] == (Decimal(1200 * p0) / 100).quantize(Decimal("0.01"))
    # Learned: C (s0, 177 days) and D (s0, 181 days) never won from s0: 0. E (s1, 61 days,
    # no cell: s1's rates) 1/2 in the first month, 0 in the second.
    assert july["expected_from_pipeline"] == Decimal("100.00")
    assert august["expected_from_pipeline"] == Decimal("0.00")
    # Run-rate: deals added per month Feb..Jun (F in March, E in May): mean 2 / 5 (under 24
    # months: the trailing mean), x R_0, the revenue won in the month a deal was added per
    # deal added over those cohorts: F's 600 / 2 deals = 300.
    assert july["run_rate"] == Decimal("120.00")
    assert july["projected"] == Decimal("220.00")
    assert july["low"] <= july["projected"] <= july["high"]
    # August: July's deals x R_1 (none won the month after being added, of Feb..May's: 0)
    # + August's x R_0.
    assert august["run_rate"] == Decimal("120.00")
    assert august["projected"] == Decimal("120.00")
    assert result["total"]["projected"] == Decimal("340.00")


def test_within_a_month_only_the_days_left_count_for_the_pipeline(history, stages):
    result = projection(None, now=local_midnight(dt.date(2025, 7, 16)), months=2, min_sample=1)
    july, august = result["months"]
    # E's July rate 1/2, for the 16 days of 31 left: 200 x 1/2 x 16/31 = 51.61; D, in s2
    # since 15 July where no deal was seen, at s2's nominal probability in its close month
    # (20 July), whole.
    nominal = Decimal(800 * stages[2].deal_probability) / 100
    assert july["expected_from_pipeline"] == Decimal("51.61") + nominal
    assert august["expected_from_pipeline"] == Decimal("0.00")
    # Only July's deals still to be added count: 0.4 x 300 x 16/31; August's whole.
    assert july["run_rate"] == Decimal("61.94")
    assert august["run_rate"] == Decimal("120.00")


def test_backtest_uses_only_what_was_known_at_each_cutoff(history, stages):
    result = backtest(None, months=2, today=dt.date(2025, 9, 15), min_sample=1)
    july, august = result["monthly"]
    assert july["period"] == "2025-07" and july["actual"] == Decimal("0.00")
    assert july["learned"] == Decimal("100.00") and july["combined"] == Decimal("220.00")
    assert july["learned_error_percent"] is None
    # 1 August: D is open (won at noon), in s2 since 15 July where no deal was seen: its
    # nominal probability, overdue so in August. E (s1, 92 days, no cell): s1 won 1 of 3
    # snapshots (A Feb, E Jun, E Jul). C (s0, 208 days): 1 snapshot (Jul), not won.
    assert august["actual"] == Decimal("800.00")
    minor = Decimal(800 * stages[2].deal_probability) + Decimal(20000) / 3
    expected = minor.quantize(Decimal(1), ROUND_HALF_UP) / 100
    assert august["learned"] == expected
    # Run-rate: deals added per month Feb..Jul, 2 / 6, x R_0 = 600 / 2.
    assert august["combined"] == expected + 100
    error = (100 * (expected - 800) / 800).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert august["learned_error_percent"] == error
    assert result["mape"]["monthly"]["learned"] == abs(error)
    assert result["quarterly"] == []


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


def test_projection_api_serves_todays_stored_run_when_it_answers(api_as, admin, rep, history):
    stored = {"currency": "EUR", "months": [], "marker": "today's run"}
    ProjectionRun.objects.create(computed_at=timezone.now(), projection=stored)
    assert api_as(admin).get("/forecasts/projection").json()["data"] == stored
    # A filter, another horizon or a user who does not see every deal: computed, no request.
    for user, url in (
        (admin, f"/forecasts/projection?owner_id={rep.pk}"),
        (admin, "/forecasts/projection?months=3"),
        (rep, "/forecasts/projection"),
    ):
        body = api_as(user).get(url).json()["data"]
        assert "marker" not in body and body["currency"] == "EUR"
    assert ProjectionRun.objects.count() == 1


def test_projection_api_computes_when_the_stored_run_is_not_from_today(api_as, admin, history):
    yesterday = timezone.now() - dt.timedelta(days=1)
    ProjectionRun.objects.create(
        requested_at=yesterday, computed_at=yesterday, projection={"marker": "yesterday"}
    )
    body = api_as(admin).get("/forecasts/projection").json()["data"]
    assert "marker" not in body and len(body["months"]) == 12
    # ... and asks for a new run, as the dashboard does.
    assert ProjectionRun.objects.filter(computed_at__isnull=True).count() == 1
