"""/metrics/{indicator}, /quotas and /forecasts: thin routes over ruche.forecasting's selectors
and services. Amounts are decimal numbers in major units; errors are JSON 4xx naming the field."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from ruche.api.auth import actor_of
from ruche.api.pagination import PageParams, page_response, paginate
from ruche.api.schemas import DeletedId, Id, envelope, ok
from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.money import to_major
from ruche.forecasting import selectors, services
from ruche.forecasting.funnel import funnel
from ruche.forecasting.metrics import INDICATORS, MetricQuery, metric
from ruche.forecasting.models import ForecastAdjustment, ForecastSubmission, Goal, Quota
from ruche.forecasting.projection_runs import latest_run, projection_for
from ruche.forecasting.scoring import deal_scores, latest_model

router = Router(tags=["Revenue, forecasts and quotas"])

Period = Literal["month", "quarter", "year"]
Amount = Field(..., ge=0)


def _refuse_unknown(request: HttpRequest, schema: type[Schema]) -> None:
    """Query parameters the route does not know are refused, not silently ignored."""
    known = {"api_token"}
    for name, field in schema.model_fields.items():
        known.add(field.alias or name)
    unknown = sorted(set(request.GET) - known)
    if unknown:
        raise ValidationError(
            {name: f"Unknown parameter; known: {', '.join(sorted(known))}." for name in unknown}
        )


# Metrics ---------------------------------------------------------------------------------------


class MetricParams(Schema):
    date_from: dt.date | None = Field(
        None, alias="from", description="First day (inclusive), company time zone"
    )
    date_to: dt.date | None = Field(None, alias="to", description="Last day (inclusive)")
    interval: str | None = Field(
        None, max_length=16, description="day, month, quarter or year (fiscal)"
    )
    group_by: str | None = Field(
        None,
        max_length=32,
        description="owner, team, pipeline, stage, source, industry, revenue_type, "
        "forecast_category, product",
    )
    pipeline_id: Id | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    stage_id: Id | None = None
    currency: str | None = Field(
        None,
        max_length=3,
        description="Only deals in this currency, reported in it; default: every deal, "
        "converted to the company currency",
    )


class MetricResponse(Schema):
    success: bool = True
    data: list[dict[str, Any]]
    additional_data: dict[str, Any]


def metric_query(params: MetricParams) -> MetricQuery:
    return MetricQuery(
        date_from=params.date_from,
        date_to=params.date_to,
        interval=params.interval,
        group_by=params.group_by,
        pipeline_id=params.pipeline_id,
        owner_id=params.owner_id,
        team_id=params.team_id,
        stage_id=params.stage_id,
        currency=params.currency,
    )


@router.get(
    "/metrics/{indicator}",
    response=MetricResponse,
    operation_id="getMetric",
    summary="One indicator of docs/metrics.md, by period and group",
    description="Indicators: " + ", ".join(INDICATORS),
)
def get_metric(request, indicator: str, params: Query[MetricParams]):
    _refuse_unknown(request, MetricParams)
    query = metric_query(params)
    result = metric(request.auth, indicator, query)
    return {
        "success": True,
        "data": result.rows,
        "additional_data": {
            "indicator": indicator,
            "currency": result.currency,
            "from": query.date_from,
            "to": query.date_to,
            "interval": query.interval,
            "group_by": query.group_by,
        },
    }


# Quotas ----------------------------------------------------------------------------------------


class QuotaOut(Schema):
    id: int
    user_id: int | None
    team_id: int | None
    period: str
    period_start: dt.date
    amount: Decimal
    currency: str
    add_time: dt.datetime
    update_time: dt.datetime
    version: int

    @staticmethod
    def resolve_amount(quota: Quota) -> Decimal:
        return to_major(quota.amount_minor, quota.currency)


class QuotaIn(Schema):
    user_id: Id | None = None
    team_id: Id | None = None
    period: Period
    period_start: dt.date
    amount: Decimal = Amount
    currency: str | None = Field(None, max_length=3)


class QuotaFilters(PageParams):
    period: Period | None = None
    period_start: dt.date | None = None
    user_id: Id | None = None
    team_id: Id | None = None


class PeriodParams(Schema):
    period: Period
    period_start: dt.date
    team_id: Id | None = None


@router.get(
    "/quotas",
    response=envelope(QuotaOut, many=True),
    operation_id="getQuotas",
    summary="Quotas the user may see",
)
def list_quotas(request, filters: Query[QuotaFilters]):
    _refuse_unknown(request, QuotaFilters)
    quotas = selectors.quota_list(request.auth, filters=filters.model_dump())
    return page_response(*paginate(quotas, limit=filters.limit, cursor=filters.cursor))


@router.post(
    "/quotas",
    response=envelope(QuotaOut),
    operation_id="setQuota",
    summary="Set the quota of a rep or a team for a period (managers and admins)",
)
def set_quota(request, payload: QuotaIn):
    quota = services.quota_set(actor=actor_of(request), **payload.model_dump())
    return ok(selectors.access_quota_by_id(request.auth, quota.pk))


@router.delete(
    "/quotas/{int:id}",
    response=envelope(DeletedId),
    operation_id="deleteQuota",
    summary="Remove a quota",
)
def delete_quota(request, id: Id):
    selectors.access_quota_by_id(request.auth, id)
    services.quota_delete(actor=actor_of(request), quota_id=id)
    return ok({"id": id})


@router.get(
    "/quotas/attainment",
    response=envelope(dict[str, Any]),
    operation_id="getQuotaAttainment",
    summary="Quota, won, gap, pipeline, weighted pipeline and forecast categories",
)
def quota_attainment(request, params: Query[PeriodParams]):
    _refuse_unknown(request, PeriodParams)
    return ok(selectors.quota_attainment(request.auth, **params.model_dump()))


# Forecasts -------------------------------------------------------------------------------------


class ForecastIn(Schema):
    period: Period
    period_start: dt.date
    commit: Decimal = Amount
    best_case: Decimal | None = Field(None, ge=0)
    currency: str | None = Field(None, max_length=3)
    note: str | None = Field(None, max_length=5000)


class ForecastOut(Schema):
    id: int
    user_id: int
    period: str
    period_start: dt.date
    revision: int
    commit: Decimal
    best_case: Decimal | None
    currency: str
    note: str
    submitted_at: dt.datetime

    @staticmethod
    def resolve_commit(row: ForecastSubmission) -> Decimal:
        return to_major(row.commit_minor, row.currency)

    @staticmethod
    def resolve_best_case(row: ForecastSubmission) -> Decimal | None:
        if row.best_case_minor is None:
            return None
        return to_major(row.best_case_minor, row.currency)


class AdjustmentIn(Schema):
    user_id: Id
    period: Period
    period_start: dt.date
    amount: Decimal = Amount
    currency: str | None = Field(None, max_length=3)
    note: str | None = Field(None, max_length=5000)


class AdjustmentOut(Schema):
    id: int
    user_id: int
    period: str
    period_start: dt.date
    revision: int
    amount: Decimal
    currency: str
    note: str
    adjusted_by_id: int | None
    adjusted_at: dt.datetime

    @staticmethod
    def resolve_amount(row: ForecastAdjustment) -> Decimal:
        return to_major(row.amount_minor, row.currency)


class RevisionParams(Schema):
    user_id: Id
    period: Period
    period_start: dt.date


class RevisionsOut(Schema):
    user_id: int
    period: dict[str, Any]
    revisions: list[ForecastOut]
    adjustments: list[AdjustmentOut] | None = None


@router.get(
    "/forecasts",
    response=envelope(dict[str, Any]),
    operation_id="getForecasts",
    summary="The forecast roll-up for a period",
)
def forecast_rollup(request, params: Query[PeriodParams]):
    _refuse_unknown(request, PeriodParams)
    return ok(selectors.forecast_rollup(request.auth, **params.model_dump()))


@router.post(
    "/forecasts",
    response=envelope(ForecastOut),
    operation_id="submitForecast",
    summary="Submit or revise one's own forecast for a period (a new revision)",
)
def submit_forecast(request, payload: ForecastIn):
    return ok(services.forecast_submit(actor=actor_of(request), **payload.model_dump()))


@router.get(
    "/forecasts/revisions",
    response=envelope(RevisionsOut),
    operation_id="getForecastRevisions",
    summary="Every revision of a user's forecast (and, for managers, every adjustment)",
)
def forecast_revisions(request, params: Query[RevisionParams]):
    _refuse_unknown(request, RevisionParams)
    return ok(selectors.forecast_revisions(request.auth, **params.model_dump()))


@router.post(
    "/forecasts/adjustments",
    response=envelope(AdjustmentOut),
    operation_id="adjustForecast",
    summary="Adjust a rep's forecast (managers and admins)",
)
def adjust_forecast(request, payload: AdjustmentIn):
    return ok(services.forecast_adjust(actor=actor_of(request), **payload.model_dump()))


# Goals -----------------------------------------------------------------------------------------


class GoalOut(Schema):
    id: int
    title: str
    type: str
    measure: str
    assignee: str
    user_id: int | None
    team_id: int | None
    pipeline_id: int | None
    stage_id: int | None
    activity_type: str
    interval: str
    start_date: dt.date
    end_date: dt.date
    target: Decimal
    currency: str | None
    created_by_id: int | None
    add_time: dt.datetime
    update_time: dt.datetime
    version: int

    @staticmethod
    def resolve_target(goal: Goal) -> Decimal:
        if goal.measure == Goal.Measure.VALUE:
            return to_major(goal.target, goal.currency)
        return Decimal(goal.target)

    @staticmethod
    def resolve_currency(goal: Goal) -> str | None:
        return goal.currency or None


class GoalIn(Schema):
    title: str = Field(..., min_length=1, max_length=255)
    type: Literal[
        "deals_added", "deals_progressed", "deals_won", "activities_added", "activities_completed"
    ]
    measure: Literal["count", "value"] = "count"
    assignee: Literal["user", "team", "company"]
    user_id: Id | None = None
    team_id: Id | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    activity_type: str | None = Field(None, max_length=16)
    interval: Literal["week", "month", "quarter", "year"]
    start_date: dt.date
    end_date: dt.date
    target: Decimal = Field(..., gt=0)
    currency: str | None = Field(None, max_length=3)


class GoalUpdate(Schema):
    title: str | None = Field(None, min_length=1, max_length=255)
    target: Decimal | None = Field(None, gt=0)
    currency: str | None = Field(None, max_length=3)
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class GoalFilters(PageParams):
    type: str | None = Field(None, max_length=24)
    assignee: Literal["user", "team", "company"] | None = None
    user_id: Id | None = None
    team_id: Id | None = None
    active_on: dt.date | None = None


def _goal_data(payload: Schema) -> dict:
    data = payload.model_dump(exclude_unset=True)
    if data.get("measure", "count") == "count" and isinstance(data.get("target"), Decimal):
        target = data["target"]
        data["target"] = int(target) if target == target.to_integral_value() else target
    return data


@router.get(
    "/goals",
    response=envelope(GoalOut, many=True),
    operation_id="getGoals",
    summary="Goals the user may see",
)
def list_goals(request, filters: Query[GoalFilters]):
    _refuse_unknown(request, GoalFilters)
    goals = selectors.goal_list(request.auth, filters=filters.model_dump())
    return page_response(*paginate(goals, limit=filters.limit, cursor=filters.cursor))


@router.post(
    "/goals",
    response=envelope(GoalOut),
    operation_id="addGoal",
    summary="Add a goal (for oneself; managers for their team; admins for anyone)",
)
def add_goal(request, payload: GoalIn):
    goal = services.goal_create(actor=actor_of(request), data=_goal_data(payload))
    return ok(selectors.access_goal_by_id(request.auth, goal.pk))


@router.get(
    "/goals/{int:id}", response=envelope(GoalOut), operation_id="getGoal", summary="Get one goal"
)
def get_goal(request, id: Id):
    return ok(selectors.access_goal_by_id(request.auth, id))


@router.patch(
    "/goals/{int:id}",
    response=envelope(GoalOut),
    operation_id="updateGoal",
    summary="Change a goal's title, target or dates",
)
def update_goal(request, id: Id, payload: GoalUpdate):
    data = payload.model_dump(exclude_unset=True)
    goal = selectors.access_goal_by_id(request.auth, id)
    if goal.measure == Goal.Measure.COUNT and isinstance(data.get("target"), Decimal):
        target = data["target"]
        data["target"] = int(target) if target == target.to_integral_value() else target
    services.goal_update(actor=actor_of(request), goal_id=id, data=data)
    return ok(selectors.access_goal_by_id(request.auth, id))


@router.delete(
    "/goals/{int:id}",
    response=envelope(DeletedId),
    operation_id="deleteGoal",
    summary="Delete a goal",
)
def delete_goal(request, id: Id):
    selectors.access_goal_by_id(request.auth, id)
    services.goal_delete(actor=actor_of(request), goal_id=id)
    return ok({"id": id})


@router.get(
    "/goals/{int:id}/progress",
    response=envelope(dict[str, Any]),
    operation_id="getGoalProgress",
    summary="A goal's actual figure and target per period",
)
def goal_progress(request, id: Id):
    return ok(selectors.goal_progress(request.auth, id))


# Funnel math -----------------------------------------------------------------------------------


class FunnelParams(Schema):
    date_from: dt.date | None = Field(None, alias="from", description="Window of history")
    date_to: dt.date | None = Field(None, alias="to")
    pipeline_id: Id | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    target_deals: int | None = Field(None, ge=1, le=1_000_000)
    target_amount: Decimal | None = Field(None, gt=0, description="Company currency")
    deadline: dt.date | None = None


@router.get(
    "/funnel",
    response=envelope(dict[str, Any]),
    operation_id="getFunnel",
    summary="What it takes: stage conversion, time to close, deals and leads a target needs",
)
def get_funnel(request, params: Query[FunnelParams]):
    _refuse_unknown(request, FunnelParams)
    query = MetricQuery(
        date_from=params.date_from,
        date_to=params.date_to,
        pipeline_id=params.pipeline_id,
        owner_id=params.owner_id,
        team_id=params.team_id,
    )
    return ok(
        funnel(
            request.auth,
            query,
            target_deals=params.target_deals,
            target_amount=params.target_amount,
            deadline=params.deadline,
        )
    )


# Revenue projection ------------------------------------------------------------------------------


class ProjectionParams(Schema):
    months: int = Field(12, ge=1, le=24, description="Months ahead, the current one first")
    pipeline_id: Id | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    currency: str | None = Field(
        None, max_length=8, description="Only deals in this currency, reported in it"
    )


@router.get(
    "/forecasts/projection",
    response=envelope(dict[str, Any]),
    operation_id="getRevenueProjection",
    summary="Revenue projection: won to date + learned pipeline + Holt-Winters run-rate "
    "(today's stored company-wide run when it answers the request)",
)
def get_projection(request, params: Query[ProjectionParams]):
    _refuse_unknown(request, ProjectionParams)
    query = MetricQuery(
        pipeline_id=params.pipeline_id,
        owner_id=params.owner_id,
        team_id=params.team_id,
        currency=params.currency,
    )
    return ok(projection_for(request.auth, months=params.months, query=query))


@router.get(
    "/forecasts/projection/latest",
    response=envelope(dict[str, Any]),
    operation_id="getLatestProjectionRun",
    summary="The latest cached company-wide projection and its backtest (what the dashboard "
    "shows); administrators only",
)
def get_latest_projection_run(request):
    _refuse_unknown_names(request, set())
    if not request.auth.is_admin:
        raise PermissionDenied("The company-wide projection is shown to administrators.")
    run = latest_run()
    if run is None:
        raise NotFound("No projection has been computed yet.")
    return ok(
        {
            "computed_at": run.computed_at,
            "error": run.error or None,
            "projection": run.projection,
            "backtest": run.backtest,
        }
    )


@router.get(
    "/forecasts/scoring",
    response=envelope(dict[str, Any]),
    operation_id="getDealScoring",
    summary="The deal-scoring model's reliability (AUC, Brier) and the scores of given deals",
)
def get_scoring(request, deal_ids: str | None = Query(None, max_length=2000)):
    _refuse_unknown_names(request, {"deal_ids"})
    ids = []
    for part in (deal_ids or "").split(","):
        if part.strip():
            if not part.strip().isdigit():
                raise ValidationError({"deal_ids": f"Comma-separated ids, not {part!r}."})
            ids.append(int(part))
    record = latest_model()
    model = None
    if record is not None:
        model = {
            "trained_at": record.trained_at,
            "fallback": record.fallback,
            "note": record.note,
            "train_examples": record.train_examples,
            "test_examples": record.test_examples,
            "auc": record.auc,
            "brier": record.brier,
            "reliability": record.reliability,
        }
    return ok({"model": model, "scores": deal_scores(request.auth, ids)})


def _refuse_unknown_names(request: HttpRequest, known: set[str]) -> None:
    unknown = sorted(set(request.GET) - known - {"api_token"})
    if unknown:
        raise ValidationError({name: "Unknown parameter." for name in unknown})
