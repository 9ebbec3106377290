import pytest
from django.test import Client

from ruche.transfer.importers import import_file
from ruche.transfer.mapping import Mapping
from tests.api.conftest import api_as, token_for  # noqa: F401


@pytest.fixture
def run_import(admin, tmp_path):
    """`run_import(entity, content_bytes_or_text, **mapping)` -> (run, report)."""

    def go(
        entity, content, *, name="file.csv", encoding="utf-8", dry_run=False, user=None, **mapping
    ):
        path = tmp_path / name
        if isinstance(content, str):
            content = content.encode(encoding)
        path.write_bytes(content)
        return import_file(
            user=user or admin,
            path=path,
            mapping=Mapping.from_dict(mapping, entity),
            dry_run=dry_run,
        )

    return go


@pytest.fixture
def background(settings, tmp_path, django_capture_on_commit_callbacks):
    """Uploads under a temporary VAR_DIR; enqueued imports run at once when the request's
    transaction commits (django-tasks' immediate backend), as a worker would run them."""
    settings.VAR_DIR = tmp_path / "var"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    def run_commits():
        return django_capture_on_commit_callbacks(execute=True)

    return run_commits


@pytest.fixture
def web_as(db):
    """`web_as(user)`: a Django client signed in as `user`."""

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make
