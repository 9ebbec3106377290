"""API authentication (Pipedrive's `x-api-token` header or `api_token` query parameter, or the
browser session with CSRF) and the per-token rate limit."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import APIKeyHeader, APIKeyQuery, SessionAuth

from ruche.accounts.selectors import user_for_token
from ruche.core.exceptions import RucheError
from ruche.core.history import Actor


class RateLimited(RucheError):
    status_code = 429


def _check_rate_limit(request: HttpRequest, token) -> None:
    """Fixed window per token. The counters live in the cache: per process with the default
    local-memory cache, shared across workers with Redis (RUCHE_CACHE_BACKEND)."""
    window = settings.RUCHE_API_RATE_WINDOW_SECONDS
    limit = settings.RUCHE_API_RATE_LIMIT
    window_start = int(time.time()) // window * window
    key = f"ruche:ratelimit:{token.pk}:{window_start}"
    cache.add(key, 0, timeout=window * 2)
    used = cache.incr(key)
    reset = window_start + window - int(time.time())
    request.rate_limit_headers = {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(limit - used, 0)),
        "x-ratelimit-reset": str(max(reset, 0)),
    }
    if used > limit:
        request.rate_limit_headers["Retry-After"] = str(max(reset, 1))
        raise RateLimited(
            f"Rate limit of {limit} requests per {window} s exceeded for this "
            f"token; retry after {max(reset, 1)} s."
        )


def _token_auth(request: HttpRequest, key: str | None):
    if not key:
        return None
    token = user_for_token(key)
    if token is None:
        return None
    _check_rate_limit(request, token)
    request.actor = Actor.for_token(token)
    return token.user


class TokenHeader(APIKeyHeader):
    param_name = "x-api-token"

    def authenticate(self, request, key):
        return _token_auth(request, key)


class TokenQuery(APIKeyQuery):
    param_name = "api_token"

    def authenticate(self, request, key):
        return _token_auth(request, key)


class BrowserSession(SessionAuth):
    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is not None:
            request.actor = Actor.for_user(user)
        return user


api_auth = [TokenHeader(), TokenQuery(), BrowserSession()]


def actor_of(request: HttpRequest) -> Actor:
    return request.actor
