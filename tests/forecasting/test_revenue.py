"""Won revenue, average deal value: periods, fiscal years, currencies, status changes, groups."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.accounts.models import Company
from ruche.catalog.models import Product
from ruche.contacts.models import Organization
from ruche.core.exceptions import ValidationError
from ruche.core.models import Visibility
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.pipelines.services import deal_line_add, deal_update, pipeline_create_standard
from tests.factories import FACTORY_ACTOR, OrganizationFactory
from tests.forecasting.conftest import PARIS, set_times

YEAR = {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 12, 31)}


def rows(user, indicator, **query):
    return metric(user, indicator, MetricQuery(**query)).rows


def by_period(result_rows, *fields):
    return {row["period_label"]: tuple(row[f] for f in fields) for row in result_rows}


@pytest.fixture
def won_set(make_deal, rep, other_rep, usd_rates):
    """Won: 1000 EUR on 15 Jan; 500 USD on 10 Feb (x0.9 = 450); 250 USD on 5 Mar and 100 USD
    on 20 Mar (x0.8 = 280); 40 EUR on 2 Apr. Not won: a lost deal, an open deal."""
    return [
        make_deal(rep, "1000", status="won", won="2026-01-15"),
        make_deal(rep, "500", currency_code="USD", status="won", won="2026-02-10"),
        make_deal(other_rep, "250", currency_code="USD", status="won", won="2026-03-05"),
        make_deal(rep, "100", currency_code="USD", status="won", won="2026-03-20"),
        make_deal(other_rep, "40", status="won", won="2026-04-02"),
        make_deal(rep, "9999", status="lost", lost="2026-02-01"),
        make_deal(rep, "8888"),
    ]


def test_won_revenue_by_month_converts_at_the_won_day_rate(won_set, admin):
    result = metric(admin, "won_revenue", MetricQuery(**YEAR, interval="month"))
    assert result.currency == "EUR"
    assert by_period(result.rows, "deals", "amount") == {
        "2026-01": (1, Decimal("1000.00")),
        "2026-02": (1, Decimal("450.00")),
        "2026-03": (2, Decimal("280.00")),
        "2026-04": (1, Decimal("40.00")),
    }
    assert result.rows[2]["period_start"] == dt.date(2026, 3, 1)
    assert result.rows[2]["period_end"] == dt.date(2026, 3, 31)


def test_won_revenue_by_quarter_year_and_day(won_set, admin):
    assert by_period(rows(admin, "won_revenue", **YEAR, interval="quarter"), "amount") == {
        "FY2026-Q1": (Decimal("1730.00"),),
        "FY2026-Q2": (Decimal("40.00"),),
    }
    assert by_period(rows(admin, "won_revenue", **YEAR, interval="year"), "deals", "amount") == {
        "FY2026": (5, Decimal("1770.00"))
    }
    march = rows(
        admin,
        "won_revenue",
        date_from=dt.date(2026, 3, 1),
        date_to=dt.date(2026, 3, 31),
        interval="day",
    )
    assert by_period(march, "amount") == {
        "2026-03-05": (Decimal("200.00"),),
        "2026-03-20": (Decimal("80.00"),),
    }
    whole = rows(admin, "won_revenue", **YEAR)
    assert whole == [
        {
            "period_start": dt.date(2026, 1, 1),
            "period_end": dt.date(2026, 12, 31),
            "period_label": None,
            "deals": 5,
            "amount": Decimal("1770.00"),
        }
    ]
    average = rows(admin, "average_deal_value", **YEAR)
    assert average[0]["average"] == Decimal("354.00")  # 1770 / 5


def test_fiscal_quarters_and_years_follow_the_company_start_month(won_set, admin):
    Company.objects.filter(pk=1).update(fiscal_year_start_month=3)
    # Fiscal year from 1 March: Jan-Feb 2026 close FY2026 (Mar 2025 - Feb 2026), March opens
    # FY2027 whose first quarter is March-May.
    quarters = rows(admin, "won_revenue", **YEAR, interval="quarter")
    assert [
        (r["period_label"], r["period_start"], r["period_end"], r["amount"]) for r in quarters
    ] == [
        ("FY2026-Q4", dt.date(2025, 12, 1), dt.date(2026, 2, 28), Decimal("1450.00")),
        ("FY2027-Q1", dt.date(2026, 3, 1), dt.date(2026, 5, 31), Decimal("320.00")),
    ]
    years = rows(admin, "won_revenue", **YEAR, interval="year")
    assert [(r["period_label"], r["period_start"], r["amount"]) for r in years] == [
        ("FY2026", dt.date(2025, 3, 1), Decimal("1450.00")),
        ("FY2027", dt.date(2026, 3, 1), Decimal("320.00")),
    ]


def test_days_are_those_of_the_company_time_zone(make_deal, rep, admin):
    late = make_deal(rep, "10", status="won", won="2026-03-31")
    early = make_deal(rep, "20", status="won", won="2026-03-31")
    # 23:30 in Paris on 31 March is still March; 22:30 UTC on 31 March is 00:30 on 1 April.
    set_times(late, won_time=dt.datetime(2026, 3, 31, 23, 30, tzinfo=PARIS))
    set_times(early, won_time=dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC))
    assert by_period(rows(admin, "won_revenue", **YEAR, interval="month"), "amount") == {
        "2026-03": (Decimal("10.00"),),
        "2026-04": (Decimal("20.00"),),
    }
    april = rows(admin, "won_revenue", date_from=dt.date(2026, 4, 1), date_to=dt.date(2026, 4, 1))
    assert april[0]["amount"] == Decimal("20.00")


def test_sums_per_currency_and_rate_are_rounded_once(make_deal, rep, admin, usd_rates):
    # 0.05 USD x 0.9 = 0.045 EUR: alone it would round to 0.05; two on days with the same rate
    # are summed first: 0.10 USD x 0.9 = 0.09 EUR.
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-01-10")
    make_deal(rep, "0.05", currency_code="USD", status="won", won="2026-02-20")
    assert rows(admin, "won_revenue", **YEAR)[0]["amount"] == Decimal("0.09")


def test_a_missing_rate_is_an_error_naming_it(make_deal, rep, admin, usd_rates):
    make_deal(rep, "100", currency_code="GBP", status="won", won="2026-02-03")
    make_deal(rep, "100", currency_code="GBP", status="won", won="2026-02-01")
    with pytest.raises(ValidationError) as error:
        metric(admin, "won_revenue", MetricQuery(**YEAR))
    assert error.value.field_errors == {
        "currency": "No exchange rate GBP→EUR on or before 2026-02-01."
    }
    # A USD deal won before the first USD rate is refused the same way.
    make_deal(rep, "1", currency_code="USD", status="won", won="2025-12-31")
    with pytest.raises(ValidationError, match="USD→EUR on or before 2025-12-31"):
        metric(admin, "won_revenue", MetricQuery(date_to=dt.date(2025, 12, 31)))


def test_the_currency_filter_reports_those_deals_unconverted(won_set, admin):
    usd = rows(admin, "won_revenue", **YEAR, interval="quarter", currency="usd")
    assert by_period(usd, "deals", "amount") == {"FY2026-Q1": (3, Decimal("850.00"))}
    assert metric(admin, "won_revenue", MetricQuery(**YEAR, currency="USD")).currency == "USD"


def test_reopened_and_won_then_lost_deals(make_deal, rep, admin, loss_reason):
    reopened = make_deal(rep, "100", status="won", won="2026-02-10")
    won_then_lost = make_deal(rep, "200", status="won", won="2026-02-11")
    won_twice = make_deal(rep, "400", status="won", won="2026-02-12")
    deal_update(actor=FACTORY_ACTOR, deal_id=reopened.pk, data={"status": "open"})
    deal_update(
        actor=FACTORY_ACTOR,
        deal_id=won_then_lost.pk,
        data={"status": "lost", "lost_reason_id": loss_reason.pk},
    )
    lost_at = dt.datetime(2026, 5, 5, 12, tzinfo=PARIS)
    set_times(won_then_lost, lost_time=lost_at, close_time=lost_at)
    deal_update(actor=FACTORY_ACTOR, deal_id=won_twice.pk, data={"status": "open"})
    deal_update(actor=FACTORY_ACTOR, deal_id=won_twice.pk, data={"status": "won"})
    again = dt.datetime(2026, 6, 1, 12, tzinfo=PARIS)
    set_times(won_twice, won_time=again, close_time=again)

    # Only the deal won (again) counts, once, on its latest won day.
    assert by_period(rows(admin, "won_revenue", **YEAR, interval="month"), "deals", "amount") == {
        "2026-06": (1, Decimal("400.00"))
    }
    # The lost one counts as lost in May; the reopened one is in the open pipeline.
    conversion = rows(admin, "conversion_rate", **YEAR, interval="month")
    assert by_period(conversion, "won", "lost") == {"2026-05": (0, 1), "2026-06": (1, 0)}
    assert rows(admin, "pipeline")[0]["deals"] == 1


def test_deals_moved_between_pipelines_count_in_their_current_pipeline(
    make_deal, rep, admin, pipeline
):
    other = pipeline_create_standard(actor=FACTORY_ACTOR, name="Renewals")
    moved = make_deal(rep, "300", status="won", won="2026-02-10")
    make_deal(rep, "50", status="won", won="2026-02-10")
    deal_update(actor=FACTORY_ACTOR, deal_id=moved.pk, data={"pipeline_id": other.pk})
    grouped = rows(admin, "won_revenue", **YEAR, group_by="pipeline")
    assert [(r["group"], r["deals"], r["amount"]) for r in grouped] == [
        (pipeline.pk, 1, Decimal("50.00")),
        (other.pk, 1, Decimal("300.00")),
    ]
    only_other = rows(admin, "won_revenue", **YEAR, pipeline_id=other.pk)
    assert only_other[0]["amount"] == Decimal("300.00")


def test_groups_owner_team_source_industry_revenue_type(
    make_deal, rep, other_rep, manager, admin, source, nord, sud
):
    org = OrganizationFactory(owner=rep, industry="Boulangerie")
    make_deal(rep, "100", status="won", won="2026-01-10", org=org, revenue_type="recurring")
    make_deal(manager, "200", status="won", won="2026-01-11", source_id=source.pk)
    make_deal(other_rep, "400", status="won", won="2026-01-12")

    def grouped(group_by):
        return {
            r["group"]: (r["deals"], r["amount"])
            for r in rows(admin, "won_revenue", **YEAR, group_by=group_by)
        }

    assert grouped("owner") == {
        rep.pk: (1, Decimal("100.00")),
        manager.pk: (1, Decimal("200.00")),
        other_rep.pk: (1, Decimal("400.00")),
    }
    assert grouped("team") == {nord.pk: (2, Decimal("300.00")), sud.pk: (1, Decimal("400.00"))}
    # The organisation's source became the deal's; the manager's deal names the "Salon" source.
    assert grouped("source")[source.pk] == (1, Decimal("200.00"))
    assert grouped("industry") == {
        "Boulangerie": (1, Decimal("100.00")),
        None: (2, Decimal("600.00")),
    }
    assert grouped("revenue_type") == {
        "recurring": (1, Decimal("100.00")),
        "one_off": (2, Decimal("600.00")),
    }
    assert Organization.objects.count() == 1
    team_only = rows(admin, "won_revenue", **YEAR, team_id=sud.pk)
    assert team_only[0]["amount"] == Decimal("400.00")
    assert rows(admin, "won_revenue", **YEAR, owner_id=rep.pk)[0]["amount"] == Decimal("100.00")


def test_line_based_revenue_by_product(make_deal, rep, admin, usd_rates):
    boxes = Product.objects.create(name="Boîtes", unit_price_minor=1000, currency="EUR")
    setup = Product.objects.create(name="Installation", unit_price_minor=5000, currency="EUR")
    eur = make_deal(rep, "0", status="open")
    deal_line_add(
        actor=FACTORY_ACTOR, deal_id=eur.pk, data={"product_id": boxes.pk, "quantity": "3"}
    )
    deal_line_add(actor=FACTORY_ACTOR, deal_id=eur.pk, data={"product_id": setup.pk})
    usd = make_deal(rep, "0", currency_code="USD")
    deal_line_add(
        actor=FACTORY_ACTOR,
        deal_id=usd.pk,
        data={"product_id": boxes.pk, "quantity": "2", "unit_price": "10"},
    )
    bare = make_deal(rep, "70", status="open")
    for deal, day in ((eur, "2026-01-05"), (usd, "2026-03-05"), (bare, "2026-03-06")):
        deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"status": "won"})
        moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), PARIS)
        set_times(deal, won_time=moment, close_time=moment)
    grouped = {
        r["group"]: (r["deals"], r["amount"])
        for r in rows(admin, "won_revenue", **YEAR, group_by="product")
    }
    # Boxes: 3 x 10.00 EUR + 2 x 10.00 USD x 0.8; installation 50.00; no product: the bare deal.
    assert grouped == {
        boxes.pk: (2, Decimal("46.00")),
        setup.pk: (1, Decimal("50.00")),
        None: (1, Decimal("70.00")),
    }
    with pytest.raises(ValidationError) as error:
        rows(admin, "average_deal_value", **YEAR, group_by="product")
    assert "group_by" in error.value.field_errors


def test_a_rep_sees_only_the_revenue_of_deals_they_may_see(
    make_deal, rep, other_rep, manager, admin
):
    make_deal(rep, "100", status="won", won="2026-01-10", visible_to=Visibility.OWNER)
    make_deal(other_rep, "200", status="won", won="2026-01-10", visible_to=Visibility.OWNER)
    make_deal(other_rep, "400", status="won", won="2026-01-10", visible_to=Visibility.EVERYONE)
    make_deal(manager, "800", status="won", won="2026-01-10", visible_to=Visibility.TEAM)

    def amount(user):
        return rows(user, "won_revenue", **YEAR)[0]["amount"]

    assert amount(admin) == Decimal("1500.00")
    assert amount(rep) == Decimal("1300.00")  # not other_rep's private deal
    assert amount(other_rep) == Decimal("600.00")  # not the Nord team's private deals
    assert amount(manager) == Decimal("1300.00")  # the team's deals, and everyone's
