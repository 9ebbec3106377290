"""Report fixtures: the hand-built deals of tests/forecasting, a real SMTP server, clients."""

import datetime as dt

import pytest

from ruche.reports import services
from tests.api.conftest import api_as, token_for  # noqa: F401
from tests.billing.smtp import smtp  # noqa: F401
from tests.forecasting.conftest import at, make_deal, set_times, usd_rates  # noqa: F401
from tests.web.conftest import web_as  # noqa: F401

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def make_report():
    """`make_report(owner, kind="revenue", grouping="month", ...)` through the service."""

    def make(owner, **data):
        from ruche.core.history import Actor

        values = {"name": f"Rapport {data.get('kind', 'revenue')}", "kind": "revenue"} | data
        return services.report_create(actor=Actor.for_user(owner), data=values)

    return make


__all__ = ["TODAY", "at", "set_times"]


@pytest.fixture
def reports_api(settings, api_as):  # noqa: F811
    """`reports_api(user)`: an API client that also reaches /api/v2/reports."""
    settings.ROOT_URLCONF = "tests.reports.urls"
    return api_as
