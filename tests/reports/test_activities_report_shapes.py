"""The activities report's exact figures on hand-built data, for each grouping, filter and
viewer: activities added, and completed, per month, quarter, year, owner, team and type, at the
edges of the periods and of the span, for an admin and for a rep (who sees an activity through
its deal, else its person, else its organisation, else its owner). Each figure is also checked
against the plain GROUP BY, whichever way the report computed it."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ruche.accounts.models import Company
from ruche.core.models import Visibility
from ruche.pipelines.models import Activity
from ruche.reports import figures
from ruche.reports.figures import report_data
from ruche.reports.models import Report
from tests.factories import OrganizationFactory, PersonFactory, UserFactory
from tests.forecasting.conftest import PARIS
from tests.reports.conftest import TODAY

SPAN = {"date_from": dt.date(2026, 2, 15), "date_to": dt.date(2026, 6, 30)}  # from mid-month
MONTHS = [dt.date(2026, month, 1) for month in (2, 3, 4, 5, 6)]


def local(moment: str) -> dt.datetime:
    """A time of day in the company's time zone: local("2026-02-28 23:59:59")."""
    return dt.datetime.fromisoformat(moment).replace(tzinfo=PARIS)


@pytest.fixture
def people(rep, other_rep, manager, admin):
    return {
        "rep": rep,
        "other": other_rep,
        "manager": manager,
        "admin": admin,
        "loner": UserFactory(email="loner@ruche.test", name="Lou Seul", team=None),
    }


@pytest.fixture
def activities(people, make_deal):
    """Eleven live activities (one added before the span) and a deleted one; `rep` sees the seven
    marked *."""
    rep, other, manager, admin, loner = (
        people[k] for k in ("rep", "other", "manager", "admin", "loner")
    )
    hidden_deal = make_deal(other, "10", visible_to=Visibility.OWNER)
    public_deal = make_deal(other, "20", visible_to=Visibility.EVERYONE)
    team_deal = make_deal(manager, "30", visible_to=Visibility.TEAM)
    public_person = PersonFactory(owner=loner, visible_to=Visibility.EVERYONE)
    hidden_person = PersonFactory(owner=other, visible_to=Visibility.OWNER)
    public_org = OrganizationFactory(owner=other, visible_to=Visibility.EVERYONE)
    hidden_org = OrganizationFactory(owner=other, visible_to=Visibility.OWNER)

    def make(owner, kind, added, done=None, *, marked=None, deleted=False, **links):
        return Activity.objects.create(
            subject=kind,
            type=kind,
            owner=owner,
            add_time=local(added),
            done=done is not None,
            marked_as_done_time=local(done or marked) if (done or marked) else None,
            is_deleted=deleted,
            **links,
        )

    # * added the minute before the span: only its completion, at the span's first instant, counts
    make(rep, "call", "2026-02-14 23:59", "2026-02-15 00:00")
    make(rep, "call", "2026-02-15 00:00")  # * added at the span's first instant
    make(rep, "meeting", "2026-02-28 23:59:59", "2026-03-01 00:00")  # * at a month's edges
    # Across the change to summer time (29 March): still March, then April, local time.
    make(other, "task", "2026-03-31 23:00", "2026-04-01 00:30", deal=hidden_deal)
    make(other, "email", "2026-04-10 10:00", "2026-04-11 10:00", deleted=True)  # never counted
    make(loner, "deadline", "2026-05-05 09:00", "2026-06-30 23:59", person=public_person)  # *
    make(rep, "call", "2026-06-30 23:59:59", "2026-07-01 00:00")  # * done after the span
    # A time marked but not done: added only.
    make(other, "call", "2026-06-15 09:00", marked="2026-06-16 09:00", org=hidden_org)
    make(admin, "task", "2026-04-20 09:00", "2026-05-02 09:00")
    # * The deal decides, before the person it hides.
    make(other, "meeting", "2026-03-10 09", "2026-03-11 09", deal=public_deal, person=hidden_person)
    # The person decides, before the organisation it hides.
    make(other, "email", "2026-05-20 09:00", person=hidden_person, org=public_org)
    make(manager, "call", "2026-06-01 00:00", deal=team_deal)  # * the rep's team's deal
    return people


def read(viewer, grouping, **filters):
    """{key: (added, completed)} of the report, after checking it equals the GROUP BY's."""
    report = Report(
        owner=viewer,
        name="Activités",
        kind=Report.Kind.ACTIVITIES,
        grouping=grouping,
        period=Report.Period.CUSTOM,
        **(SPAN | filters),
    )
    rows = _rows(viewer, report)
    with pytest.MonkeyPatch.context() as patch:  # the GROUP BY, whatever the span and viewer
        patch.setattr(figures, "MAX_RANGE_COUNTS", 0)
        assert rows == _rows(viewer, report)
    return {key: (added, completed) for key, _label, added, completed in rows}


def _rows(viewer, report) -> list[tuple]:
    rows = report_data(viewer, report, TODAY).rows
    return [(row["key"], row["label"], row["added"], row["completed"]) for row in rows]


def by_month(*pairs):
    return dict(zip(MONTHS, pairs, strict=True))


def test_by_month_an_admin_counts_every_live_activity_at_the_edges(activities):
    assert read(activities["admin"], "month") == by_month((2, 1), (2, 2), (1, 1), (2, 1), (3, 1))


def test_by_month_a_rep_counts_what_the_deal_person_org_or_owner_shows(activities):
    assert read(activities["rep"], "month") == by_month((2, 1), (1, 2), (0, 0), (1, 0), (2, 1))


def test_by_month_filtered_by_owner_team_or_pipeline(activities, pipeline):
    admin = activities["admin"]
    owner = read(admin, "month", filter_owner=activities["other"])
    assert owner == by_month((0, 0), (2, 1), (0, 1), (1, 0), (1, 0))
    team = read(admin, "month", filter_team=activities["rep"].team)
    assert team == by_month((2, 1), (0, 1), (0, 0), (0, 0), (2, 0))
    linked_to_deals = read(admin, "month", filter_pipeline=pipeline)
    assert linked_to_deals == by_month((0, 0), (2, 1), (0, 1), (0, 0), (1, 0))
    assert read(activities["rep"], "month", filter_pipeline=pipeline) == by_month(
        (0, 0), (1, 1), (0, 0), (0, 0), (1, 0)
    )


def test_by_fiscal_quarter_and_year(activities):
    Company.objects.filter(pk=1).update(fiscal_year_start_month=3)
    admin, rep = activities["admin"], activities["rep"]
    december, march, june = dt.date(2025, 12, 1), dt.date(2026, 3, 1), dt.date(2026, 6, 1)
    assert read(admin, "quarter") == {december: (2, 1), march: (5, 4), june: (3, 1)}
    assert read(rep, "quarter") == {december: (2, 1), march: (2, 2), june: (2, 1)}
    fy2026, fy2027 = dt.date(2025, 3, 1), dt.date(2026, 3, 1)
    assert read(admin, "year") == {fy2026: (2, 1), fy2027: (8, 5)}
    assert read(rep, "year") == {fy2026: (2, 1), fy2027: (4, 3)}


def test_by_owner(activities):
    rep, other, manager, admin, loner = (
        activities[k].pk for k in ("rep", "other", "manager", "admin", "loner")
    )
    assert read(activities["admin"], "owner") == {
        rep: (3, 2),
        other: (4, 2),
        loner: (1, 1),
        admin: (1, 1),
        manager: (1, 0),
    }
    assert read(activities["rep"], "owner") == {
        rep: (3, 2),
        other: (1, 1),
        loner: (1, 1),
        manager: (1, 0),
    }


def test_by_team_owners_without_a_team_last(activities):
    nord, sud = activities["rep"].team_id, activities["other"].team_id
    admin = read(activities["admin"], "team")
    assert admin == {nord: (4, 2), sud: (4, 2), None: (2, 2)}
    assert list(admin)[-1] is None
    assert read(activities["rep"], "team") == {nord: (4, 2), sud: (1, 1), None: (1, 1)}
    assert read(activities["admin"], "team", filter_team=activities["other"].team) == {sud: (4, 2)}


def test_by_type(activities):
    assert read(activities["admin"], "type") == {
        "call": (4, 1),
        "meeting": (2, 2),
        "task": (2, 2),
        "email": (1, 0),
        "deadline": (1, 1),
    }
    assert read(activities["rep"], "type") == {
        "call": (3, 1),
        "meeting": (2, 2),
        "deadline": (1, 1),
    }


@pytest.mark.parametrize("reader", ["admin", "rep"])
def test_months_are_range_counts_and_the_rest_two_group_bys(activities, reader):
    user = activities[reader]
    report = Report(
        owner=user,
        name="Activités",
        kind=Report.Kind.ACTIVITIES,
        grouping="month",
        period=Report.Period.LAST_12_MONTHS,
    )
    with CaptureQueriesContext(connection) as queries:
        report_data(user, report, TODAY)
    reads = [q["sql"] for q in queries.captured_queries if "pipelines_activity" in q["sql"]]
    # The activities of deals visible to everyone: added and completed, 12 months each, in
    # one statement; the others, through the visibility rule, one GROUP BY each.
    assert len(reads) == 3
    assert reads[0].count("UNION ALL") == 2 * 12 - 1
