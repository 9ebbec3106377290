"""Writing one checked row. New organisations, persons and deals go to the bulk writers
(ruche.transfer.bulk) with their history and stage entries; updates, products, deal lines,
activities and notes go through the domain services with the import's actor. What is created
or updated is remembered on the run (ImportedRecord) for undo. Records a run creates without
a date of their own take the run's time (`sink.now`), the time of their "created" history.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ruche.catalog.models import Product
from ruche.catalog.services import product_create, product_update
from ruche.contacts.models import Organization, Person
from ruche.contacts.services import organization_update, person_update
from ruche.core.custom_fields import custom_field_create
from ruche.core.history import Actor, json_safe, record_changes
from ruche.core.models import Lookup
from ruche.forecasting.stage_tallies import tallies_follow, tally_deals
from ruche.pipelines.models import Activity, Deal, Note
from ruche.pipelines.services import activity_create, deal_line_add, deal_update, note_create
from ruche.transfer import parsing as p
from ruche.transfer.bulk import id_ranges, id_ranges_q
from ruche.transfer.mapping import CUSTOM, CUSTOM_FIELD_ENTITY
from ruche.transfer.models import ImportedRecord
from ruche.transfer.undo import LABELS, deal_entries_state

ORG_COLUMNS = (
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
    "external_id",
    "source",
    "owner",
    "visible_to",
    "custom_fields",
    "add_time",
    "update_time",
)


PERSON_COLUMNS = (
    "name",
    "first_name",
    "last_name",
    "emails",
    "phones",
    "job_title",
    "external_id",
    "org",
    "owner",
    "visible_to",
    "custom_fields",
    "add_time",
    "update_time",
)


DEAL_COLUMNS = (
    "title",
    "org",
    "person",
    "creator",
    "pipeline",
    "stage",
    "status",
    "value_minor",
    "currency",
    "expected_close_date",
    "probability",
    "source",
    "lost_reason",
    "competitor",
    "next_step",
    "description",
    "win_loss_report",
    "external_id",
    "revenue_type",
    "recurring_monthly_minor",
    "recurring_term_months",
    "recurring_start_date",
    "stage_change_time",
    "won_time",
    "lost_time",
    "close_time",
    "owner",
    "visible_to",
    "custom_fields",
    "add_time",
    "update_time",
)


class RowWriters:
    """Mixed into `Importer`, which sets writers, sink, report, actor, ref and the mapping."""

    def flush(self) -> None:
        new_deals = id_ranges(list(self.writers["deal"].pending))
        for writer in self.writers.values():
            writer.flush(self.sink)
        self.sink.flush()
        # Tallied once their entries are written, before a later row may update them.
        tally_deals(id_ranges_q("deal_id", new_deals))
        if self.updated_records:
            ImportedRecord.objects.bulk_create(
                ImportedRecord(
                    run_id=self.run.pk,
                    entity=entity,
                    record_id=pk,
                    action=ImportedRecord.Action.UPDATED,
                    before=before,
                )
                for entity, pk, before in self.updated_records
            )
            self.updated_records = []
        if self.deal_labels:
            through = Deal.labels.through
            through.objects.bulk_create(
                through(deal_id=deal, lookup_id=label) for deal, label in self.deal_labels
            )
            self.deal_labels = []

    def _ensure_custom_fields(self) -> None:
        cf_entity = CUSTOM_FIELD_ENTITY.get(self.entity)
        if cf_entity is None or self.mapping.custom_fields != "create":
            self.new_custom_keys = {}
            return
        self.new_custom_keys = {}
        for target in self.columns.values():
            if not target.startswith(CUSTOM):
                continue
            name = target[len(CUSTOM) :]
            key = p.normalise_key(name)
            if key in self.ref.custom.get(cf_entity, {}):
                continue
            definition = custom_field_create(
                user=self.user, entity=cf_entity, data={"name": name, "field_type": "text"}
            )
            self.ref.custom.setdefault(cf_entity, {})[key] = definition
            self.new_custom_keys[name] = definition.key
            self.report.custom_fields_created.append(name)

    def _custom_fields(self, values: dict) -> dict:
        custom = values.get("custom_fields") or {}
        return {self.new_custom_keys.get(k, k): v for k, v in custom.items()}

    def _lookup_id(self, kind: str, value) -> int | None:
        if value is None or isinstance(value, int):
            return value
        key = (kind, p.normalise_key(value))
        if key not in self.ref.lookups:
            lookup = Lookup.objects.create(kind=kind, name=value)
            self.ref.lookups[key] = lookup.pk
            self.report.related_created[kind] = self.report.related_created.get(kind, 0) + 1
        return self.ref.lookups[key]

    def _remember(self, entity: str, old_id, new_id) -> None:
        if old_id:
            self.id_maps.setdefault(entity, {})[old_id] = new_id

    def _before(self, instance) -> dict:
        return {
            f.attname: json_safe(getattr(instance, f.attname))
            for f in instance._meta.concrete_fields
            if not f.primary_key
        }

    def _org_values(self, values: dict, now) -> dict:
        return {
            "name": values.get("name", ""),
            **{
                k: values.get(k, "")
                for k in (
                    "address",
                    "postal_code",
                    "city",
                    "country",
                    "siren",
                    "siret",
                    "vat_number",
                    "industry",
                    "size",
                    "external_id",
                )
            },
            "source": self._lookup_id("source", values.get("source")),
            "owner": values.get("owner"),
            "visible_to": values.get("visible_to") or self.ref.company.default_visibility,
            "custom_fields": self._custom_fields(values),
            "add_time": values.get("add_time") or now,
            "update_time": values.get("add_time") or now,
        }

    def _match_org(self, values: dict) -> tuple[int | None, bool]:
        """(existing id, matched by external id)."""
        index = self.ref.index("organization")
        if values.get("ruche_id") and self._mapped("organization", values["ruche_id"]):
            return self._mapped("organization", values["ruche_id"]), True
        if values.get("external_id") and values["external_id"] in index["ext"]:
            return index["ext"][values["external_id"]], True
        if values.get("siren") and values["siren"] in index["siren"]:
            return index["siren"][values["siren"]], False
        return index["name"].get(p.normalise_name(values.get("name", ""))), False

    def _add_org(self, model_values: dict) -> int:
        index = self.ref.index("organization")
        history = {k: v for k, v in model_values.items() if v not in ("", None, {})}
        pk = self.writers["organization"].add(model_values, history)
        if model_values.get("external_id"):
            index["ext"].setdefault(model_values["external_id"], pk)
        if model_values.get("siren"):
            index["siren"].setdefault(model_values["siren"], pk)
        index["name"].setdefault(p.normalise_name(model_values["name"]), pk)
        index["source"][pk] = model_values.get("source")  # known, even when None
        return pk

    def _write_organizations(self, values: dict, line: int) -> None:
        existing, by_ext = self._match_org(values)
        if values.get("ruche_id"):
            existing = None  # a full export read back: every row is a record of its own
        policy = self.mapping.duplicates
        if existing is not None and (policy == "skip" or (policy == "create" and by_ext)):
            self.report.skipped += 1
            self._remember("organization", values.get("ruche_id"), existing)
            return
        if existing is not None and policy == "update":
            self._update_org(existing, values)
            self._remember("organization", values.get("ruche_id"), existing)
            return
        pk = self._add_org(self._org_values(values, self.sink.now))
        self._remember("organization", values.get("ruche_id"), pk)
        self.report.created += 1

    def _update_org(self, pk: int, values: dict) -> None:
        writer = self.writers["organization"]
        if pk in writer.pending:
            writer.pending[pk].update(
                {
                    k: v
                    for k, v in self._org_values(values, self.sink.now).items()
                    if v not in ("", None, {}) and k not in ("add_time", "update_time")
                }
            )
            self.report.updated += 1
            return
        self.flush()
        organization = Organization.objects.get(pk=pk)
        before = self._before(organization)
        data = {
            k: values[k]
            for k in (
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
                "external_id",
                "visible_to",
            )
            if values.get(k)
        }
        if values.get("source"):
            data["source_id"] = self._lookup_id("source", values["source"])
        if "owner" in values and values["owner"] != organization.owner_id:
            data["owner_id"] = values["owner"]
        if values.get("custom_fields"):
            data["custom_fields"] = self._custom_fields(values)
        with transaction.atomic():
            organization_update(actor=self.actor, organization_id=pk, data=data)
        self.updated_records.append(("organization", pk, before))
        self.report.updated += 1

    def _person_values(self, values: dict, now) -> dict:
        return {
            "name": values.get("name") or values.get("person", ""),
            "first_name": values.get("first_name", ""),
            "last_name": values.get("last_name", ""),
            "emails": _points(values, "email") or _points(values, "person_email"),
            "phones": _points(values, "phone") or _points(values, "person_phone"),
            "job_title": values.get("job_title", ""),
            "external_id": values.get("external_id", ""),
            "org": values.get("org_id"),
            "owner": values.get("owner"),
            "visible_to": values.get("visible_to") or self.ref.company.default_visibility,
            "custom_fields": self._custom_fields(values),
            "add_time": values.get("add_time") or now,
            "update_time": values.get("add_time") or now,
        }

    def _add_person(self, model_values: dict) -> int:
        index = self.ref.index("person")
        history = {k: v for k, v in model_values.items() if v not in ("", None, {}, [])}
        pk = self.writers["person"].add(model_values, history)
        if model_values.get("external_id"):
            index["ext"].setdefault(model_values["external_id"], pk)
        for email in model_values["emails"]:
            index["email"].setdefault(email["value"].lower(), pk)
        index["name"].setdefault(p.normalise_name(model_values["name"]), pk)
        return pk

    def _org_for(self, values: dict, owner: int) -> int | None:
        """The organisation a person or deal row names, created when missing and allowed."""
        if not (
            values.get("org")
            or values.get("org_external_id")
            or values.get("org_siren")
            or values.get("org_ruche_id")
        ):
            return None
        found = self._find_org(values)
        if found is not None or not self.mapping.create_related or not values.get("org"):
            return found
        now = self.sink.now
        pk = self._add_org(
            self._org_values(
                {
                    "name": values["org"],
                    "siren": values.get("org_siren", ""),
                    "external_id": values.get("org_external_id", ""),
                    "owner": owner,
                },
                now,
            )
        )
        self.report.related_created["organization"] = (
            self.report.related_created.get("organization", 0) + 1
        )
        return pk

    def _write_persons(self, values: dict, line: int) -> None:
        index = self.ref.index("person")
        existing, by_ext = None, False
        if values.get("ruche_id"):
            pass
        elif values.get("external_id") and values["external_id"] in index["ext"]:
            existing, by_ext = index["ext"][values["external_id"]], True
        else:
            for email in values.get("email") or []:
                if email.lower() in index["email"]:
                    existing = index["email"][email.lower()]
                    break
            else:
                existing = index["name"].get(p.normalise_name(values["name"]))
        policy = self.mapping.duplicates
        values["org_id"] = self._org_for(values, values["owner"])
        if existing is not None and (policy == "skip" or (policy == "create" and by_ext)):
            self.report.skipped += 1
            return
        if existing is not None and policy == "update":
            self._update_person(existing, values)
            return
        pk = self._add_person(self._person_values(values, self.sink.now))
        self._remember("person", values.get("ruche_id"), pk)
        self.report.created += 1

    def _update_person(self, pk: int, values: dict) -> None:
        writer = self.writers["person"]
        if pk in writer.pending:
            new = self._person_values(values, self.sink.now)
            writer.pending[pk].update(
                {
                    k: v
                    for k, v in new.items()
                    if v not in ("", None, {}, []) and k not in ("add_time", "update_time")
                }
            )
            self.report.updated += 1
            return
        self.flush()
        person = Person.objects.get(pk=pk)
        before = self._before(person)
        data = {
            k: values[k]
            for k in ("name", "first_name", "last_name", "job_title", "external_id", "visible_to")
            if values.get(k)
        }
        if values.get("email"):
            data["emails"] = _points(values, "email")
        if values.get("phone"):
            data["phones"] = _points(values, "phone")
        if values.get("org_id"):
            data["org_id"] = values["org_id"]
        if "owner" in self.columns.values() and values["owner"] != person.owner_id:
            data["owner_id"] = values["owner"]
        if values.get("custom_fields"):
            data["custom_fields"] = self._custom_fields(values)
        with transaction.atomic():
            person_update(actor=self.actor, person_id=pk, data=data)
        self.updated_records.append(("person", pk, before))
        self.report.updated += 1

    def _person_for(self, values: dict, org_id: int | None, owner: int) -> int | None:
        if not (
            values.get("person")
            or values.get("person_email")
            or values.get("person_external_id")
            or values.get("person_ruche_id")
        ):
            return None
        found = self._find_person(values)
        if found is not None or not self.mapping.create_related:
            return found
        # A person known only by an email is named after it, as Pipedrive does.
        name = values.get("person") or (values.get("person_email") or [""])[0]
        if not name:
            return None
        pk = self._add_person(
            self._person_values(
                {
                    "person": values.get("person") or name,
                    **{
                        key: values.get(key)
                        for key in (
                            "person_email",
                            "person_email_points",
                            "person_phone",
                            "person_phone_points",
                        )
                    },
                    "external_id": values.get("person_external_id", ""),
                    "org_id": org_id,
                    "owner": owner,
                },
                self.sink.now,
            )
        )
        self.report.related_created["person"] = self.report.related_created.get("person", 0) + 1
        return pk

    def _write_deals(self, values: dict, line: int) -> None:
        index = self.ref.index("deal")
        owner = values["owner"]
        org_id = self._org_for(values, owner)
        person_id = self._person_for(values, org_id, owner)
        existing = None
        if values.get("external_id"):
            existing = index["ext"].get(values["external_id"])
        policy = self.mapping.duplicates
        if existing is not None and policy == "skip":
            self.report.skipped += 1
            return
        if existing is not None and policy == "update":
            self._update_deal(existing, values, org_id, person_id)
            return
        self._add_deal(values, org_id, person_id)

    def _add_deal(self, values: dict, org_id, person_id) -> None:
        now = self.sink.now
        status = values["status"]
        add_time = values.get("add_time") or now
        won_time = values.get("won_time") if status == "won" else None
        lost_time = values.get("lost_time") if status == "lost" else None
        close = values.get("close_time")
        if status == "won":
            won_time = won_time or close or now
        if status == "lost":
            lost_time = lost_time or close or now
        close_time = won_time or lost_time
        stage = values["stage"]
        entered = dict(values.get("entered") or {})
        stage_change = (
            values.get("stage_change_time")
            or entered.get(stage.pk)
            or (max(entered.values()) if entered else add_time)
        )
        probability = values.get("probability")
        if status == "won":
            probability = 100
        elif status == "lost":
            probability = 0
        title = values.get("title") or values.get("org")
        # As deal_create does, a deal without a source takes its organisation's (not when an
        # export is read back: the deal's own empty source is the value to keep).
        org_source = None
        if not values.get("ruche_id"):
            org_source = self.ref.index("organization")["source"].get(org_id)
        model_values = {
            "title": title,
            "org": org_id,
            "person": person_id,
            "creator": self.user.pk if self.user else None,
            "pipeline": values["pipeline"].pk,
            "stage": stage.pk,
            "status": status,
            "value_minor": values.get("value_minor", 0),
            "currency": values["currency"],
            "expected_close_date": values.get("expected_close_date")
            or (timezone.localdate() + _days(self.ref.company.default_close_days)),
            "probability": probability,
            "source": self._lookup_id("source", values.get("source")) or org_source,
            "lost_reason": self._lookup_id("loss_reason", values.get("lost_reason")),
            **{
                k: values.get(k, "")
                for k in (
                    "competitor",
                    "next_step",
                    "description",
                    "win_loss_report",
                    "external_id",
                )
            },
            "revenue_type": values.get("revenue_type") or Deal.RevenueType.ONE_OFF,
            "recurring_monthly_minor": values.get("recurring_monthly_minor"),
            "recurring_term_months": values.get("recurring_term_months"),
            "recurring_start_date": values.get("recurring_start_date"),
            "stage_change_time": stage_change,
            "won_time": won_time,
            "lost_time": lost_time,
            "close_time": close_time,
            "owner": values["owner"],
            "visible_to": values.get("visible_to") or self.ref.company.default_visibility,
            "custom_fields": self._custom_fields(values),
            "add_time": add_time,
            "update_time": now,
        }
        history = {
            k: v
            for k, v in model_values.items()
            if v not in ("", None, {}) and k not in ("update_time", "stage_change_time")
        }
        labels = [self._lookup_id("label", x) for x in values.get("labels") or []]
        if labels:
            history["labels"] = sorted(labels)
        pk = self.writers["deal"].add(model_values, history)
        self.deal_labels += [(pk, label) for label in labels]
        self._remember("deal", values.get("ruche_id"), pk)
        index = self.ref.index("deal")
        if model_values["external_id"]:
            index["ext"].setdefault(model_values["external_id"], pk)
        if not self.skip_stage_history:
            self._stage_history(pk, values["pipeline"].pk, stage, entered, add_time)
        self.report.created += 1

    def _stage_history(self, deal_id, pipeline_id, stage, entered: dict, add_time) -> None:
        """Rebuild the stage entries: one per stage with a date, in date order, ending in the
        current stage; without dates, one entry for the current stage at the creation time.
        The last entry stays open, as for a deal moved by hand."""
        order = self.ref.stage_order
        steps = sorted(entered.items(), key=lambda item: (item[1], order.get(item[0], 0)))
        if not steps or steps[-1][0] != stage.pk:
            steps = [s for s in steps if s[0] != stage.pk]
            last_time = steps[-1][1] if steps else add_time
            steps.append((stage.pk, max(entered.get(stage.pk) or add_time, last_time)))
        previous = None
        for i, (stage_id, at) in enumerate(steps):
            left = steps[i + 1][1] if i + 1 < len(steps) else None
            self.sink.stage_entry(deal_id, pipeline_id, stage_id, previous, at, left)
            previous = stage_id

    def _update_deal(self, pk: int, values: dict, org_id, person_id) -> None:
        self.flush()
        deal = Deal.objects.get(pk=pk)
        before = self._before(deal) | deal_entries_state(deal)
        before[LABELS] = sorted(deal.labels.values_list("pk", flat=True))
        data: dict = {}
        for key in (
            "title",
            "competitor",
            "next_step",
            "description",
            "expected_close_date",
            "probability",
            "visible_to",
            "revenue_type",
            # deal_update converts the monthly amount in the deal's (new) currency.
            "recurring_monthly",
            "recurring_term_months",
            "recurring_start_date",
        ):
            if values.get(key) not in (None, ""):
                data[key] = values[key]
        if values.get("value") is not None and not deal.lines.exists():
            data["value"] = values["value"]
        if (
            values.get("currency")
            and values["currency"] != deal.currency
            and not deal.lines.exists()
        ):
            data["currency"] = values["currency"]
        if values.get("stage") and values["stage"].pk != deal.stage_id:
            data["stage_id"] = values["stage"].pk
        if values.get("status") and values["status"] != deal.status:
            data["status"] = values["status"]
        if values.get("lost_reason"):
            data["lost_reason_id"] = self._lookup_id("loss_reason", values["lost_reason"])
        if org_id and org_id != deal.org_id:
            data["org_id"] = org_id
        if person_id and person_id != deal.person_id:
            data["person_id"] = person_id
        if values["owner"] != deal.owner_id and "owner" in self.columns.values():
            data["owner_id"] = values["owner"]
        if values.get("source"):
            data["source_id"] = self._lookup_id("source", values["source"])
        if values.get("labels"):
            data["label_ids"] = [self._lookup_id("label", x) for x in values["labels"]]
        if values.get("custom_fields"):
            data["custom_fields"] = self._custom_fields(values)
        with transaction.atomic():
            deal = deal_update(actor=self.actor, deal_id=pk, data=data)
            times = {}
            for name in ("won_time", "lost_time"):
                wanted = values.get(name)
                if wanted and deal.status == name[:-5] and getattr(deal, name) != wanted:
                    times[name] = (getattr(deal, name), wanted)
            if times:
                with tallies_follow(Q(deal_id=pk)):
                    for name, (_, new) in times.items():
                        setattr(deal, name, new)
                    deal.close_time = deal.won_time or deal.lost_time
                    deal.save(update_fields=["won_time", "lost_time", "close_time"])
                record_changes("deal", pk, self.actor, times)
        self.updated_records.append(("deal", pk, before))
        self.report.updated += 1

    def _write_products(self, values: dict, line: int) -> None:
        index = self.ref.index("product")
        existing = None
        if values.get("ruche_id"):
            pass
        elif values.get("code"):
            existing = index["code"].get(values["code"].lower())
        else:
            existing = index["name"].get(p.normalise_key(values["name"]))
        data = {
            k: values[k]
            for k in (
                "name",
                "code",
                "description",
                "unit",
                "unit_price",
                "currency",
                "vat_rate",
                "is_recurring",
                "is_active",
            )
            if values.get(k) is not None
        }
        if "owner" in self.columns.values():
            data["owner_id"] = values.get("owner")
        if values.get("custom_fields"):
            data["custom_fields"] = self._custom_fields(values)
        policy = self.mapping.duplicates
        if existing is not None and policy == "skip":
            self.report.skipped += 1
            self._remember("product", values.get("ruche_id"), existing)
            return
        self.flush()
        with transaction.atomic():
            if existing is not None and policy == "update":
                before = self._before(Product.objects.get(pk=existing))
                product_update(actor=self.actor, product_id=existing, data=data)
                self.updated_records.append(("product", existing, before))
                self.report.updated += 1
                self._remember("product", values.get("ruche_id"), existing)
                return
            product = product_create(actor=self.actor, data=data)
        self._remember("product", values.get("ruche_id"), product.pk)
        if product.code:
            index["code"].setdefault(product.code.lower(), product.pk)
        index["name"].setdefault(p.normalise_key(product.name), product.pk)
        self.service_created.setdefault("product", []).append(product.pk)
        self.report.created += 1

    def _write_deal_lines(self, values: dict, line: int) -> None:
        self.flush()
        data = {
            k: values[k]
            for k in (
                "name",
                "quantity",
                "unit_price",
                "discount_percent",
                "vat_rate",
                "comments",
                "order_nr",
                "product_id",
            )
            if values.get(k) is not None
        }
        with transaction.atomic():
            deal_line = deal_line_add(actor=self.actor, deal_id=values["deal_id"], data=data)
        self.service_created.setdefault("deal_line", []).append(deal_line.pk)
        self.report.created += 1

    def _write_activities(self, values: dict, line: int) -> None:
        self.flush()
        data = {
            k: values[k]
            for k in (
                "subject",
                "type",
                "note",
                "deal_id",
                "person_id",
                "org_id",
                "due_date",
                "due_time",
                "done",
            )
            if values.get(k) is not None
        }
        if values.get("duration") is not None:
            data["duration"] = values["duration"]
        data["owner_id"] = values["owner"]
        with transaction.atomic():
            activity = activity_create(actor=self.actor, data=data)
            extra = {}
            if values.get("add_time"):
                extra["add_time"] = extra["update_time"] = values["add_time"]
            if values.get("done") and values.get("marked_as_done_time"):
                extra["marked_as_done_time"] = values["marked_as_done_time"]
            if values.get("custom_fields"):
                extra["custom_fields"] = self._custom_fields(values)
            if extra:
                Activity.objects.filter(pk=activity.pk).update(
                    **{k: v for k, v in extra.items() if k != "custom_fields"}
                )
        self.service_created.setdefault("activity", []).append(activity.pk)
        self.report.created += 1

    def _write_notes(self, values: dict, line: int) -> None:
        self.flush()
        data = {
            k: values[k]
            for k in ("content", "deal_id", "person_id", "org_id")
            if values.get(k) is not None
        }
        owner = get_user_model().objects.get(pk=values["owner"])
        actor = Actor(self.actor.kind, user=owner, label=self.actor.label)
        with transaction.atomic():
            note = note_create(actor=actor, data=data)
            if values.get("add_time"):
                Note.objects.filter(pk=note.pk).update(
                    add_time=values["add_time"], update_time=values["add_time"]
                )
        self.service_created.setdefault("note", []).append(note.pk)
        self.report.created += 1


def _days(n: int):

    return dt.timedelta(days=n)


def _points(values: dict, target: str) -> list[dict]:
    """Emails or phones with their labels; exactly one primary, the first unless one is."""
    points = [dict(x) for x in values.get(f"{target}_points") or []]
    if not points:
        points = [{"value": v, "label": "work", "primary": False} for v in values.get(target) or []]
    if points and not any(x["primary"] for x in points):
        points[0]["primary"] = True
    return points
