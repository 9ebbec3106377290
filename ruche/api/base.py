"""The API's plumbing: JSON in (decimals kept exact) and out (Pipedrive's envelope), and every
error as `{"success": false, "error": ..., "errors": {field: message}}` with its 4xx status."""

import json
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from ruche.core.exceptions import RucheError


class ExactDecimalParser(Parser):
    """JSON numbers with a fraction become Decimals, never floats."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return json.loads(request.body, parse_float=Decimal)


class NumberEncoder(NinjaJSONEncoder):
    """Decimals (amounts in major units) are written as JSON numbers, as Pipedrive does. Amounts
    are bounded to 15 significant digits (ruche.core.money), which a double prints exactly."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class EnvelopeRenderer(JSONRenderer):
    encoder_class = NumberEncoder
    json_dumps_params = {"ensure_ascii": False}


def error_body(message: str, field_errors: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "error": message,
        "error_info": message,
        "data": None,
        "additional_data": None,
    }
    if field_errors:
        body["errors"] = field_errors
    return body


def _field_name(location: list) -> str:
    """Pydantic's error location ("body", "payload", "title") as the client's field name."""
    parts = [
        str(part)
        for part in location
        if part not in ("body", "query", "path", "header", "payload", "filters")
    ]
    return ".".join(parts) or "body"


class RucheAPI(NinjaAPI):
    def create_response(self, request, data, *, status=None, temporal_response=None):
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        for header, value in getattr(request, "rate_limit_headers", {}).items():
            response[header] = value
        return response


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request, status: int, message: str, field_errors=None) -> HttpResponse:
        return api.create_response(request, error_body(message, field_errors), status=status)

    @api.exception_handler(RucheError)
    def domain_error(request, exc: RucheError):
        return respond(request, exc.status_code, exc.message, exc.field_errors)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request, exc: NinjaValidationError):
        field_errors: dict[str, str] = {}
        for error in exc.errors:
            field_errors.setdefault(_field_name(error.get("loc", [])), error.get("msg", "Invalid"))
        message = "; ".join(f"{field}: {msg}" for field, msg in field_errors.items())
        return respond(request, 422, f"Invalid input. {message}", field_errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return respond(
            request,
            401,
            "Unauthorized: send a valid API token in the x-api-token "
            "header or the api_token query parameter.",
        )

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        message = str(exc)
        if exc.status_code == 400 and message.startswith("Cannot parse request body"):
            message = "Malformed JSON in the request body."
        return respond(request, exc.status_code, message)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return respond(request, 404, "Not found.")
