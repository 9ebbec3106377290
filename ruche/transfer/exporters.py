"""`ruche export all DIR`: every entity as CSV (UTF-8, comma), with all fields, custom fields
(as stored, in a JSON column), stage entries and the change history; `import_all` reads such a
directory back. Relations are written as the exported ids (`org_ruche_id`...), which the import
maps to the new ids; users, stages, lists and custom fields by name or key.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.models import ChangeRecord, CustomField, Lookup
from ruche.core.money import to_major
from ruche.demo.bulk import BulkTable
from ruche.forecasting.stage_tallies import tally_deals
from ruche.pipelines.models import Activity, Deal, DealLine, Note, Pipeline, Stage, StageEntry
from ruche.transfer.bulk import id_ranges, id_ranges_q
from ruche.transfer.mapping import FIELDS, Mapping
from ruche.transfer.parsing import parse_datetime

ORDER = ("organizations", "persons", "products", "deals", "deal_lines", "activities", "notes")


def _iso(value) -> str:
    return "" if value is None else value.isoformat()


def _major(amount_minor: int | None, currency: str):
    return None if amount_minor is None else to_major(amount_minor, currency)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def _write(path: Path, header: list[str], rows) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            count += 1
    return count


def export_all(directory: str | Path) -> dict[str, int]:
    """Everything, whatever its visibility (an admin's backup), as CSV files in `directory`."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    emails = dict(get_user_model().objects.values_list("pk", "email"))
    stage_names = {
        s.pk: (s.pipeline.name, s.name) for s in Stage.objects.select_related("pipeline")
    }
    lookups = dict(Lookup.objects.values_list("pk", "name"))
    counts = {}
    counts["users"] = _write(
        out / "users.csv",
        ["email", "name", "role", "team", "is_active"],
        (
            (u.email, u.name, u.role, u.team.name if u.team else "", int(u.is_active))
            for u in get_user_model().objects.select_related("team").order_by("id")
        ),
    )
    counts["stages"] = _write(
        out / "stages.csv",
        [
            "pipeline",
            "pipeline_order",
            "stage",
            "order_nr",
            "deal_probability",
            "days_to_rotten",
            "definition",
            "is_deleted",
        ],
        (
            (
                s.pipeline.name,
                s.pipeline.order_nr,
                s.name,
                s.order_nr,
                s.deal_probability,
                s.days_to_rotten,
                s.definition,
                int(s.is_deleted),
            )
            for s in Stage.objects.select_related("pipeline").order_by("pipeline_id", "order_nr")
        ),
    )
    counts["lookups"] = _write(
        out / "lookups.csv",
        ["kind", "name", "order_nr", "is_active"],
        ((x.kind, x.name, x.order_nr, int(x.is_active)) for x in Lookup.objects.order_by("id")),
    )
    counts["custom_fields"] = _write(
        out / "custom_fields.csv",
        ["entity", "key", "name", "field_type", "options", "is_required", "order_nr"],
        (
            (
                f.entity,
                f.key,
                f.name,
                f.field_type,
                json.dumps(f.options),
                int(f.is_required),
                f.order_nr,
            )
            for f in CustomField.objects.order_by("id")
        ),
    )
    live = {"is_deleted": False}
    counts["organizations"] = _write(
        out / "organizations.csv",
        [
            "ruche_id",
            "name",
            "address",
            "postal_code",
            "city",
            "country",
            "siren",
            "siret",
            "vat_number",
            "industry",
            "size",
            "source",
            "owner",
            "visible_to",
            "external_id",
            "add_time",
            "custom_fields_json",
        ],
        (
            (
                o.pk,
                o.name,
                o.address,
                o.postal_code,
                o.city,
                o.country,
                o.siren,
                o.siret,
                o.vat_number,
                o.industry,
                o.size,
                lookups.get(o.source_id, ""),
                emails[o.owner_id],
                o.visible_to,
                o.external_id,
                _iso(o.add_time),
                _json(o.custom_fields),
            )
            for o in Organization.objects.filter(**live).order_by("id").iterator(2000)
        ),
    )
    counts["persons"] = _write(
        out / "persons.csv",
        [
            "ruche_id",
            "name",
            "first_name",
            "last_name",
            "email",
            "phone",
            "emails_json",
            "phones_json",
            "job_title",
            "org_ruche_id",
            "owner",
            "visible_to",
            "external_id",
            "add_time",
            "custom_fields_json",
        ],
        (
            (
                x.pk,
                x.name,
                x.first_name,
                x.last_name,
                ", ".join(e["value"] for e in x.emails),
                ", ".join(e["value"] for e in x.phones),
                _json(x.emails),
                _json(x.phones),
                x.job_title,
                x.org_id,
                emails[x.owner_id],
                x.visible_to,
                x.external_id,
                _iso(x.add_time),
                _json(x.custom_fields),
            )
            for x in Person.objects.filter(**live).order_by("id").iterator(2000)
        ),
    )
    counts["products"] = _write(
        out / "products.csv",
        [
            "ruche_id",
            "name",
            "code",
            "description",
            "unit",
            "unit_price",
            "currency",
            "vat_rate",
            "is_recurring",
            "is_active",
            "owner",
            "custom_fields_json",
        ],
        (
            (
                x.pk,
                x.name,
                x.code,
                x.description,
                x.unit,
                to_major(x.unit_price_minor, x.currency),
                x.currency,
                x.vat_rate,
                int(x.is_recurring),
                int(x.is_active),
                emails.get(x.owner_id, ""),
                _json(x.custom_fields),
            )
            for x in Product.objects.filter(**live).order_by("id")
        ),
    )
    counts["deals"] = _write(
        out / "deals.csv",
        [
            "ruche_id",
            "title",
            "value",
            "currency",
            "pipeline",
            "stage",
            "status",
            "owner",
            "org_ruche_id",
            "person_ruche_id",
            "expected_close_date",
            "probability",
            "lost_reason",
            "source",
            "labels",
            "competitor",
            "next_step",
            "description",
            "win_loss_report",
            "revenue_type",
            "recurring_monthly",
            "recurring_term_months",
            "recurring_start_date",
            "visible_to",
            "external_id",
            "add_time",
            "won_time",
            "lost_time",
            "close_time",
            "stage_change_time",
            "custom_fields_json",
        ],
        (
            (
                d.pk,
                d.title,
                to_major(d.value_minor, d.currency),
                d.currency,
                stage_names[d.stage_id][0],
                stage_names[d.stage_id][1],
                d.status,
                emails[d.owner_id],
                d.org_id,
                d.person_id,
                _iso(d.expected_close_date),
                d.probability,
                lookups.get(d.lost_reason_id, ""),
                lookups.get(d.source_id, ""),
                ", ".join(sorted(label.name for label in d.labels.all())),
                d.competitor,
                d.next_step,
                d.description,
                d.win_loss_report,
                d.revenue_type,
                _major(d.recurring_monthly_minor, d.currency),
                d.recurring_term_months,
                _iso(d.recurring_start_date),
                d.visible_to,
                d.external_id,
                _iso(d.add_time),
                _iso(d.won_time),
                _iso(d.lost_time),
                _iso(d.close_time),
                _iso(d.stage_change_time),
                _json(d.custom_fields),
            )
            for d in Deal.objects.filter(**live)
            .prefetch_related("labels")
            .order_by("id")
            .iterator(2000)
        ),
    )
    counts["deal_lines"] = _write(
        out / "deal_lines.csv",
        [
            "deal_ruche_id",
            "product_ruche_id",
            "name",
            "quantity",
            "unit_price",
            "discount_percent",
            "vat_rate",
            "comments",
            "order_nr",
        ],
        (
            (
                x.deal_id,
                x.product_id,
                x.name,
                x.quantity,
                to_major(x.unit_price_minor, x.deal.currency),
                x.discount_percent,
                x.vat_rate,
                x.comments,
                x.order_nr,
            )
            for x in DealLine.objects.filter(deal__is_deleted=False)
            .select_related("deal")
            .order_by("deal_id", "order_nr", "id")
            .iterator(2000)
        ),
    )
    counts["stage_entries"] = _write(
        out / "stage_entries.csv",
        ["deal_ruche_id", "pipeline", "stage", "from_stage", "entered_at", "left_at"],
        (
            (
                e.deal_id,
                stage_names[e.stage_id][0],
                stage_names[e.stage_id][1],
                stage_names[e.from_stage_id][1] if e.from_stage_id else "",
                _iso(e.entered_at),
                _iso(e.left_at),
            )
            for e in StageEntry.objects.filter(deal__is_deleted=False).order_by("id").iterator(2000)
        ),
    )
    counts["activities"] = _write(
        out / "activities.csv",
        [
            "subject",
            "type",
            "owner",
            "deal_ruche_id",
            "person_ruche_id",
            "org_ruche_id",
            "due_date",
            "due_time",
            "duration",
            "done",
            "marked_as_done_time",
            "note",
            "add_time",
        ],
        (
            (
                a.subject,
                a.type,
                emails[a.owner_id],
                a.deal_id,
                a.person_id,
                a.org_id,
                _iso(a.due_date),
                _iso(a.due_time),
                a.duration_minutes,
                int(a.done),
                _iso(a.marked_as_done_time),
                a.note,
                _iso(a.add_time),
            )
            for a in Activity.objects.filter(**live).order_by("id").iterator(2000)
        ),
    )
    counts["notes"] = _write(
        out / "notes.csv",
        ["content", "owner", "deal_ruche_id", "person_ruche_id", "org_ruche_id", "add_time"],
        (
            (n.content, emails[n.owner_id], n.deal_id, n.person_id, n.org_id, _iso(n.add_time))
            for n in Note.objects.filter(**live).order_by("id").iterator(2000)
        ),
    )
    counts["history"] = _write(
        out / "history.csv",
        [
            "entity",
            "entity_id",
            "event",
            "field",
            "old_value",
            "new_value",
            "actor_kind",
            "actor",
            "actor_label",
            "time",
        ],
        (
            (
                h.entity,
                h.entity_id,
                h.event,
                h.field,
                json.dumps(h.old_value),
                json.dumps(h.new_value),
                h.actor_kind,
                emails.get(h.actor_user_id, ""),
                h.actor_label,
                _iso(h.time),
            )
            for h in ChangeRecord.objects.order_by("id").iterator(5000)
        ),
    )
    return counts


def _rows(path: Path):
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _structure(directory: Path) -> None:
    """Users, pipelines and stages, lists and custom fields: created when missing."""
    User = get_user_model()
    from ruche.accounts.models import Team

    for row in _rows(directory / "users.csv"):
        if not User.objects.filter(email=row["email"]).exists():
            team = Team.objects.get_or_create(name=row["team"])[0] if row["team"] else None
            User.objects.create(
                email=row["email"],
                name=row["name"],
                role=row["role"],
                team=team,
                is_active=row["is_active"] == "1",
                password=make_password(None),
            )
    for row in _rows(directory / "stages.csv"):
        pipeline = Pipeline.objects.filter(name=row["pipeline"], is_deleted=False).first()
        if pipeline is None:
            pipeline = Pipeline.objects.create(
                name=row["pipeline"], order_nr=int(row["pipeline_order"])
            )
        if not pipeline.stages.filter(name=row["stage"]).exists():
            Stage.objects.create(
                pipeline=pipeline,
                name=row["stage"],
                order_nr=int(row["order_nr"]),
                deal_probability=int(row["deal_probability"]),
                days_to_rotten=int(row["days_to_rotten"]) if row["days_to_rotten"] else None,
                definition=row["definition"],
                is_deleted=row["is_deleted"] == "1",
            )
    for row in _rows(directory / "lookups.csv"):
        Lookup.objects.get_or_create(
            kind=row["kind"],
            name=row["name"],
            defaults={"order_nr": int(row["order_nr"]), "is_active": row["is_active"] == "1"},
        )
    for row in _rows(directory / "custom_fields.csv"):
        CustomField.objects.get_or_create(
            entity=row["entity"],
            key=row["key"],
            defaults={
                "name": row["name"],
                "field_type": row["field_type"],
                "options": json.loads(row["options"]),
                "is_required": row["is_required"] == "1",
                "order_nr": int(row["order_nr"]),
            },
        )


def import_all(*, directory: str | Path, user, dry_run: bool = False) -> dict:
    """Read back what `export_all` wrote, in one transaction: every file must import without
    error or nothing is kept."""
    from ruche.transfer.importers import _Rollback, import_file

    directory = Path(directory)
    reports: dict = {}
    id_maps: dict[str, dict[int, int]] = {}
    try:
        with transaction.atomic():
            _structure(directory)
            for entity in ORDER:
                path = directory / f"{entity}.csv"
                if not path.exists():
                    continue
                with open(path, encoding="utf-8") as handle:
                    headers = next(csv.reader(handle), [])
                columns = {h: h for h in headers if h in FIELDS[entity]}
                mapping = Mapping(
                    entity=entity, columns=columns, duplicates="create", create_related=True
                )
                _run, report = import_file(
                    user=user, path=path, mapping=mapping, id_maps=id_maps, skip_stage_history=True
                )
                reports[entity] = report.as_dict()
                if report.status != "done":
                    raise _Rollback()
            reports["stage_entries"] = _stage_entries(directory, id_maps)
            # The deals were tallied when imported, without entries: now with them.
            deals = id_ranges(list(id_maps.get("deal", {}).values()))
            tally_deals(id_ranges_q("deal_id", deals))
            reports["history"] = _history(directory, id_maps)
            if dry_run:
                raise _Rollback()
    except _Rollback:
        pass
    return reports


def _stage_entries(directory: Path, id_maps) -> int:
    stages = {
        (s.pipeline.name, s.name): s
        for s in Stage.objects.select_related("pipeline").filter(pipeline__is_deleted=False)
    }
    table = BulkTable(
        StageEntry, ("deal", "pipeline", "stage", "from_stage", "entered_at", "left_at")
    )
    rows = []
    for row in _rows(directory / "stage_entries.csv"):
        deal = id_maps.get("deal", {}).get(int(row["deal_ruche_id"]))
        if deal is None:
            continue
        stage = stages[(row["pipeline"], row["stage"])]
        from_stage = stages.get((row["pipeline"], row["from_stage"])) if row["from_stage"] else None
        rows.append(
            (
                deal,
                stage.pipeline_id,
                stage.pk,
                from_stage.pk if from_stage else None,
                parse_datetime(row["entered_at"]),
                parse_datetime(row["left_at"]),
            )
        )
    return table.write(rows)


HISTORY_ENTITIES = {
    "organization": "organization",
    "person": "person",
    "deal": "deal",
    "product": "product",
}


def _history(directory: Path, id_maps) -> int:
    """The exported history, attached to the new ids; entries of records not exported (deleted
    ones) are kept under their old id only if nothing else carries that id, so they are left
    out."""
    users = dict(get_user_model().objects.values_list("email", "pk"))
    table = BulkTable(
        ChangeRecord,
        (
            "entity",
            "entity_id",
            "event",
            "field",
            "old_value",
            "new_value",
            "actor_kind",
            "actor_user",
            "actor_label",
            "time",
        ),
    )
    rows = []
    for row in _rows(directory / "history.csv"):
        new_id = id_maps.get(HISTORY_ENTITIES.get(row["entity"], ""), {}).get(int(row["entity_id"]))
        if new_id is None:
            continue
        rows.append(
            (
                row["entity"],
                new_id,
                row["event"],
                row["field"],
                json.loads(row["old_value"]),
                json.loads(row["new_value"]),
                row["actor_kind"],
                users.get(row["actor"]),
                row["actor_label"],
                parse_datetime(row["time"]),
            )
        )
    return table.write(rows)
