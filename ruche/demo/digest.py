"""A digest of the demo data that ignores database ids, so two loads of the same seed and
reference date compare equal on any database (SQLite or PostgreSQL, fresh or reused ids).

References are replaced by natural keys (emails, SIREN numbers, stage names, product codes)
or, for deals and activities, by their rank in id order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from ruche.accounts.models import Team, User
from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.models import ChangeRecord, Lookup
from ruche.pipelines.models import Activity, Deal, DealLine, Note, Pipeline, Stage, StageEntry


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


def demo_digest() -> str:
    """SHA-256 over every demo table, rows in id order, ids replaced by natural keys."""
    users = dict(User.objects.values_list("pk", "email"))
    teams = dict(Team.objects.values_list("pk", "name"))
    lookups = {
        pk: f"{kind}:{name}" for pk, kind, name in Lookup.objects.values_list("pk", "kind", "name")
    }
    pipelines = dict(Pipeline.objects.values_list("pk", "name"))
    stages = {
        pk: f"{pipelines[pipeline_id]}/{name}"
        for pk, pipeline_id, name in Stage.objects.values_list("pk", "pipeline_id", "name")
    }
    products = dict(Product.objects.values_list("pk", "code"))
    orgs = dict(Organization.objects.values_list("pk", "siren"))
    persons = {
        pk: f"{orgs.get(org_id)}:{name}:{i}"
        for i, (pk, org_id, name) in enumerate(
            Person.objects.order_by("pk").values_list("pk", "org_id", "name")
        )
    }
    deals = {pk: i for i, pk in enumerate(Deal.objects.order_by("pk").values_list("pk", flat=True))}
    activities = {
        pk: i for i, pk in enumerate(Activity.objects.order_by("pk").values_list("pk", flat=True))
    }
    references = {
        "owner": users,
        "deal_owner": users,
        "creator": users,
        "actor_user": users,
        "team": teams,
        "source": lookups,
        "lost_reason": lookups,
        "forecast_category": lookups,
        "lookup": lookups,
        "pipeline": pipelines,
        "stage": stages,
        "from_stage": stages,
        "product": products,
        "org": orgs,
        "person": persons,
        "deal": deals,
        "next_activity": activities,
    }
    entities = {
        "deal": deals,
        "organization": orgs,
        "person": persons,
        "product": products,
        "pipeline": pipelines,
        "stage": stages,
    }

    def mapped_json(value):
        if isinstance(value, dict):
            return {
                key: references[key].get(item) if key in references else item
                for key, item in value.items()
            }
        return value

    digest = hashlib.sha256()

    def feed(model, fields: list[str], extra=None, query=None) -> None:
        digest.update(model._meta.label.encode())
        names = [f.removesuffix("_id") for f in fields]
        query = (query if query is not None else model.objects).order_by("pk").values_list(*fields)
        for row in query.iterator(chunk_size=5000):
            values = []
            for name, value in zip(names, row, strict=True):
                if name in references and not isinstance(value, dict | list):
                    value = references[name].get(value)
                values.append(_plain(value))
            if extra:
                values = extra(values)
            digest.update(json.dumps(values, sort_keys=True, default=str).encode())

    def concrete(model, skip=("id",)) -> list[str]:
        return [f.attname for f in model._meta.concrete_fields if f.attname not in skip]

    feed(User, ["email", "name", "role", "team_id", "is_staff", "is_superuser", "date_joined"])
    feed(Product, concrete(Product))
    feed(Organization, concrete(Organization))
    feed(Person, concrete(Person))
    feed(Deal, concrete(Deal))
    feed(DealLine, concrete(DealLine))
    feed(StageEntry, concrete(StageEntry))
    feed(Activity, concrete(Activity))
    feed(Note, concrete(Note))
    feed(Deal.labels.through, ["deal_id", "lookup_id"])

    history_fields = ["entity", "entity_id", "event", "field", "old_value", "new_value"]
    history_fields += ["actor_kind", "actor_user_id", "actor_label", "time"]

    def history_row(values):
        entity, entity_id, event, field, old, new, *rest = values
        keys = entities.get(entity, {})
        if field == "stage":
            old, new = stages.get(old), stages.get(new)
        return [
            entity,
            keys.get(entity_id),
            event,
            field,
            mapped_json(old),
            mapped_json(new),
            *rest,
        ]

    # The install's own rows (the standard pipeline, written by a job at migrate time) are not
    # the demo's.
    demo_history = ChangeRecord.objects.exclude(actor_kind=ChangeRecord.ActorKind.JOB)
    feed(ChangeRecord, history_fields, extra=history_row, query=demo_history)
    return digest.hexdigest()
