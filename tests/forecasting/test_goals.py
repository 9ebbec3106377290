"""Goals: deals added, progressed or won (count or value), activities added or completed, for a
user, a team or the company, with progress per period."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.core.exceptions import PermissionDenied, ValidationError
from ruche.core.history import Actor
from ruche.core.models import ChangeRecord
from ruche.forecasting import selectors, services
from ruche.forecasting.models import Goal
from ruche.pipelines.models import Activity, StageEntry
from ruche.pipelines.services import activity_complete, activity_create, deal_move_to_stage
from tests.factories import FACTORY_ACTOR
from tests.forecasting.conftest import at

Q1 = {"start_date": "2026-01-01", "end_date": "2026-03-31"}


def goal(actor, **data):
    return services.goal_create(actor=actor, data={"title": "Objectif"} | Q1 | data)


def progress(user, the_goal):
    report = selectors.goal_progress(user, the_goal.pk)
    return [
        (p["label"], p["actual"], p["target"], p["progress"], p["reached"])
        for p in report["periods"]
    ], report["total"]


def test_deals_won_by_count_per_month(make_deal, rep, rep_actor):
    make_deal(rep, "100", status="won", won="2026-01-05")
    make_deal(rep, "100", status="won", won="2026-01-25")
    make_deal(rep, "100", status="won", won="2026-02-14")
    make_deal(rep, "100", status="won", won="2026-04-01")  # after the goal
    won = goal(
        rep_actor, type="deals_won", assignee="user", user_id=rep.pk, interval="month", target=2
    )
    periods, total = progress(rep, won)
    assert periods == [
        ("2026-01", 2, 2, Decimal("100.00"), True),
        ("2026-02", 1, 2, Decimal("50.00"), False),
        ("2026-03", 0, 2, Decimal("0.00"), False),
    ]
    assert total == {"actual": 3, "target": 6, "progress": Decimal("50.00")}


def test_team_deals_won_by_value_per_quarter(
    make_deal, rep, manager, other_rep, manager_actor, nord, usd_rates
):
    make_deal(rep, "600", status="won", won="2026-01-05")
    make_deal(manager, "500", currency_code="USD", status="won", won="2026-03-05")  # 400 EUR
    make_deal(other_rep, "999", status="won", won="2026-02-05")  # another team
    value = goal(
        manager_actor,
        type="deals_won",
        measure="value",
        assignee="team",
        team_id=nord.pk,
        interval="quarter",
        target="1000",
    )
    report = selectors.goal_progress(manager, value.pk)
    assert report["currency"] == "EUR"
    assert [(p["label"], p["actual"], p["target"], p["progress"]) for p in report["periods"]] == [
        ("FY2026-Q1", Decimal("1000.00"), Decimal("1000.00"), Decimal("100.00"))
    ]


def test_deals_added_per_week_and_partial_periods(make_deal, rep, admin_actor, admin):
    make_deal(rep, "1", created="2026-01-05")  # Monday of week 2
    make_deal(rep, "1", created="2026-01-11")  # Sunday, same week
    make_deal(rep, "1", created="2026-01-12")
    added = goal(
        admin_actor,
        type="deals_added",
        assignee="company",
        interval="week",
        target=2,
        start_date="2026-01-07",
        end_date="2026-01-13",
    )
    periods = selectors.goal_progress(admin, added.pk)["periods"]
    # The goal starts on a Wednesday: its first week is cut to 7-11 January.
    assert [(p["label"], p["start"], p["end"], p["actual"]) for p in periods] == [
        ("2026-W02", dt.date(2026, 1, 7), dt.date(2026, 1, 11), 1),
        ("2026-W03", dt.date(2026, 1, 12), dt.date(2026, 1, 13), 1),
    ]


def test_deals_progressed_to_a_stage(make_deal, rep, rep_actor, stages):
    deals = [make_deal(rep, "100"), make_deal(rep, "250"), make_deal(rep, "1")]
    for deal, day in zip(deals, ("2026-01-10", "2026-02-10", "2026-05-10"), strict=True):
        deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=stages[2].pk)
        StageEntry.objects.filter(deal=deal, stage=stages[2]).update(entered_at=at(day))
    by_count = goal(
        rep_actor,
        type="deals_progressed",
        assignee="user",
        user_id=rep.pk,
        stage_id=stages[2].pk,
        interval="quarter",
        target=4,
    )
    assert progress(rep, by_count)[1] == {"actual": 2, "target": 4, "progress": Decimal("50.00")}
    by_value = goal(
        rep_actor,
        type="deals_progressed",
        measure="value",
        assignee="user",
        user_id=rep.pk,
        stage_id=stages[2].pk,
        interval="quarter",
        target="500",
    )
    assert by_value.pipeline_id == stages[2].pipeline_id
    assert progress(rep, by_value)[1]["actual"] == Decimal("350.00")


def test_activities_added_and_completed(rep, rep_actor, other_rep):
    calls = [
        activity_create(actor=rep_actor, data={"subject": f"Appel {n}", "type": "call"})
        for n in range(3)
    ]
    activity_create(actor=rep_actor, data={"subject": "Tâche", "type": "task"})
    activity_create(actor=Actor.for_user(other_rep), data={"subject": "Autre", "type": "call"})
    Activity.objects.update(add_time=at("2026-01-15"))
    for call in calls[:2]:
        activity_complete(actor=rep_actor, activity_id=call.pk)
    Activity.objects.filter(pk=calls[0].pk).update(marked_as_done_time=at("2026-01-20"))
    Activity.objects.filter(pk=calls[1].pk).update(marked_as_done_time=at("2026-04-20"))
    added = goal(
        rep_actor,
        type="activities_added",
        assignee="user",
        user_id=rep.pk,
        activity_type="call",
        interval="month",
        target=3,
    )
    assert progress(rep, added)[0][0] == ("2026-01", 3, 3, Decimal("100.00"), True)
    done = goal(
        rep_actor,
        type="activities_completed",
        assignee="user",
        user_id=rep.pk,
        interval="year",
        target=10,
    )
    assert progress(rep, done)[1]["actual"] == 1


@pytest.mark.parametrize(
    ("who", "data", "error"),
    [
        ("rep", {"assignee": "user", "user_id": "other_rep"}, PermissionDenied),
        ("rep", {"assignee": "company"}, PermissionDenied),
        ("rep", {"assignee": "team", "team_id": "nord"}, PermissionDenied),
        ("manager", {"assignee": "team", "team_id": "sud"}, PermissionDenied),
        ("manager", {"assignee": "user", "user_id": "other_rep"}, PermissionDenied),
        ("rep", {"type": "deals_progressed"}, ValidationError),  # no stage
        ("rep", {"type": "activities_added", "measure": "value"}, ValidationError),
        ("rep", {"target": 0}, ValidationError),
        ("rep", {"target": Decimal("1.5")}, ValidationError),
        ("rep", {"interval": "day"}, ValidationError),
        ("rep", {"end_date": "2025-12-31"}, ValidationError),
        ("rep", {"activity_type": "call"}, ValidationError),  # a deals goal
    ],
)
def test_refused_goals_change_nothing(request, who, data, error, rep, other_rep, nord, sud):
    for key in ("user_id", "team_id"):
        if key in data:
            data = data | {key: request.getfixturevalue(data[key]).pk}
    actor = Actor.for_user(request.getfixturevalue(who))
    before = ChangeRecord.objects.count()
    with pytest.raises(error):
        goal(
            actor,
            **(
                {
                    "type": "deals_won",
                    "assignee": "user",
                    "user_id": rep.pk,
                    "interval": "month",
                    "target": 1,
                }
                | data
            ),
        )
    assert not Goal.objects.exists()
    assert ChangeRecord.objects.count() == before


def test_goal_visibility_update_and_delete(
    rep, rep_actor, other_rep, manager, manager_actor, admin_actor
):
    own = goal(
        rep_actor, type="deals_won", assignee="user", user_id=rep.pk, interval="month", target=1
    )
    company = goal(admin_actor, type="deals_won", assignee="company", interval="month", target=10)
    assert {g.pk for g in selectors.goal_list(other_rep, filters={})} == {company.pk}
    assert {g.pk for g in selectors.goal_list(manager, filters={})} == {own.pk, company.pk}
    updated = services.goal_update(actor=manager_actor, goal_id=own.pk, data={"target": 3})
    assert (updated.target, updated.version) == (3, 2)
    with pytest.raises(PermissionDenied):
        services.goal_update(actor=rep_actor, goal_id=company.pk, data={"target": 1})
    services.goal_delete(actor=rep_actor, goal_id=own.pk)
    assert {g.pk for g in selectors.goal_list(rep, filters={})} == {company.pk}


def test_goal_routes(api_as, rep, other_rep, make_deal):
    make_deal(rep, "100", status="won", won="2026-01-05")
    created = api_as(rep).post(
        "/goals",
        {
            "title": "Ventes",
            "type": "deals_won",
            "assignee": "user",
            "user_id": rep.pk,
            "interval": "month",
            "target": 2,
            **Q1,
        },
    )
    assert created.status_code == 200, created.content
    goal_id = created.json()["data"]["id"]
    assert created.json()["data"]["target"] == 2
    report = api_as(rep).get(f"/goals/{goal_id}/progress").json()["data"]
    assert report["periods"][0] == {
        "start": "2026-01-01",
        "end": "2026-01-31",
        "label": "2026-01",
        "actual": 1,
        "target": 2,
        "progress": 50,
        "reached": False,
    }
    assert api_as(other_rep).get(f"/goals/{goal_id}/progress").status_code == 404
    refused = api_as(rep).post(
        "/goals",
        {
            "title": "Tout",
            "type": "deals_won",
            "assignee": "company",
            "interval": "month",
            "target": 2,
            **Q1,
        },
    )
    assert refused.status_code == 403
    bad = api_as(rep).post(
        "/goals",
        {
            "title": "x",
            "type": "calls",
            "assignee": "user",
            "user_id": rep.pk,
            "interval": "month",
            "target": 2,
            **Q1,
        },
    )
    assert bad.status_code == 422 and "type" in bad.json()["errors"]
    patched = api_as(rep).patch(f"/goals/{goal_id}", {"target": 5})
    assert patched.json()["data"]["target"] == 5
    assert api_as(rep).delete(f"/goals/{goal_id}").json()["data"] == {"id": goal_id}
    assert api_as(rep).get(f"/goals/{goal_id}").status_code == 404
