import pytest

from ruche.transfer.importers import import_file
from ruche.transfer.mapping import Mapping


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
