"""Time of the dashboard and report queries (issue #4: under 200 ms p95 with 1,000,000 deals on
PostgreSQL and 200,000 on SQLite), called in-process on the loaded database.

Each case calls the code the dashboard, the API and the reports share, as an admin (every
deal counts) unless it says "as a rep": `metric(user, indicator, query)` for the typical
periods and groupings, the funnel math, the quota attainment and forecast roll-up, the
revenue projection as the dashboard and the API read it (today's stored run) and as the
background job computes it, and each kind of saved report (ruche.reports.figures.report_data)
over the last 12 months with its default grouping, read by the admin and by a rep.

    python -m bench.metrics [--samples 30] [--only won_revenue] [--out figures.json]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bench.inprocess import Case, main

SAMPLES = 30


def build_cases() -> list[Case]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from ruche.forecasting.funnel import funnel
    from ruche.forecasting.metrics import MetricQuery, metric
    from ruche.forecasting.periods import add_months, fiscal_start_month, period_of
    from ruche.forecasting.projection import projection
    from ruche.forecasting.projection_runs import projection_for
    from ruche.forecasting.selectors import forecast_rollup, quota_attainment
    from ruche.pipelines.selectors import pipeline_list
    from ruche.web.views.dashboard import projection_panel

    User = get_user_model()
    active = User.objects.filter(is_active=True).order_by("pk")
    admin = active.filter(role=User.Role.ADMIN).first()
    rep = active.filter(role=User.Role.REP, team__isnull=False).first()
    first_pipeline = pipeline_list().order_by("pk").first()
    today = timezone.localdate()
    fiscal = fiscal_start_month()
    month, quarter, year = (period_of(kind, today, fiscal) for kind in ("month", "quarter", "year"))
    this_month = MetricQuery(date_from=month.start, date_to=month.end)
    this_quarter = MetricQuery(date_from=quarter.start, date_to=quarter.end)
    this_year = MetricQuery(date_from=year.start, date_to=year.end)
    last_24_months = MetricQuery(
        date_from=add_months(month.start, -23), date_to=month.end, interval="month"
    )
    last_12_months = MetricQuery(
        date_from=add_months(month.start, -12), date_to=month.start - dt.timedelta(days=1)
    )
    funnel_query = MetricQuery(pipeline_id=first_pipeline.pk, group_by="stage")

    def indicator(name: str, user, query: MetricQuery):
        return lambda i: metric(user, name, query)

    def funnel_math(user):
        window = replace(last_12_months, pipeline_id=first_pipeline.pk)
        return lambda i: funnel(user, window, target_deals=10)

    metrics = [
        ("won_revenue, this month (dashboard tile)", "won_revenue", this_month),
        ("expected_revenue, this month (dashboard tile)", "expected_revenue", this_month),
        ("conversion_rate, this month (dashboard tile)", "conversion_rate", this_month),
        ("average_deal_value, this month (dashboard tile)", "average_deal_value", this_month),
        ("pipeline by stage, one pipeline (dashboard funnel)", "pipeline", funnel_query),
        ("won_revenue, 24 months by month (dashboard chart)", "won_revenue", last_24_months),
        (
            "won_revenue, this month by owner (leaderboard)",
            "won_revenue",
            replace(this_month, group_by="owner"),
        ),
        ("won_revenue, this quarter", "won_revenue", this_quarter),
        ("won_revenue, this year", "won_revenue", this_year),
        (
            "won_revenue, this year by quarter and owner (sales grid)",
            "won_revenue",
            replace(this_year, interval="quarter", group_by="owner"),
        ),
        ("won_revenue, this year by team", "won_revenue", replace(this_year, group_by="team")),
        (
            "won_revenue, this year by product",
            "won_revenue",
            replace(this_year, group_by="product"),
        ),
        (
            "won_revenue, this year by industry",
            "won_revenue",
            replace(this_year, group_by="industry"),
        ),
        (
            "won_revenue, 24 months by month and pipeline",
            "won_revenue",
            replace(last_24_months, group_by="pipeline"),
        ),
        (
            "pipeline, this quarter by month",
            "pipeline",
            replace(this_quarter, interval="month"),
        ),
        (
            "expected_revenue, this quarter by owner",
            "expected_revenue",
            replace(this_quarter, group_by="owner"),
        ),
        ("forecast_categories, this quarter", "forecast_categories", this_quarter),
        (
            "conversion_rate, this year by month",
            "conversion_rate",
            replace(this_year, interval="month"),
        ),
        ("cohort_conversion, this year", "cohort_conversion", this_year),
        ("sales_cycle, this year", "sales_cycle", this_year),
        ("sales_velocity, this quarter", "sales_velocity", this_quarter),
        ("time_in_stage, last 12 months", "time_in_stage", last_12_months),
        ("stage_conversion, last 12 months", "stage_conversion", last_12_months),
    ]
    mrr_months = replace(last_12_months, interval="month")
    metrics += [
        ("mrr, last 12 months by month", "mrr", mrr_months),
        ("mrr, this year by quarter", "mrr", replace(this_year, interval="quarter")),
    ]
    cases = [Case(label, indicator(name, admin, query)) for label, name, query in metrics]
    cases += [
        Case(
            "funnel math, last 12 months, target 10 deals",
            funnel_math(admin),
        ),
        Case(
            "quota attainment, this quarter",
            lambda i: quota_attainment(admin, period="quarter", period_start=quarter.start),
        ),
        Case(
            "forecast roll-up, this quarter",
            lambda i: forecast_rollup(admin, period="quarter", period_start=quarter.start),
        ),
        stored_projection("revenue projection, as the dashboard reads it", projection_panel, admin),
        stored_projection("revenue projection, as the API reads it", projection_for, admin),
        Case(
            "revenue projection, computed (the background job's work, not a page's)",
            lambda i: projection(admin),
        ),
        Case(
            "won_revenue, this month, as a rep",
            indicator("won_revenue", rep, this_month),
        ),
        Case(
            "pipeline by stage, one pipeline, as a rep",
            indicator("pipeline", rep, funnel_query),
        ),
        Case(
            "stage_conversion, last 12 months, as a rep",
            indicator("stage_conversion", rep, last_12_months),
        ),
        Case(
            "funnel math, last 12 months, target 10 deals, as a rep",
            funnel_math(rep),
        ),
    ]
    cases += [
        Case("mrr, last 12 months by month, as a rep", indicator("mrr", rep, mrr_months)),
    ]
    return cases + report_cases(admin, today) + report_cases(rep, today, as_rep=True)


def stored_projection(name: str, read, admin) -> Case:
    """`read(admin)` of today's stored projection run, as the dashboard panel and
    GET /forecasts/projection do. Before timing, a run is stored with the job's own code when
    there is none from today, as the job does on a live server."""
    from django.utils import timezone

    from ruche.forecasting.models import ProjectionRun
    from ruche.forecasting.periods import local_tz
    from ruche.forecasting.projection_runs import compute_run, latest_run

    def store_todays_run():
        run = latest_run()
        if run is None or run.computed_at.astimezone(local_tz()).date() != timezone.localdate():
            compute_run(ProjectionRun.objects.create(requested_at=timezone.now()).pk)

    return Case(name, lambda i: read(admin), prepare=store_todays_run)


def report_cases(user, today: dt.date, *, as_rep: bool = False) -> list[Case]:
    """Each report kind over the last 12 months, grouped by its default grouping, read by
    `user` (the admin, or a rep: the visibility rule then filters every row)."""
    from ruche.reports.figures import GROUPINGS, report_data
    from ruche.reports.models import Report

    cases = []
    for kind, groupings in GROUPINGS.items():
        report = Report(
            owner=user,
            name="bench",
            kind=kind,
            grouping=groupings[0],
            period=Report.Period.LAST_12_MONTHS,
        )
        cases.append(
            Case(
                f"report {kind} by {groupings[0]}, last 12 months{', as a rep' if as_rep else ''}",
                lambda i, report=report: report_data(user, report, today),
            )
        )
    return cases


if __name__ == "__main__":
    main(__doc__.split("\n")[0], build_cases, SAMPLES)
