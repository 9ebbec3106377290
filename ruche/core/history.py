"""History: who changed what, written by services inside their transaction.

Every write service takes an `Actor` and calls one constructor here per event. Values are stored
as JSON-safe primitives (ids for relations, ISO strings for dates, strings for decimals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models

from ruche.core.models import ChangeRecord

Event = ChangeRecord.Event


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user in the browser, an API token, an import run or a system job."""

    kind: str
    user: Any = None
    label: str = ""

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(ChangeRecord.ActorKind.USER, user=user, label=user.email)

    @classmethod
    def for_token(cls, token) -> Actor:
        return cls(ChangeRecord.ActorKind.TOKEN, user=token.user, label=f"token #{token.pk}")

    @classmethod
    def for_import(cls, import_id: int, user) -> Actor:
        return cls(ChangeRecord.ActorKind.IMPORT, user=user, label=f"import #{import_id}")

    @classmethod
    def for_job(cls, name: str) -> Actor:
        return cls(ChangeRecord.ActorKind.JOB, label=name)


def json_safe(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    return value


def _entry(
    entity: str,
    entity_id: int,
    event: str,
    actor: Actor,
    field: str = "",
    old: Any = None,
    new: Any = None,
) -> ChangeRecord:
    return ChangeRecord(
        entity=entity,
        entity_id=entity_id,
        event=event,
        field=field,
        old_value=json_safe(old),
        new_value=json_safe(new),
        actor_kind=actor.kind,
        actor_user=actor.user,
        actor_label=actor.label,
    )


def record_created(entity: str, entity_id: int, actor: Actor, values: Mapping[str, Any]) -> None:
    _entry(entity, entity_id, Event.CREATED, actor, new=values).save()


def record_changes(
    entity: str,
    entity_id: int,
    actor: Actor,
    changes: Mapping[str, tuple[Any, Any]],
    event: str = Event.UPDATED,
) -> None:
    """One row per changed field, so each field's old and new value can be queried."""
    ChangeRecord.objects.bulk_create(
        _entry(entity, entity_id, event, actor, field, old, new)
        for field, (old, new) in changes.items()
    )


def record_event(
    entity: str,
    entity_id: int,
    event: str,
    actor: Actor,
    field: str = "",
    old: Any = None,
    new: Any = None,
) -> None:
    _entry(entity, entity_id, event, actor, field, old, new).save()


def history_for(entity: str, entity_id: int) -> Iterable[ChangeRecord]:
    return ChangeRecord.objects.filter(entity=entity, entity_id=entity_id).select_related(
        "actor_user"
    )
