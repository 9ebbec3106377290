"""The set-based SQL of the history figures (ruche.forecasting.metrics, "History"): stage
conversion as a running maximum over each deal's entries, time in stage as two GROUP BYs (moved
out, closed in), and durations as exact microseconds on both databases."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from ruche.core.expressions import microseconds_between
from ruche.core.models import Visibility
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.models import StageStayTally
from ruche.forecasting.stage_tallies import tallies_follow
from ruche.pipelines.models import StageEntry
from ruche.pipelines.services import deal_move_to_stage, deal_update
from tests.factories import FACTORY_ACTOR
from tests.forecasting.conftest import at, set_entries, set_times

JANUARY = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 1, 31)}


def rows(user, indicator, **query):
    return metric(user, indicator, MetricQuery(**query)).rows


def conversion(user, **query):
    return [
        (r["stage_id"], r["entered"], r["reached_next"], r["won"])
        for r in rows(user, "stage_conversion", **query)
    ]


def walk(make_deal, owner, *path, status=None, closed=None, **data):
    """A deal entering the stages of `path` ((stage, day), ...) in order, its last entry left
    open; then won or lost on `closed`."""
    deal = make_deal(owner, "100", stage=path[0][0], **data)
    for stage, _ in path[1:]:
        deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=stage.pk)
    days = [at(day) for _, day in path]
    set_entries(deal, *zip(days, [*days[1:], None], strict=True))
    if status is not None:
        extra = {"lost_reason": "Pas de budget"} if status == "lost" else {}
        deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"status": status, **extra})
        set_times(deal, close_time=at(closed), **{f"{status}_time": at(closed)})
    return deal


@pytest.fixture
def paths(make_deal, rep, other_rep, stages):
    """x: Lead, Meeting, back to Prospect, back to Lead. y: Lead, Prospect, Lead, then Prospect
    again in February. z: Lead, won on 3 January. w: Lead in December, Prospect, lost.
    v (other_rep's, visible to him only): Lead, still there."""
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    return {
        "x": walk(
            make_deal,
            rep,
            (lead, "2026-01-01"),
            (meeting, "2026-01-02"),
            (prospect, "2026-01-03"),
            (lead, "2026-01-04"),
        ),
        "y": walk(
            make_deal,
            rep,
            (lead, "2026-01-01"),
            (prospect, "2026-01-05"),
            (lead, "2026-01-06"),
            (prospect, "2026-02-10"),
        ),
        "z": walk(make_deal, rep, (lead, "2026-01-01"), status="won", closed="2026-01-03"),
        "w": walk(
            make_deal,
            rep,
            (lead, "2025-12-20"),
            (prospect, "2026-01-02"),
            status="lost",
            closed="2026-01-04",
        ),
        "v": walk(make_deal, other_rep, (lead, "2026-01-10"), visible_to=Visibility.OWNER),
    }


def test_conversion_counts_deals_once_and_later_moves_after_the_period(paths, admin, stages):
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    # Lead: x (reached Meeting), y (twice; Prospect in February counts as later), z (won), v
    # (stayed). Meeting: x, then only lower stages. Prospect: x, y, w, none went further.
    assert conversion(admin, **JANUARY) == [
        (lead.pk, 4, 3, 1),
        (prospect.pk, 3, 0, 0),
        (meeting.pk, 1, 0, 0),
    ]


def test_conversion_of_one_stage_still_sees_moves_to_the_others(paths, admin, stages):
    assert conversion(admin, **JANUARY, stage_id=stages[0].pk) == [(stages[0].pk, 4, 3, 1)]


def test_conversion_by_month_owner_and_day(paths, admin, rep, other_rep, stages):
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    by_month = rows(
        admin,
        "stage_conversion",
        date_from=dt.date(2026, 1, 1),
        date_to=dt.date(2026, 2, 28),
        interval="month",
    )
    assert [
        (r["period_start"], r["stage_id"], r["entered"], r["reached_next"]) for r in by_month
    ] == [
        (dt.date(2026, 1, 1), lead.pk, 4, 3),
        (dt.date(2026, 1, 1), prospect.pk, 3, 0),
        (dt.date(2026, 1, 1), meeting.pk, 1, 0),
        (dt.date(2026, 2, 1), prospect.pk, 1, 0),
    ]
    by_owner = rows(admin, "stage_conversion", **JANUARY, group_by="owner", stage_id=lead.pk)
    assert [(r["group"], r["entered"], r["reached_next"], r["won"]) for r in by_owner] == [
        (rep.pk, 3, 3, 1),
        (other_rep.pk, 1, 0, 0),
    ]
    by_day = rows(rep, "stage_conversion", **JANUARY, interval="day", stage_id=lead.pk)
    assert [(r["period_start"], r["entered"], r["reached_next"]) for r in by_day] == [
        (dt.date(2026, 1, 1), 3, 3),
        (dt.date(2026, 1, 4), 1, 0),  # x's second stay in Lead: nothing later
        (dt.date(2026, 1, 6), 1, 1),  # y's: Prospect in February
    ]


def test_time_in_stage_moved_out_and_closed_in(paths, admin, rep, stages):
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    # Ended in January: Lead x 1 day, y 4 days, z 2 days (won, its open entry), w (left on
    # 2 January after 13 days); Prospect x 1, y 1, w 2 (lost); Meeting x 1. Open stays (x and
    # v in Lead, y in Prospect since February) have not ended.
    assert [
        (r["stage_id"], r["stays"], r["average_days"])
        for r in rows(admin, "time_in_stage", **JANUARY)
    ] == [
        (lead.pk, 4, Decimal("5.00")),  # (1 + 4 + 2 + 13) / 4
        (prospect.pk, 3, Decimal("1.33")),  # (1 + 1 + 2) / 3
        (meeting.pk, 1, Decimal("1.00")),
    ]
    # By the month each stay ended in: y's second stay in Lead ended in February.
    by_month = rows(
        rep,
        "time_in_stage",
        date_from=dt.date(2026, 1, 1),
        date_to=dt.date(2026, 2, 28),
        interval="month",
        stage_id=lead.pk,
    )
    assert [(r["period_start"], r["stays"], r["average_days"]) for r in by_month] == [
        (dt.date(2026, 1, 1), 4, Decimal("5.00")),
        (dt.date(2026, 2, 1), 1, Decimal("35.00")),  # 6 January to 10 February
    ]


@pytest.mark.parametrize(
    ("entered", "left", "microseconds"),
    [
        ("2026-01-01 10:00:00.250000", "2026-01-01 10:00:01", 750_000),
        ("2026-01-01 10:00:00.999999", "2026-01-03 10:00:01.000001", 2 * 86_400_000_000 + 2),
        ("2026-03-29 00:30:00", "2026-03-29 03:30:00", 3 * 3_600_000_000),  # over a DST change
    ],
)
def test_durations_are_exact_microseconds(make_deal, rep, entered, left, microseconds):
    deal = make_deal(rep, "1")
    utc = dt.UTC

    def instant(text):
        return dt.datetime.fromisoformat(text).replace(tzinfo=utc)

    with tallies_follow(Q(deal_id=deal.pk)):
        StageEntry.objects.filter(deal=deal).update(
            entered_at=instant(entered), left_at=instant(left)
        )
    found = StageEntry.objects.filter(deal=deal).annotate(
        microseconds=microseconds_between("left_at", "entered_at")
    )
    assert [int(value) for value in found.values_list("microseconds", flat=True)] == [microseconds]
    assert list(StageStayTally.objects.values_list("stays", "stay_us")) == [(1, microseconds)]
