"""Progress (rows done out of the total, errors so far) and cancellation of a running import,
visible to other processes while the import's transaction is still open.

- PostgreSQL: a second connection writes the counts on the run's row and reads its
  `cancel_requested` flag (the import's own transaction never writes that row, so neither waits
  for the other).
- SQLite has one writer at a time and the import holds it, so nobody else can write the row
  until the import commits: the counts go to a small JSON file next to the database
  (`var/imports/run-<id>.json`), and a cancel request is a file (`run-<id>.cancel`).

`read_progress(run)` and `request_cancel(run)` hide the difference from the web page and the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, connections

from ruche.transfer.models import ImportRun


def _directory() -> Path:
    path = Path(getattr(settings, "VAR_DIR", "var")) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def live_file(run_id: int) -> Path:
    return _directory() / f"run-{run_id}.json"


def cancel_file(run_id: int) -> Path:
    return _directory() / f"run-{run_id}.cancel"


def request_cancel(run: ImportRun) -> None:
    """Stop the import at its next batch of rows; nothing it wrote is kept."""
    cancel_file(run.pk).touch()
    # On SQLite the file is all: a write would wait for the import's lock (seconds), and
    # the worker looks for the file before it starts and between batches.
    if connection.vendor == "postgresql":
        ImportRun.objects.filter(pk=run.pk).update(cancel_requested=True)


def read_progress(run: ImportRun) -> dict:
    """{"status", "rows_total", "rows_done", "errors_count"} as of now."""
    run.refresh_from_db(fields=["status", "rows_total", "rows_done", "errors_count"])
    progress = {
        "status": run.status,
        "rows_total": run.rows_total,
        "rows_done": run.rows_done,
        "errors_count": run.errors_count,
    }
    path = live_file(run.pk)
    if run.status == ImportRun.Status.RUNNING and path.exists():
        with contextlib.suppress(OSError, ValueError):
            progress |= json.loads(path.read_text())
    return progress


class Progress:
    def __init__(self, run: ImportRun):
        self.run = run
        self.side = None
        self.total: int | None = None

    def _side(self):
        if self.side is None:
            self.side = connections.create_connection("default")
            with self.side.cursor() as cursor:
                # Never wait on the run's row (e.g. a cancel written inside the import's own
                # transaction): a skipped progress update is harmless, a deadlock is not.
                cursor.execute("SET lock_timeout = '200ms'")
        return self.side

    def publish(self, done: int, errors: int, total: int | None = None) -> None:
        if not self.run.pk:
            return
        if total is not None:
            self.total = total
        if connection.vendor != "postgresql":
            counts = {"rows_done": done, "errors_count": errors}
            if self.total is not None:
                counts["rows_total"] = self.total
            temporary = live_file(self.run.pk).with_suffix(".tmp")
            temporary.write_text(json.dumps(counts))
            os.replace(temporary, live_file(self.run.pk))
            return
        conn = self._side() if connection.in_atomic_block else connection
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "UPDATE transfer_importrun SET rows_done = %s, errors_count = %s, "
                    "rows_total = COALESCE(%s, rows_total) WHERE id = %s",
                    [done, errors, total, self.run.pk],
                )
        except DatabaseError:  # progress is best effort; the import does not depend on it
            pass

    def cancelled(self) -> bool:
        if not self.run.pk:
            return False
        if cancel_file(self.run.pk).exists():
            return True
        if connection.vendor != "postgresql":
            return False
        conn = self._side() if connection.in_atomic_block else connection
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT cancel_requested FROM transfer_importrun WHERE id = %s", [self.run.pk]
                )
                row = cursor.fetchone()
        except DatabaseError:
            return False
        return bool(row and row[0])

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None
        for path in (live_file(self.run.pk), cancel_file(self.run.pk)):
            path.unlink(missing_ok=True)
