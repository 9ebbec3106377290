"""Undoing an import as a whole, in one transaction: what it created is deleted (with a
"deleted" history entry each), what it updated gets its former values back (one history row
per restored field), and a deal it moved gets its stage entries back. The history names the
actor "undo of import #n"."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, ProtectedError, Sum
from django.utils import timezone

from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor, Event, json_safe, record_changes, record_event
from ruche.core.models import ChangeRecord
from ruche.forecasting.stage_tallies import take_writers_turn, tallies_follow
from ruche.pipelines.models import Activity, Deal, DealLine, Note, StageEntry
from ruche.pipelines.services.activities import copy_deal_visibility, refresh_deal_activity
from ruche.transfer.bulk import Table, id_ranges, id_ranges_q
from ruche.transfer.models import ImportedRecord, ImportRun

UNDO_MODELS = {
    "deal_line": DealLine,
    "activity": Activity,
    "note": Note,
    "deal": Deal,
    "person": Person,
    "organization": Organization,
    "product": Product,
}
# Children first, so that nothing the import created is still referred to when deleted.
DELETE_ORDER = ("deal_line", "activity", "note", "deal", "person", "organization", "product")
# Extra keys an update stores next to the fields (see RowWriters._update_deal).
ENTRIES_MAX_ID = "__stage_entries_max_id"
OPEN_ENTRY = "__open_stage_entry"
LABELS = "__labels"
CHUNK = 5000


def deal_entries_state(deal: Deal) -> dict:
    """What undoing a stage move needs: the entries that existed and the one left open."""
    entries = StageEntry.objects.filter(deal=deal)
    return {
        ENTRIES_MAX_ID: entries.aggregate(top=Max("id"))["top"] or 0,
        OPEN_ENTRY: entries.filter(left_at__isnull=True).values_list("id", flat=True).first(),
    }


def _restore(record: ImportedRecord, actor: Actor) -> bool:
    model = UNDO_MODELS[record.entity]
    instance = model.objects.filter(pk=record.record_id).first()
    if instance is None:
        return False
    changes = {}
    for field in model._meta.concrete_fields:
        if field.attname not in record.before or field.name in ("version", "update_time"):
            continue
        old = field.to_python(record.before[field.attname])
        current = getattr(instance, field.attname)
        if current != old:
            changes[field.name] = (json_safe(current), json_safe(old))
            setattr(instance, field.attname, old)
    if record.entity == "deal" and LABELS in record.before:
        current_labels = sorted(instance.labels.values_list("pk", flat=True))
        if current_labels != record.before[LABELS]:
            instance.labels.set(record.before[LABELS])
            changes["labels"] = (current_labels, record.before[LABELS])
    if record.entity == "deal" and ENTRIES_MAX_ID in record.before:
        StageEntry.objects.filter(deal=instance, id__gt=record.before[ENTRIES_MAX_ID]).delete()
        if record.before[OPEN_ENTRY]:
            StageEntry.objects.filter(pk=record.before[OPEN_ENTRY]).update(left_at=None)
    if not changes:
        return False
    instance.version += 1
    instance.update_time = timezone.now()
    instance.save()
    if record.entity == "deal" and {"owner", "visible_to"} & changes.keys():
        copy_deal_visibility(instance)
    record_changes(record.entity, instance.pk, actor, changes)
    return True


def _created_ids(run: ImportRun) -> dict[str, list[int]]:
    created: dict[str, list[int]] = {}
    for record in run.records.filter(action=ImportedRecord.Action.CREATED):
        created.setdefault(record.entity, []).extend(
            range(record.record_id, record.before["last"] + 1)
        )
    return created


def _delete_created(run: ImportRun, created: dict, actor: Actor, user) -> tuple[int, dict]:
    """Delete what the import created, children first; (how many, {entity: ids of the deals
    whose imported lines or activities went})."""
    gone = set(created.get("deal", []))
    touched: dict[str, set[int]] = {"deal_line": set(), "activity": set()}
    history = Table(
        ChangeRecord,
        ("entity", "entity_id", "event", "actor_kind", "actor_user", "actor_label", "time"),
    )
    now = timezone.now()
    deleted = 0
    try:
        for entity in DELETE_ORDER:
            ids = created.get(entity, [])
            for start in range(0, len(ids), CHUNK):
                queryset = UNDO_MODELS[entity].objects.filter(pk__in=ids[start : start + CHUNK])
                if entity in touched:
                    touched[entity] |= set(
                        queryset.exclude(deal_id__in=gone)
                        .exclude(deal_id=None)
                        .values_list("deal_id", flat=True)
                    )
                existing = list(queryset.values_list("pk", flat=True))
                queryset.delete()
                history.write(
                    [
                        (
                            entity,
                            pk,
                            Event.DELETED,
                            actor.kind,
                            user.pk if user else None,
                            actor.label,
                            now,
                        )
                        for pk in existing
                    ]
                )
                deleted += len(existing)
    except ProtectedError as error:
        used = ", ".join(sorted({str(o) for o in error.protected_objects})[:5])
        raise ValidationError(
            {"run": f"Import #{run.pk} cannot be undone: what it created is used by {used}."}
        ) from None
    return deleted, touched


@transaction.atomic
def undo_import(*, run: ImportRun, user) -> dict:
    if run.status != ImportRun.Status.DONE or run.dry_run:
        raise ValidationError(
            {"run": f"Import #{run.pk} is {run.status}: only a done import can be undone."}
        )
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    actor = Actor(ChangeRecord.ActorKind.IMPORT, user=user, label=f"undo of import #{run.pk}")
    counts = {"deleted": 0, "restored": 0}
    updated = run.records.filter(action=ImportedRecord.Action.UPDATED).order_by("-id")
    created = _created_ids(run)
    gone = set(created.get("deal", []))
    # Deals made since on an organisation the import created lose it when it is deleted (SET
    # NULL): their customer changes, so the MRR tally follows them too.
    orgs = id_ranges(set(created.get("organization", [])))
    on_orgs = set(Deal.objects.filter(id_ranges_q("org_id", orgs)).values_list("pk", flat=True))
    deal_ranges = id_ranges(gone | on_orgs | {r.record_id for r in updated if r.entity == "deal"})
    take_writers_turn()  # before the deals' tallies are read: no other write in between
    with tallies_follow(id_ranges_q("deal_id", deal_ranges)):
        for record in updated:
            counts["restored"] += _restore(record, actor)
        counts["deleted"], touched = _delete_created(run, created, actor, user)
    for deal in Deal.objects.filter(pk__in=touched["deal_line"]):
        # Its imported lines are gone: the deal's value is again the sum of what is left.
        total = deal.lines.aggregate(total=Sum("total_minor"))["total"] or 0
        if total != deal.value_minor:
            record_event(
                "deal", deal.pk, Event.UPDATED, actor, "value_minor", deal.value_minor, total
            )
            Deal.objects.filter(pk=deal.pk).update(value_minor=total)
    for deal_id in touched["activity"]:
        refresh_deal_activity(deal_id)
    run.status = ImportRun.Status.UNDONE
    run.report = {**run.report, "undo": counts}
    run.save(update_fields=["status", "report"])
    return counts
