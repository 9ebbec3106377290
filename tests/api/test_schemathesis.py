"""Property-based run of the whole API from its own OpenAPI document: whatever schemathesis
sends, with valid or invalid data, the API never answers a server error."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from ruche.core.history import Actor
from ruche.pipelines.services import activity_create, deal_create, deal_line_add

schema = schemathesis.openapi.from_wsgi("/api/v2/openapi.json", application)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Calling the WSGI app directly fires request_finished, whose handler closes a connection
    inside a transaction: Django's own test client disconnects it the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token_headers(admin, token_for, stages):
    """An admin's token, and a few records so that generated ids 1, 2... often exist."""
    actor = Actor.for_user(admin)
    for index in range(3):
        deal = deal_create(actor=actor, data={"title": f"Deal {index}", "stage_id": stages[0].pk})
        deal_line_add(
            actor=actor,
            deal_id=deal.pk,
            data={"name": "Ligne", "quantity": "2", "unit_price": "10.50"},
        )
        activity_create(actor=actor, data={"subject": "Appel", "deal_id": deal.pk})
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
