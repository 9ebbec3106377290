"""Idempotency-Key on POST: a retry with the same key gets the first response again and
creates nothing twice. The key row is inserted in the same transaction as the work it guards,
so a concurrent retry waits on it, then replays."""

import datetime as dt
import hashlib
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ruche.accounts.models import hash_token
from ruche.api.base import error_body
from ruche.api.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def _json_error(status: int, message: str, field: str = "Idempotency-Key") -> HttpResponse:
    body = error_body(message, {field: message})
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _scope(request: HttpRequest) -> str | None:
    token = request.headers.get("x-api-token") or request.GET.get("api_token")
    if token:
        return f"token:{hash_token(token)}"
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return None


def _replay(record: IdempotencyKey, fingerprint: str) -> HttpResponse:
    if record.request_fingerprint != fingerprint:
        return _json_error(422, "This Idempotency-Key was used for a different request.")
    response = HttpResponse(
        bytes(record.response_body), status=record.status_code, content_type=record.content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        scope = _scope(request)
        if scope is None:
            return self.get_response(request)  # the API answers 401
        if len(key) > MAX_KEY_LENGTH:
            return _json_error(400, f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.")
        try:
            fingerprint = hashlib.sha256(request.path.encode() + b"\0" + request.body).hexdigest()
        except RequestDataTooBig:
            return _json_error(413, "The request body is too large.", field="body")
        return self._handle_once(request, scope, key, fingerprint)

    def _handle_once(self, request, scope: str, key: str, fingerprint: str) -> HttpResponse:
        expired = timezone.now() - dt.timedelta(hours=settings.RUCHE_IDEMPOTENCY_TTL_HOURS)
        IdempotencyKey.objects.filter(scope=scope, key=key, created_at__lt=expired).delete()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        scope=scope, key=key, request_fingerprint=fingerprint
                    )
            except IntegrityError:
                # Another request holds the key: it has finished, since its insert committed.
                record = IdempotencyKey.objects.get(scope=scope, key=key)
                return _replay(record, fingerprint)
            response = self.get_response(request)
            if 200 <= response.status_code < 300:
                record.status_code = response.status_code
                record.response_body = response.content
                record.content_type = response.get("Content-Type", "application/json")
                record.save(update_fields=["status_code", "response_body", "content_type"])
            else:
                # A refused request did nothing: let the client fix it and retry the key.
                transaction.set_rollback(True)
            return response
