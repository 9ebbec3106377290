"""Quotas, attainment (quota, won, gap, pipeline, categories, target mismatch), forecasts with
their revisions and managers' adjustments."""

import datetime as dt
from decimal import Decimal

import pytest

from ruche.accounts.models import Company
from ruche.core import currency
from ruche.core.exceptions import PermissionDenied, ValidationError
from ruche.core.history import Actor
from ruche.core.models import ChangeRecord, Lookup
from ruche.forecasting import selectors, services
from ruche.forecasting.models import ForecastAdjustment, ForecastSubmission, Quota
from tests.factories import UserFactory

Q1 = {"period": "quarter", "period_start": "2026-01-01"}


@pytest.fixture
def rep2(nord):
    return UserFactory(email="rep2@ruche.test", name="Rita Nord", team=nord)


def quota_state():
    return (
        list(Quota.objects.values()),
        list(ChangeRecord.objects.values_list("pk", flat=True)),
    )


def test_a_manager_sets_quotas_for_the_team_and_its_members(manager_actor, rep, nord, rep2):
    quota = services.quota_set(actor=manager_actor, user_id=rep.pk, amount="5000.50", **Q1)
    assert (quota.user_id, quota.period_start, quota.amount_minor, quota.currency) == (
        rep.pk,
        dt.date(2026, 1, 1),
        500_050,
        "EUR",
    )
    services.quota_set(actor=manager_actor, team_id=nord.pk, amount="9000", **Q1)
    # Setting it again changes it, with history.
    again = services.quota_set(
        actor=manager_actor, user_id=rep.pk, amount="6000", currency="USD", **Q1
    )
    assert again.pk == quota.pk
    assert (again.amount_minor, again.currency, again.version) == (600_000, "USD", 2)
    changes = ChangeRecord.objects.filter(entity="quota", entity_id=quota.pk, event="updated")
    assert {(c.field, c.old_value, c.new_value, c.actor_user_id) for c in changes} == {
        ("amount_minor", 500_050, 600_000, manager_actor.user.pk),
        ("currency", "EUR", "USD", manager_actor.user.pk),
    }


@pytest.mark.parametrize(
    ("who", "target", "extra", "error"),
    [
        ("rep", "rep2", {}, PermissionDenied),  # a rep never sets a quota
        ("manager", "other_rep", {}, PermissionDenied),  # another team's rep
        ("manager", "manager", {}, PermissionDenied),  # their own quota
        ("manager", "rep", {"period_start": "2026-02-01"}, ValidationError),  # not a quarter
        ("manager", "rep", {"amount": "-1"}, ValidationError),
        ("manager", "rep", {"amount": "1.001"}, ValidationError),
        ("manager", "rep", {"currency": "ZZZ"}, ValidationError),
        ("manager", "rep", {"period": "week"}, ValidationError),
        ("manager", "rep", {"period_start": "1000-01-01"}, ValidationError),
    ],
)
def test_refused_quotas_change_nothing(request, who, target, extra, error, rep2, other_rep):
    actor_user = request.getfixturevalue(who)
    target_user = request.getfixturevalue(target)
    services.quota_set(
        actor=Actor.for_user(request.getfixturevalue("admin")),
        user_id=rep2.pk,
        amount="1",
        **Q1,
    )
    before = quota_state()
    with pytest.raises(error):
        services.quota_set(
            actor=Actor.for_user(actor_user),
            **({"user_id": target_user.pk, "amount": "100"} | Q1 | extra),
        )
    assert quota_state() == before


def test_rep_cannot_set_team_quota_and_only_one_target(rep_actor, manager_actor, nord, rep):
    before = quota_state()
    with pytest.raises(PermissionDenied):
        services.quota_set(actor=rep_actor, team_id=nord.pk, amount="1", **Q1)
    with pytest.raises(ValidationError) as error:
        services.quota_set(actor=manager_actor, team_id=nord.pk, user_id=rep.pk, amount="1", **Q1)
    assert "user_id" in error.value.field_errors
    assert quota_state() == before


def test_fiscal_periods_for_quotas(manager_actor, rep, company):
    Company.objects.filter(pk=1).update(fiscal_year_start_month=4)
    services.quota_set(
        actor=manager_actor, user_id=rep.pk, amount="1", period="quarter", period_start="2026-04-01"
    )
    services.quota_set(
        actor=manager_actor, user_id=rep.pk, amount="1", period="year", period_start="2026-04-01"
    )
    with pytest.raises(ValidationError, match="A quarter starts on 2026-01-01"):
        services.quota_set(
            actor=manager_actor,
            user_id=rep.pk,
            amount="1",
            period="quarter",
            period_start="2026-03-01",
        )


@pytest.fixture
def attainment_set(make_deal, manager_actor, admin_actor, rep, rep2, manager, nord, stages):
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2025-12-01", rate="0.8"
    )
    commit = Lookup.objects.get(kind=Lookup.Kind.FORECAST_CATEGORY, name="Commit")
    services.quota_set(actor=manager_actor, user_id=rep.pk, amount="5000", **Q1)
    # 2000 USD at the rate of 1 January: 1600.00 EUR.
    services.quota_set(actor=manager_actor, user_id=rep2.pk, amount="2000", currency="USD", **Q1)
    services.quota_set(actor=manager_actor, team_id=nord.pk, amount="7000", **Q1)
    make_deal(rep, "1200", status="won", won="2026-02-01")
    make_deal(rep, "300", status="won", won="2026-04-01")  # next quarter
    make_deal(rep2, "1000", currency_code="USD", status="won", won="2026-03-01")  # 800 EUR
    make_deal(
        rep,
        "1000",
        stage=stages[2],
        expected_close_date="2026-03-15",
        forecast_category_id=commit.pk,
    )  # weighted 40 % = 400
    make_deal(rep, "500", stage=stages[0], expected_close_date="2026-03-31")  # 10 % = 50
    make_deal(rep, "999", expected_close_date="2026-04-01")  # next quarter
    return commit


def test_attainment_per_rep_and_team(attainment_set, manager, rep, rep2, nord):
    commit = attainment_set
    report = selectors.quota_attainment(manager, **Q1)
    assert report["period"] == {
        "start": dt.date(2026, 1, 1),
        "end": dt.date(2026, 3, 31),
        "label": "FY2026-Q1",
        "kind": "quarter",
    }
    reps = {r["user_id"]: r for r in report["reps"]}
    assert set(reps) == {manager.pk, rep.pk, rep2.pk}
    assert {
        k: reps[rep.pk][k]
        for k in ("quota", "won", "deals_won", "gap", "pipeline", "open_deals", "weighted_pipeline")
    } == {
        "quota": Decimal("5000.00"),
        "won": Decimal("1200.00"),
        "deals_won": 1,
        "gap": Decimal("3800.00"),
        "pipeline": Decimal("1500.00"),
        "open_deals": 2,
        "weighted_pipeline": Decimal("450.00"),
    }
    assert reps[rep.pk]["forecast_categories"] == [
        {
            "forecast_category_id": commit.pk,
            "value": Decimal("1000.00"),
            "weighted_value": Decimal("400.00"),
            "deals": 1,
        },
        {
            "forecast_category_id": None,
            "value": Decimal("500.00"),
            "weighted_value": Decimal("50.00"),
            "deals": 1,
        },
    ]
    assert reps[rep2.pk]["quota"] == Decimal("1600.00")
    assert reps[rep2.pk]["quota_in_currency"] == {"amount": Decimal("2000.00"), "currency": "USD"}
    assert (reps[rep2.pk]["won"], reps[rep2.pk]["gap"]) == (Decimal("800.00"), Decimal("800.00"))
    assert (reps[manager.pk]["quota"], reps[manager.pk]["gap"]) == (None, None)
    (team,) = report["teams"]
    assert {
        k: team[k]
        for k in (
            "team_id",
            "quota",
            "members_quota",
            "target_mismatch",
            "won",
            "gap",
            "pipeline",
            "weighted_pipeline",
        )
    } == {
        "team_id": nord.pk,
        "quota": Decimal("7000.00"),
        "members_quota": Decimal("6600.00"),
        "target_mismatch": True,
        "won": Decimal("2000.00"),
        "gap": Decimal("5000.00"),
        "pipeline": Decimal("1500.00"),
        "weighted_pipeline": Decimal("450.00"),
    }


def test_target_mismatch_clears_when_the_sums_agree(attainment_set, manager_actor, manager, nord):
    services.quota_set(actor=manager_actor, team_id=nord.pk, amount="6600", **Q1)
    assert selectors.quota_attainment(manager, **Q1)["teams"][0]["target_mismatch"] is False


def test_a_rep_sees_only_their_own_row(attainment_set, rep, rep2):
    report = selectors.quota_attainment(rep, **Q1)
    assert [r["user_id"] for r in report["reps"]] == [rep.pk]
    assert len(report["teams"]) == 1
    assert [q.user_id for q in selectors.quota_list(rep, filters={})] == [rep.pk, None]


def test_forecast_revisions_are_kept_and_adjustments_hidden_from_reps(
    rep, rep_actor, manager, manager_actor, rep2, admin
):
    first = services.forecast_submit(actor=rep_actor, commit="1000", best_case="1500", **Q1)
    second = services.forecast_submit(actor=rep_actor, commit="1200", note="Gros client", **Q1)
    assert (first.revision, second.revision) == (1, 2)
    with pytest.raises(RuntimeError):
        ForecastSubmission.objects.filter(pk=first.pk).update(commit_minor=0)
    services.forecast_submit(actor=Actor.for_user(rep2), commit="300", currency="EUR", **Q1)
    services.forecast_adjust(
        actor=manager_actor, user_id=rep.pk, amount="900", note="Prudent", **Q1
    )

    rollup = selectors.forecast_rollup(manager, **Q1)
    users = {u["user_id"]: u for u in rollup["users"]}
    assert (users[rep.pk]["commit"], users[rep.pk]["revisions"], users[rep.pk]["final"]) == (
        Decimal("1200.00"),
        2,
        Decimal("900.00"),
    )
    assert users[rep.pk]["adjustment"]["note"] == "Prudent"
    assert users[rep2.pk]["final"] == Decimal("300.00")
    assert rollup["totals"] == {
        "commit": Decimal("1500.00"),
        "best_case": Decimal("1500.00"),  # no best case given: the commit counts
        "adjusted": Decimal("1200.00"),
    }

    mine = selectors.forecast_rollup(rep, **Q1)
    assert [u["user_id"] for u in mine["users"]] == [rep.pk]
    assert "adjustment" not in mine["users"][0] and "adjusted" not in mine["totals"]
    history = selectors.forecast_revisions(rep, user_id=rep.pk, **Q1)
    assert [r.commit_minor for r in history["revisions"]] == [100_000, 120_000]
    assert "adjustments" not in history
    assert len(selectors.forecast_revisions(admin, user_id=rep.pk, **Q1)["adjustments"]) == 1


def test_refused_adjustments_change_nothing(rep, rep_actor, rep2, other_rep, manager_actor):
    before = list(ForecastAdjustment.objects.values()), ChangeRecord.objects.count()
    with pytest.raises(PermissionDenied):
        services.forecast_adjust(actor=rep_actor, user_id=rep2.pk, amount="1", **Q1)
    with pytest.raises(PermissionDenied):
        services.forecast_adjust(actor=manager_actor, user_id=other_rep.pk, amount="1", **Q1)
    with pytest.raises(ValidationError):
        services.forecast_adjust(
            actor=manager_actor,
            user_id=rep.pk,
            amount="1",
            period="quarter",
            period_start="2026-02-01",
        )
    with pytest.raises(ValidationError):
        services.forecast_submit(actor=rep_actor, commit="10", best_case="5", **Q1)
    assert (list(ForecastAdjustment.objects.values()), ChangeRecord.objects.count()) == before
    assert ForecastSubmission.objects.count() == 0
