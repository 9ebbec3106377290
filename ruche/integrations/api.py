"""/webhooks: the Stripe webhook endpoint (signed by Stripe, no token) and the outgoing webhook
subscriptions."""

import json
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.pagination import PageParams, SortedPageParams, page_response, paginate
from ruche.api.schemas import Id, UtcDatetime, envelope
from ruche.integrations import selectors, services, stripe_webhook
from ruche.integrations.models import EVENT_TYPES

router = Router(tags=["Webhooks"])


def _json(status: int, body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


@router.post(
    "/webhooks/stripe",
    auth=None,
    operation_id="receiveStripeEvent",
    summary="Stripe webhook (Stripe-Signature verified, 5 minutes tolerance)",
)
def stripe_event(request: HttpRequest):
    try:
        event = stripe_webhook.verify(request.body, request.headers.get("Stripe-Signature", ""))
    except stripe_webhook.BadSignature as error:
        return _json(400, {"success": False, "error": str(error)})
    row = stripe_webhook.process(event)
    return _json(
        200,
        {
            "success": True,
            "data": {
                "event_id": row.event_id,
                "outcome": row.outcome,
                "payment_id": row.payment_id,
                "detail": row.detail,
            },
        },
    )


# Outgoing webhook subscriptions -----------------------------------------------------------------

EventName = Literal[
    "deal.created",
    "deal.updated",
    "deal.won",
    "deal.lost",
    "quote.accepted",
    "invoice.issued",
    "invoice.paid",
    "invoice.overdue",
]


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    description: str
    is_active: bool
    secret: str
    owner_id: int
    add_time: UtcDatetime
    update_time: UtcDatetime


class WebhookCreate(Schema):
    url: str = Field(..., max_length=2000)
    events: list[EventName] = Field(..., min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(None, max_length=255)
    is_active: bool | None = None


class WebhookUpdate(Schema):
    url: str | None = Field(None, max_length=2000)
    events: list[EventName] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(None, max_length=255)
    is_active: bool | None = None


class WebhookFilters(SortedPageParams):
    is_active: bool | None = None


class AttemptOut(Schema):
    id: int
    delivery_id: int
    event: str
    event_id: str
    number: int
    time: UtcDatetime
    status_code: int | None
    success: bool
    error: str
    duration_ms: int

    @staticmethod
    def resolve_event(attempt) -> str:
        return attempt.delivery.event.type

    @staticmethod
    def resolve_event_id(attempt) -> str:
        return attempt.delivery.event.uid


WEBHOOKS = Resource(
    singular="Webhook",
    plural="Webhooks",
    path="/webhooks",
    out=WebhookOut,
    create_in=WebhookCreate,
    update_in=WebhookUpdate,
    filters=WebhookFilters,
    list_queryset=lambda user, values: selectors.webhook_list(user, filters=values),
    load=lambda user, pk: selectors.access_webhook_by_id(user, pk),
    create=lambda actor, data: services.webhook_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.webhook_update(
        actor=actor, webhook_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.webhook_delete(actor=actor, webhook_id=pk),
)
add_crud_routes(router, WEBHOOKS)


@router.get(
    "/webhooks/{int:id}/attempts",
    response=envelope(AttemptOut, many=True),
    operation_id="getWebhookAttempts",
    summary="Every delivery attempt of a webhook, newest first",
)
def webhook_attempts(request, id: Id, params: Query[PageParams]):
    values = params.model_dump()
    rows, next_cursor = paginate(
        selectors.webhook_attempts(request.auth, id),
        limit=values["limit"],
        cursor=values["cursor"],
        sort_by="id",
        sort_direction="desc",
    )
    return page_response(rows, next_cursor)
