"""A small cache-based limiter for sign-in attempts: failures are counted per email and per
client address in a fixed window; past the limit, the form refuses without checking the
password. A success clears the email's count."""

import hashlib

from django.conf import settings
from django.core.cache import cache

LOGIN_FAILURES_PER_EMAIL = getattr(settings, "RUCHE_LOGIN_FAILURES_PER_EMAIL", 5)
LOGIN_FAILURES_PER_ADDRESS = getattr(settings, "RUCHE_LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_WINDOW_SECONDS = getattr(settings, "RUCHE_LOGIN_WINDOW_SECONDS", 15 * 60)


def _keys(email: str, address: str) -> list[tuple[str, int]]:
    digest = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]
    return [
        (f"ruche:login:email:{digest}", LOGIN_FAILURES_PER_EMAIL),
        (f"ruche:login:addr:{address}", LOGIN_FAILURES_PER_ADDRESS),
    ]


def login_blocked(email: str, address: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(email, address))


def login_failed(email: str, address: str) -> None:
    for key, _limit in _keys(email, address):
        if cache.add(key, 1, LOGIN_WINDOW_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOGIN_WINDOW_SECONDS)


def login_succeeded(email: str) -> None:
    cache.delete(_keys(email, "")[0][0])


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
