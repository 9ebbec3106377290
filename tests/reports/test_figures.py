"""Each kind of report on hand-built data: exact counts and amounts to the cent, conversions at
the day's rate, and the viewer's visibility applied even in a shared report."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.accounts.models import Company
from ruche.core.history import Actor
from ruche.core.models import Lookup, Visibility
from ruche.pipelines.models import Activity
from ruche.pipelines.services import activity_create, deal_move_to_stage, deal_update
from ruche.reports.figures import report_data
from ruche.reports.periods import report_span
from tests.factories import FACTORY_ACTOR
from tests.reports.conftest import TODAY, at

CUSTOM_2026 = {"period": "custom", "date_from": "2026-01-01", "date_to": "2026-12-31"}


def table(data, *columns):
    return {row["label"]: tuple(row[c] for c in columns) for row in data.rows}


@pytest.fixture
def won_set(make_deal, rep, other_rep, usd_rates):
    """Won: 1000 EUR on 15 Jan (rep); 333.33 USD on 10 Feb x 0.9 = 299.997 -> 300.00 (rep);
    250.55 USD on 5 Mar x 0.8 = 200.44 (other rep); 40.01 EUR on 2 Apr (other rep, private
    to him). Not won: one lost, one open."""
    return [
        make_deal(rep, "1000", status="won", won="2026-01-15"),
        make_deal(rep, "333.33", currency_code="USD", status="won", won="2026-02-10"),
        make_deal(other_rep, "250.55", currency_code="USD", status="won", won="2026-03-05"),
        make_deal(other_rep, "40.01", status="won", won="2026-04-02", visible_to=Visibility.OWNER),
        make_deal(rep, "9999", status="lost", lost="2026-02-01"),
        make_deal(rep, "8888"),
    ]


def test_revenue_by_month_converts_each_deal_at_its_won_day_rate(won_set, admin, make_report):
    report = make_report(
        admin,
        grouping="month",
        period="custom",
        date_from="2026-01-01",
        date_to="2026-05-31",
        shared=True,
    )
    data = report_data(admin, report, TODAY)
    assert data.currency == "EUR"
    assert table(data, "deals", "amount") == {
        "2026-01": (1, Decimal("1000.00")),
        "2026-02": (1, Decimal("300.00")),
        "2026-03": (1, Decimal("200.44")),
        "2026-04": (1, Decimal("40.01")),
        "2026-05": (0, Decimal("0.00")),
    }
    assert data.chart()["datasets"][0]["data"] == [1000.0, 300.0, 200.44, 40.01, 0.0]


def test_a_shared_report_shows_a_rep_only_the_deals_he_may_see(won_set, admin, rep, make_report):
    report = make_report(admin, grouping="owner", shared=True, **CUSTOM_2026)
    assert table(report_data(admin, report, TODAY), "deals", "amount") == {
        "Rémi Nord": (2, Decimal("1300.00")),
        "Sarah Sud": (2, Decimal("240.45")),
    }
    # The other rep's private 40.01 EUR deal is not the rep's to see.
    assert table(report_data(rep, report, TODAY), "deals", "amount") == {
        "Rémi Nord": (2, Decimal("1300.00")),
        "Sarah Sud": (1, Decimal("200.44")),
    }


def test_filters_owner_team_and_pipeline(won_set, admin, rep, other_rep, sud, make_report):
    by_owner = make_report(admin, grouping="year", filter_owner_id=rep.pk, **CUSTOM_2026)
    assert table(report_data(admin, by_owner, TODAY), "deals", "amount") == {
        "FY2026": (2, Decimal("1300.00"))
    }
    by_team = make_report(admin, grouping="year", filter_team_id=sud.pk, **CUSTOM_2026)
    assert table(report_data(admin, by_team, TODAY), "deals", "amount") == {
        "FY2026": (2, Decimal("240.45"))
    }


def test_all_time_reaches_back_to_the_first_deal(make_deal, rep, admin, make_report):
    make_deal(rep, "10.10", status="won", won="2023-03-20", created="2023-03-10")
    make_deal(rep, "20.20", status="won", won="2026-10-02", created="2026-09-01")
    report = make_report(admin, grouping="quarter", period="all_time")
    data = report_data(admin, report, TODAY)
    assert (data.date_from, data.date_to) == (dt.date(2023, 3, 10), TODAY)
    labels = [row["label"] for row in data.rows]
    assert labels[0] == "FY2023-Q1" and labels[-1] == "FY2026-Q4" and len(labels) == 16
    amounts = {row["label"]: row["amount"] for row in data.rows if row["deals"]}
    assert amounts == {"FY2023-Q1": Decimal("10.10"), "FY2026-Q4": Decimal("20.20")}


def test_relative_periods_follow_the_fiscal_year(admin, make_report):
    def span(period):
        return report_span(make_report(admin, period=period), admin, TODAY)

    assert span("this_month") == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert span("last_month") == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert span("last_quarter") == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert span("last_24_months") == (dt.date(2024, 12, 1), dt.date(2026, 11, 30))
    Company.objects.filter(pk=1).update(fiscal_year_start_month=4)
    assert span("this_year") == (dt.date(2026, 4, 1), dt.date(2027, 3, 31))
    assert span("last_year") == (dt.date(2025, 4, 1), dt.date(2026, 3, 31))
    assert span("this_quarter") == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def test_forecast_is_the_open_pipeline_by_expected_close_month(
    make_deal, rep, admin, usd_rates, make_report
):
    make_deal(rep, "1000", probability=30, expected_close_date="2026-12-10")
    # 200.50 USD at today's rate (0.8) = 160.40; weighted 200.50 x 25 % x 0.8 = 40.10.
    make_deal(rep, "200.50", currency_code="USD", probability=25, expected_close_date="2026-12-20")
    # 75.25 x 50 % = 37.625, rounded half up once: 37.63.
    make_deal(rep, "75.25", probability=50, expected_close_date="2027-01-15")
    make_deal(rep, "500", status="won", won="2026-12-01", expected_close_date="2026-12-01")
    report = make_report(
        admin,
        kind="forecast",
        grouping="month",
        period="custom",
        date_from="2026-12-01",
        date_to="2027-01-31",
    )
    assert table(report_data(admin, report, TODAY), "deals", "value", "weighted_value") == {
        "2026-12": (2, Decimal("1160.40"), Decimal("340.10")),
        "2027-01": (1, Decimal("75.25"), Decimal("37.63")),
    }


@pytest.fixture
def closed_set(make_deal, rep, other_rep, loss_reason, usd_rates):
    """Closed in 2026: won 333.33 USD vs Acme (300.00); lost 120.10 USD vs Acme on 20 Mar
    (x 0.8 = 96.08, price); lost 500 EUR vs Bêta (another reason); won 1000 EUR, no rival."""
    other_reason = Lookup.objects.filter(kind=Lookup.Kind.LOSS_REASON).exclude(pk=loss_reason.pk)[0]
    make_deal(
        rep,
        "333.33",
        currency_code="USD",
        status="won",
        won="2026-02-10",
        competitor="Acme",
    )
    make_deal(
        rep, "120.10", currency_code="USD", status="lost", lost="2026-03-20", competitor="Acme"
    )
    beta = make_deal(other_rep, "500", status="lost", lost="2026-02-11", competitor="Bêta")
    deal_update(actor=FACTORY_ACTOR, deal_id=beta.pk, data={"lost_reason_id": other_reason.pk})
    make_deal(rep, "1000", status="won", won="2026-04-01")
    make_deal(rep, "77", status="lost", lost="2025-12-31", competitor="Acme")  # before the year
    return other_reason


def test_win_loss_by_competitor(closed_set, admin, make_report):
    report = make_report(admin, kind="win_loss", grouping="competitor", **CUSTOM_2026)
    data = report_data(admin, report, TODAY)
    assert table(data, "won", "lost", "win_rate", "won_value", "lost_value") == {
        "Acme": (1, 1, Decimal("50.00"), Decimal("300.00"), Decimal("96.08")),
        "Bêta": (0, 1, Decimal("0.00"), Decimal("0.00"), Decimal("500.00")),
        "(aucun)": (1, 0, Decimal("100.00"), Decimal("1000.00"), Decimal("0.00")),
    }


def test_win_loss_by_reason_and_by_quarter(closed_set, admin, loss_reason, make_report):
    by_reason = make_report(admin, kind="win_loss", grouping="reason", **CUSTOM_2026)
    assert table(report_data(admin, by_reason, TODAY), "lost", "lost_value", "share") == {
        loss_reason.name: (1, Decimal("96.08"), Decimal("50.00")),
        closed_set.name: (1, Decimal("500.00"), Decimal("50.00")),
    }
    by_quarter = make_report(admin, kind="win_loss", grouping="quarter", **CUSTOM_2026)
    assert table(report_data(admin, by_quarter, TODAY), "won", "lost", "win_rate") == {
        "FY2026-Q1": (1, 2, Decimal("33.33")),
        "FY2026-Q2": (1, 0, Decimal("100.00")),
        "FY2026-Q3": (0, 0, None),
        "FY2026-Q4": (0, 0, None),
    }


def test_deals_by_stage_counts_each_status_and_the_open_value(
    make_deal, rep, admin, stages, usd_rates, make_report
):
    make_deal(rep, "100.10", stage=stages[0])
    # 100.10 USD at today's rate (0.8) = 80.08.
    make_deal(rep, "100.10", currency_code="USD", stage=stages[0])
    make_deal(rep, "200.20", stage=stages[0])
    make_deal(rep, "300.30", stage=stages[2])
    make_deal(rep, "400", stage=stages[2], status="won", won="2026-03-01")
    make_deal(rep, "999", stage=stages[2], created="2025-06-01")  # created before the year
    report = make_report(admin, kind="deals_by_stage", grouping="stage", **CUSTOM_2026)
    data = report_data(admin, report, TODAY)
    assert table(data, "open", "won", "lost", "open_value") == {
        stages[0].name: (3, 0, 0, Decimal("380.38")),
        stages[2].name: (1, 1, 0, Decimal("300.30")),
    }
    assert [row["key"] for row in data.rows] == [stages[0].pk, stages[2].pk]


def _activity(owner, kind, added, done=None, **links):
    activity = activity_create(
        actor=Actor.for_user(owner), data={"subject": kind, "type": kind, **links}
    )
    times = {"add_time": at(added)}
    if done:
        times |= {"done": True, "marked_as_done_time": at(done)}
    Activity.objects.filter(pk=activity.pk).update(**times)


def test_activities_added_and_completed_by_type(make_deal, rep, other_rep, admin, make_report):
    _activity(rep, "call", "2026-06-03", done="2026-06-05")
    _activity(rep, "call", "2026-06-10")
    _activity(rep, "meeting", "2026-05-30", done="2026-06-02")
    hidden = make_deal(other_rep, "10", visible_to=Visibility.OWNER)
    _activity(other_rep, "task", "2026-06-15", deal_id=hidden.pk)
    report = make_report(
        admin,
        kind="activities",
        grouping="type",
        period="custom",
        date_from="2026-06-01",
        date_to="2026-06-30",
        shared=True,
    )
    assert table(report_data(admin, report, TODAY), "added", "completed") == {
        "Appel": (2, 1),
        "Rendez-vous": (0, 1),
        "Tâche": (1, 0),
    }
    assert table(report_data(rep, report, TODAY), "added", "completed") == {
        "Appel": (2, 1),
        "Rendez-vous": (0, 1),
    }
    by_month = make_report(
        admin,
        kind="activities",
        grouping="month",
        period="custom",
        date_from="2026-05-01",
        date_to="2026-06-30",
    )
    assert table(report_data(admin, by_month, TODAY), "added", "completed") == {
        "2026-05": (1, 0),
        "2026-06": (3, 2),
    }


def test_funnel_counts_entries_moves_and_wins_per_stage(make_deal, rep, admin, stages, make_report):
    moved = make_deal(rep, "10")
    make_deal(rep, "20")
    won = make_deal(rep, "30")
    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=moved.pk, stage_id=stages[1].pk)
    deal_update(actor=FACTORY_ACTOR, deal_id=won.pk, data={"status": "won"})
    report = make_report(admin, kind="funnel", grouping="stage", period="this_year")
    data = report_data(admin, report, dt.date.today())
    lead, prospect = data.rows[0], data.rows[1]
    assert (lead["entered"], lead["reached_next"], lead["won"], lead["open_now"]) == (3, 2, 1, 1)
    assert (lead["next_rate"], lead["won_rate"]) == (Decimal("66.67"), Decimal("33.33"))
    assert (prospect["entered"], prospect["open_now"]) == (1, 1)
    assert [row["key"] for row in data.rows] == [stage.pk for stage in stages]
