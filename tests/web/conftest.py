import pytest
from django.core.cache import cache
from django.test import Client

from tests.api.conftest import api_as, token_for  # noqa: F401

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The sign-in limiter counts in the cache; every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web_as(db):
    """`web_as(user)`: a Django client signed in as `user`, French unless the user chose."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Sign-in tests hash passwords many times; the hashing strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
