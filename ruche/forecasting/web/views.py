"""The forecast & quota page (/forecasts/): per rep and team for a period, quota, won, gap,
open pipeline, weighted pipeline and totals by forecast category (ruche.forecasting.selectors
.quota_attainment), everyone's latest forecast and the roll-up (forecast_rollup: managers'
adjustments only for managers and admins), the viewer's own revisions, and the forms to
submit a forecast and, for managers, to adjust one. Filters: period, currency, team. Export
to CSV and XLSX through ruche.core.spreadsheets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from ruche.core.exceptions import RucheError, ValidationError
from ruche.core.models import Lookup
from ruche.core.money import to_major, validate_currency
from ruche.core.spreadsheets import FORMATS, download
from ruche.forecasting import selectors, services
from ruche.forecasting.periods import PERIOD_KINDS, company, company_cached, period_of
from ruche.web import formatting
from ruche.web.views.common import actor, decimal_text, error_text, int_or_none, web_view

PERIOD_LABELS = {
    "month": gettext_lazy("Month"),
    "quarter": gettext_lazy("Quarter"),
    "year": gettext_lazy("Year"),
}


@dataclass
class ForecastFilters:
    period: str
    period_start: dt.date
    team_id: int | None
    currency: str | None

    @classmethod
    def from_params(cls, params, today: dt.date) -> tuple[ForecastFilters, dict]:
        """The filters, and the errors by field (each falls back to its default)."""
        errors = {}
        period = params.get("period") or "quarter"
        if period not in PERIOD_KINDS:
            errors["period"] = _("Period: a month, a quarter or a year.")
            period = "quarter"
        day = today
        text = (params.get("period_start") or "").strip()
        if text:
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                errors["period_start"] = _("Period start: enter a valid date (YYYY-MM-DD).")
        currency = (params.get("currency") or "").strip().upper() or None
        if currency is not None:
            try:
                currency = validate_currency(currency)
            except ValidationError:
                errors["currency"] = _("Currency: a three-letter ISO code, such as EUR.")
                currency = None
        return (
            cls(
                period=period,
                period_start=period_of(period, day).start,
                team_id=int_or_none(params.get("team")),
                currency=currency,
            ),
            errors,
        )

    def params(self) -> dict:
        values = {
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "team": self.team_id or "",
            "currency": self.currency or "",
        }
        return {key: value for key, value in values.items() if value}

    def querystring(self) -> str:
        return urlencode(self.params())


def _money(amount, currency: str | None) -> str:
    return "" if amount is None or currency is None else formatting.major_money(amount, currency)


def _categories() -> list[Lookup]:
    return list(
        Lookup.objects.filter(kind=Lookup.Kind.FORECAST_CATEGORY, is_active=True).order_by(
            "order_nr", "pk"
        )
    )


def _category_values(row: dict, categories: list[Lookup], zero) -> list:
    by_id = {entry["forecast_category_id"]: entry for entry in row["forecast_categories"]}
    return [by_id[c.pk]["value"] if c.pk in by_id else zero for c in categories]


def page_data(user, filters: ForecastFilters) -> dict:
    """Everything the page and the export show, from the two selectors."""
    kwargs = {
        "period": filters.period,
        "period_start": filters.period_start,
        "team_id": filters.team_id,
        "currency": filters.currency,
    }
    attainment = selectors.quota_attainment(user, **kwargs)
    rollup = selectors.forecast_rollup(user, **kwargs)
    forecasts = {row["user_id"]: row for row in rollup["users"]}
    categories = _categories()
    zero = to_major(0, attainment["currency"])
    reps = [
        rep
        | {
            "forecast": forecasts.get(rep["user_id"]),
            "categories": _category_values(rep, categories, zero),
        }
        for rep in attainment["reps"]
    ]
    teams = [
        team | {"categories": _category_values(team, categories, zero)}
        for team in attainment["teams"]
    ]
    return {
        "period": attainment["period"],
        "currency": attainment["currency"],
        "categories": categories,
        "reps": reps,
        "teams": teams,
        "totals": rollup["totals"],
        "sees_adjustments": selectors.sees_adjustments(user),
    }


def export_rows(data: dict):
    """Header, then one row per rep and per team; amounts in major units of the currency."""
    adjusted = data["sees_adjustments"]
    header = [
        _("Kind"),
        _("Name"),
        _("Quota"),
        pgettext("sales grid column", "Won"),
        _("Gap"),
        _("Pipeline"),
        _("Weighted pipeline"),
        *[category.name for category in data["categories"]],
        _("Forecast (commit)"),
        _("Best case"),
        *([_("Manager's figure")] if adjusted else []),
        _("Target mismatch"),
        _("Currency"),
    ]
    yield header
    for rep in data["reps"]:
        forecast = rep["forecast"] or {}
        yield [
            _("Salesperson"),
            rep["name"],
            rep["quota"],
            rep["won"],
            rep["gap"],
            rep["pipeline"],
            rep["weighted_pipeline"],
            *rep["categories"],
            forecast.get("commit"),
            forecast.get("best_case"),
            *([forecast.get("final")] if adjusted else []),
            "",
            data["currency"],
        ]
    for team in data["teams"]:
        yield [
            _("Team"),
            team["name"],
            team["quota"],
            team["won"],
            team["gap"],
            team["pipeline"],
            team["weighted_pipeline"],
            *team["categories"],
            None,
            None,
            *([None] if adjusted else []),
            {True: _("Yes"), False: _("No"), None: ""}[team["target_mismatch"]],
            data["currency"],
        ]


def _display(data: dict) -> dict:
    """The figures as text, for the template."""
    currency = data["currency"]

    def texts(row: dict) -> dict:
        return {
            key: _money(row[key], currency)
            for key in ("quota", "won", "gap", "pipeline", "weighted_pipeline")
        } | {"categories": [_money(value, currency) for value in row["categories"]]}

    reps = []
    for rep in data["reps"]:
        forecast = rep["forecast"] or {}
        adjustment = forecast.get("adjustment")
        reps.append(
            rep
            | {"text": texts(rep)}
            | {
                "commit_text": _money(forecast.get("commit"), forecast.get("currency")),
                "best_case_text": _money(forecast.get("best_case"), forecast.get("currency")),
                "revisions": forecast.get("revisions", 0),
                "adjustment_text": ""
                if not adjustment
                else _money(adjustment["amount"], adjustment["currency"]),
                "final_text": _money(forecast.get("final"), currency),
            }
        )
    return data | {
        "reps": reps,
        "teams": [
            team | {"text": texts(team) | {"members": _money(team["members_quota"], currency)}}
            for team in data["teams"]
        ],
        "totals_text": {key: _money(value, currency) for key, value in data["totals"].items()},
    }


def _adjustable(user, reps: list[dict]) -> list[dict]:
    """The reps whose forecast the viewer may adjust (can_manage's rule on the rows)."""
    if user.is_admin:
        return reps
    if not user.is_manager or user.team_id is None:
        return []
    return [rep for rep in reps if rep["team_id"] == user.team_id and rep["user_id"] != user.pk]


def _render(
    request, filters: ForecastFilters, errors: dict, *, status: int = 200, with_data: bool = True
) -> HttpResponse:
    """The page; `with_data` False when the filters themselves were refused."""
    user = request.user
    context = {
        "filters": filters,
        "period_labels": PERIOD_LABELS,
        "teams": list(selectors.visible_teams(user).order_by("name", "pk")),
        "errors": list(errors.values()),
        "company_currency": company().currency,
        "querystring": filters.querystring(),
    }
    if with_data:
        try:
            data = page_data(user, filters)
        except RucheError as error:
            context["errors"].append(error_text(error))
            return render(request, "forecasting/forecasts.html", context, status=400)
        context |= {
            "data": _display(data),
            "my_revisions": [
                {
                    "revision": revision.revision,
                    "commit": formatting.money(revision.commit_minor, revision.currency),
                    "best_case": formatting.money(revision.best_case_minor, revision.currency),
                    "submitted_at": revision.submitted_at,
                    "note": revision.note,
                }
                for revision in selectors.forecast_revisions(
                    user, user_id=user.pk, period=filters.period, period_start=filters.period_start
                )["revisions"]
            ],
            "adjustable": _adjustable(user, data["reps"]),
        }
    return render(request, "forecasting/forecasts.html", context, status=status)


@web_view
def forecasts(request: HttpRequest) -> HttpResponse:
    filters, errors = ForecastFilters.from_params(request.GET, timezone.localdate())
    with company_cached():
        file_format = request.GET.get("format")
        if not errors and file_format in FORMATS:
            name = f"forecast-{filters.period}-{filters.period_start.isoformat()}"
            return download(export_rows(page_data(request.user, filters)), name, file_format)
        if errors:
            return _render(request, filters, errors, status=400, with_data=False)
        return _render(request, filters, errors)


def _back(filters: ForecastFilters) -> HttpResponse:
    return redirect(f"{reverse('web:forecasts')}?{filters.querystring()}")


def _post(request: HttpRequest, call, done: str) -> HttpResponse:
    """Run one service call with the period of the posted filters; a refusal shows the page
    again with the error and its status (400, 403, 404), nothing written."""
    filters, errors = ForecastFilters.from_params(request.POST, timezone.localdate())
    status = 400
    if not errors:
        try:
            call(filters)
        except RucheError as error:
            errors, status = {"form": error_text(error)}, error.status_code
    if errors:
        with company_cached():
            return _render(request, filters, errors, status=status)
    messages.success(request, done)
    return _back(filters)


@require_POST
@web_view
def forecast_submit(request: HttpRequest) -> HttpResponse:
    post = request.POST
    return _post(
        request,
        lambda filters: services.forecast_submit(
            actor=actor(request),
            period=filters.period,
            period_start=filters.period_start,
            commit=decimal_text(post.get("commit")),
            best_case=decimal_text(post.get("best_case")),
            currency=post.get("forecast_currency") or None,
            note=post.get("note", ""),
        ),
        _("Forecast submitted."),
    )


@require_POST
@web_view
def forecast_adjust(request: HttpRequest) -> HttpResponse:
    post = request.POST
    return _post(
        request,
        lambda filters: services.forecast_adjust(
            actor=actor(request),
            user_id=int_or_none(post.get("user")),
            period=filters.period,
            period_start=filters.period_start,
            amount=decimal_text(post.get("amount")),
            currency=post.get("adjust_currency") or None,
            note=post.get("note", ""),
        ),
        _("Forecast adjusted."),
    )
