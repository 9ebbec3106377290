"""Property-based run of /api/v2/reports from its OpenAPI document, as tests/api does for the
whole API: whatever schemathesis sends, valid or not, never a server error."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from tests.reports.urls import api

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v2"))
schema.app = application


@pytest.fixture(autouse=True)
def reports_urls(settings):
    settings.ROOT_URLCONF = "tests.reports.urls"
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token_headers(admin, token_for, make_report, make_deal):
    for kind in ("revenue", "win_loss", "funnel"):
        make_report(admin, kind=kind, shared=True)
    make_deal(admin, "10", status="won", won="2026-11-02")
    return {"x-api-token": token_for(admin)}


@schema.parametrize()
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.django_db
def test_no_server_error(case, token_headers):
    case.call_and_validate(headers=token_headers, checks=[not_a_server_error])
