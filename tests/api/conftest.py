"""API fixtures: `api_as(user)` gives a client that sends the user's fresh API token."""

import json

import pytest
from django.test import Client

from ruche.accounts.services import token_create


class ApiClient:
    """Django's test client speaking JSON to /api/v2 with an x-api-token header."""

    def __init__(self, token: str):
        self.token = token
        self.client = Client()

    def request(self, method: str, path: str, body=None, raw: str | None = None, **headers):
        extra = {"HTTP_X_API_TOKEN": self.token}
        extra |= {
            f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
        }
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return getattr(self.client, method)(
            f"/api/v2{path}", data=data, content_type="application/json", **extra
        )

    def get(self, path, **headers):
        return self.client.get(
            f"/api/v2{path}",
            HTTP_X_API_TOKEN=self.token,
            **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
        )

    def post(self, path, body=None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("patch", path, body, **kwargs)

    def delete(self, path, **headers):
        return self.request("delete", path, **headers)


@pytest.fixture
def token_for(db):
    def make(user) -> str:
        return token_create(user=user)[1]

    return make


@pytest.fixture
def api_as(token_for):
    return lambda user: ApiClient(token_for(user))
