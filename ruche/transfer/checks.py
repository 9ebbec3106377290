"""Reading and checking one row: every mapped cell parsed (ruche.transfer.parsing), then the
entity's rules (required fields, stages of the pipeline, loss reasons, SIREN/SIRET/VAT numbers,
references to organisations, persons, deals and products). Problems are collected per row as
(column, plain reason) and raised together as `RowErrors`; nothing here writes.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache

from babel import Locale
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from ruche.accounts.models import Company
from ruche.catalog.models import Product
from ruche.core.exceptions import ValidationError
from ruche.core.models import CustomField, Lookup, Visibility
from ruche.core.money import to_minor, validate_currency
from ruche.pipelines.models import Activity, Deal, Pipeline, Stage
from ruche.transfer import parsing as p
from ruche.transfer.keys import INDEX_NAMES, RecordIndexes
from ruche.transfer.mapping import (
    CUSTOM,
    CUSTOM_FIELD_ENTITY,
    MULTI_TARGETS,
    PRICE,
    STAGE_ENTERED,
    point_label,
)

STATUS_WORDS = {
    "open": "open",
    "ouvert": "open",
    "ouverte": "open",
    "en cours": "open",
    "actif": "open",
    "won": "won",
    "gagne": "won",
    "gagnee": "won",
    "signe": "won",
    "signee": "won",
    "lost": "lost",
    "perdu": "lost",
    "perdue": "lost",
}

ACTIVITY_TYPES = {
    "call": "call",
    "appel": "call",
    "telephone": "call",
    "meeting": "meeting",
    "reunion": "meeting",
    "rendez vous": "meeting",
    "rdv": "meeting",
    "lunch": "meeting",
    "dejeuner": "meeting",
    "task": "task",
    "tache": "task",
    "email": "email",
    "e mail": "email",
    "mail": "email",
    "courriel": "email",
    "deadline": "deadline",
    "echeance": "deadline",
}

REVENUE_TYPES = {
    "one off": Deal.RevenueType.ONE_OFF,
    "ponctuel": Deal.RevenueType.ONE_OFF,
    "ponctuelle": Deal.RevenueType.ONE_OFF,
    "vente ponctuelle": Deal.RevenueType.ONE_OFF,
    "one time": Deal.RevenueType.ONE_OFF,
    "recurring": Deal.RevenueType.RECURRING,
    "recurrent": Deal.RevenueType.RECURRING,
    "recurrente": Deal.RevenueType.RECURRING,
    "abonnement": Deal.RevenueType.RECURRING,
    "subscription": Deal.RevenueType.RECURRING,
    "services": Deal.RevenueType.SERVICES,
    "service": Deal.RevenueType.SERVICES,
    "prestation": Deal.RevenueType.SERVICES,
    "prestations": Deal.RevenueType.SERVICES,
    "prestation de services": Deal.RevenueType.SERVICES,
}
# A recurring contract's term, as the API accepts it (ruche/api/deals.py): "12", "12 mois".
TERM_MONTHS = (1, 600)
_MONTHS_UNIT = re.compile(r"\s*(?:mois|months?)\s*$", re.IGNORECASE)


def _one_of(raw, words: dict[str, str], what: str, expected: str) -> str:
    """The value a cell's word stands for in `words` (normalised), else an error listing them."""
    value = p.text(raw)
    found = words.get(p.normalise_key(value))
    if found is None:
        raise p.ParseError(f"Unknown {what} {value!r}: {expected}.")
    return found


VISIBILITY_WORDS = {
    "1": Visibility.OWNER,
    "3": Visibility.TEAM,
    "7": Visibility.EVERYONE,
    "owner": Visibility.OWNER,
    "owner only": Visibility.OWNER,
    "proprietaire": Visibility.OWNER,
    "owner s visibility group": Visibility.TEAM,
    "team": Visibility.TEAM,
    "equipe": Visibility.TEAM,
    "everyone": Visibility.EVERYONE,
    "entire company": Visibility.EVERYONE,
    "tout le monde": Visibility.EVERYONE,
    "entreprise": Visibility.EVERYONE,
    # Pipedrive's labels, old and new.
    "owner followers": Visibility.OWNER,
    "item owner": Visibility.OWNER,
    "private": Visibility.OWNER,
    "owner s visibility group and sub groups": Visibility.TEAM,
    "all users": Visibility.EVERYONE,
    "shared": Visibility.EVERYONE,
}


class RowErrors(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors


def _countries() -> dict[str, str]:
    names = {}
    for locale in ("fr", "en"):
        for code, name in Locale.parse(locale).territories.items():
            if len(code) == 2 and code.isalpha():
                names[p.normalise_key(name)] = code
    return names


def _max_lengths(model) -> dict[str, int]:
    return {f.name: f.max_length for f in model._meta.fields if getattr(f, "max_length", None)}


class Reference:
    """What rows refer to, loaded once per run: users, pipelines, stages, lookups, records."""

    def __init__(self):
        users = get_user_model().objects.filter(is_active=True).values_list("pk", "email", "name")
        self.user_by_email = {email.lower(): pk for pk, email, _ in users}
        self.user_by_name: dict[str, int] = {}
        for pk, _, name in users:
            if name:
                self.user_by_name.setdefault(p.normalise_key(name), pk)
        self.pipelines = list(Pipeline.objects.filter(is_deleted=False))
        self.pipeline_by_name = {p.normalise_key(x.name): x for x in self.pipelines}
        self.stages: dict[int, dict[str, Stage]] = {}
        self.stage_list: dict[int, list[Stage]] = {}
        for stage in Stage.objects.filter(is_deleted=False).order_by("pipeline_id", "order_nr"):
            self.stages.setdefault(stage.pipeline_id, {})[p.normalise_key(stage.name)] = stage
            self.stage_list.setdefault(stage.pipeline_id, []).append(stage)
        # A stage's place in its pipeline, to order a deal's stage entries of the same date.
        self.stage_order = {
            stage.pk: i for stages in self.stage_list.values() for i, stage in enumerate(stages)
        }
        self.lookups: dict[tuple[str, str], int] = {
            (kind, p.normalise_key(name)): pk
            for pk, kind, name in Lookup.objects.values_list("pk", "kind", "name")
        }
        self.company = Company.current()
        self.countries = _countries()
        self.custom: dict[str, dict[str, CustomField]] = {}
        for definition in CustomField.objects.all():
            self.custom.setdefault(definition.entity, {})[p.normalise_key(definition.name)] = (
                definition
            )
        self.custom_keys = {(d.entity, d.key) for e in self.custom.values() for d in e.values()}
        self._records: dict[str, dict] = {}
        self.records = RecordIndexes()

    def stage_names(self) -> list[str]:
        return [s.name for stages in self.stage_list.values() for s in stages]

    # Existing records, indexed on first use ------------------------------------------------
    def index(self, entity: str) -> dict:
        """Organisations, persons and deals: keys in a temporary table (ruche.transfer.keys),
        read chunk by chunk; products and deal titles: dicts."""
        if entity in INDEX_NAMES:
            return self.records.index(entity)
        if entity not in self._records:
            self._records[entity] = getattr(self, f"_index_{entity}")()
        return self._records[entity]

    def end_chunk(self) -> None:
        self.records.end_chunk()

    def close(self) -> None:
        self.records.close()

    def _index_deal_title(self):
        """Deals by title, for activities, notes and lines naming their deal; None marks a
        title several deals share."""
        titles: dict[str, int | None] = {}
        for pk, title in Deal.objects.filter(is_deleted=False).values_list("pk", "title"):
            key = p.normalise_key(title)
            titles[key] = None if key in titles else pk
        return titles

    def _index_product(self):
        index = {"code": {}, "name": {}}
        for pk, name, code in Product.objects.filter(is_deleted=False).values_list(
            "pk", "name", "code"
        ):
            if code:
                index["code"].setdefault(code.lower(), pk)
            index["name"].setdefault(p.normalise_key(name), pk)
        return index


# The cells that name an organisation, a person or a deal to match, per target.
KEY_TARGETS = {
    "external_id",
    "name",
    "first_name",
    "last_name",
    "siren",
    "siret",
    "email",
    "org",
    "org_external_id",
    "org_siren",
    "person",
    "person_email",
    "person_external_id",
    "deal_external_id",
}


def _emails(text: str) -> list[str]:
    return [e.strip().lower() for e in text.replace(";", ",").split(",") if e.strip()]


def _match_keys(entity: str, target: str, text: str, cells: dict) -> list[tuple[str, str, str]]:
    """(entity, index name, key) for one cell of a file of `entity`, keyed as
    ruche.transfer.keys stores them."""
    own = {"organizations": "organization", "persons": "person", "deals": "deal"}.get(entity)
    if target == "external_id":
        return [(own, "ext", text)] if own else []
    if target == "name" and own in ("organization", "person"):
        return [(own, "name", p.normalise_name(text))]
    if target == "first_name" and "name" not in cells:
        full = f"{text} {cells.get('last_name', '')}".strip()
        return [("person", "name", p.normalise_name(full))]
    if target in ("email", "person_email"):
        return [("person", "email", email) for email in _emails(text)]
    if target in ("siren", "org_siren"):
        return [("organization", "siren", stdnum_siren.compact(text))]
    if target == "siret":
        return [("organization", "siren", stdnum_siret.compact(text)[:9])]
    if target in ("org", "person"):
        return [("organization" if target == "org" else "person", "name", p.normalise_name(text))]
    entity = {
        "org_external_id": "organization",
        "person_external_id": "person",
        "deal_external_id": "deal",
    }.get(target)
    return [(entity, "ext", text)] if entity else []


def _suggest(value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Known: {', '.join(known)}." if len(known) <= 12 else hint


@lru_cache(maxsize=4096)
def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError) and error.field_errors:
        return " ".join(str(v) for v in error.field_errors.values())
    return str(error) or error.__class__.__name__


class RowChecks:
    """Mixed into `Importer`, which sets mapping, columns, plan, ref, id_maps, defaults."""

    def parse(self, row: dict) -> dict:
        """{target: value} for the non-empty mapped cells; RowErrors lists every problem."""
        values: dict = {}
        errors: list[tuple[str, str]] = []
        for header, target, read, translated in self.plan:
            raw = row.get(header)
            if raw is None or raw == "" or (isinstance(raw, str) and not raw.strip()):
                continue
            if translated and isinstance(raw, str):
                raw = self.mapping.value_for(target, raw.strip())
            try:
                value = read(raw)
                if target in MULTI_TARGETS:
                    # Several email or phone columns, each with its label ("Email - Home").
                    label = point_label(header)
                    points = values.setdefault(f"{target}_points", [])
                    points += [{"value": v, "label": label, "primary": False} for v in value]
                    value = values.get(target, []) + value
                values[target] = value
            except (p.ParseError, ValidationError) as error:
                errors.append((header, _reason(error)))
        if "__extra__" in row:
            errors.append(("", f"{len(row['__extra__'])} more cells than there are headers."))
        try:
            getattr(self, f"_check_{self.entity}")(values)
        except RowErrors as error:
            errors.extend(error.errors)
        if errors:
            raise RowErrors(errors)
        return values

    def prefetch(self, chunk: list[tuple[int, dict]]) -> None:
        """Look up at once the organisations, persons and deals the chunk's cells name (see
        ruche.transfer.keys); a key missed here is looked up when met."""
        wanted: dict[tuple[str, str], set[str]] = {}
        key_plan = [(h, t, translated) for h, t, _, translated in self.plan if t in KEY_TARGETS]
        for _line, row in chunk:
            cells = {}
            for header, target, translated in key_plan:
                raw = row.get(header)
                if raw not in (None, ""):
                    text = p.text(raw)
                    cells[target] = self.mapping.value_for(target, text) if translated else text
            for target, text in cells.items():
                for entity, name, key in _match_keys(self.entity, target, text, cells):
                    wanted.setdefault((entity, name), set()).add(key)
        for (entity, name), keys in wanted.items():
            self.ref.index(entity)[name].prefetch(keys)
        if self.entity == "deals" and ("organization", "name") in wanted:
            # A deal without a source takes its organisation's.
            organizations = self.ref.index("organization")
            found = [
                pk
                for name in INDEX_NAMES["organization"]
                for pk in organizations[name].known.values()
            ]
            organizations["source"].prefetch(found)

    def mapped_with(self, prefix: str) -> list[str]:
        """The mapped targets starting with `prefix` (custom fields, stage dates), found once
        rather than by scanning every row's values."""
        if prefix not in self.targets_by_prefix:
            targets = dict.fromkeys(t for t in self.columns.values() if t.startswith(prefix))
            self.targets_by_prefix[prefix] = list(targets)
        return self.targets_by_prefix[prefix]

    def header_of(self, target: str) -> str:
        return self.header_by_target.get(target, target)

    def _parser(self, target: str, kind: str):
        """The function reading one cell of `target` (a field of kind `kind`)."""
        simple = {
            "amount": p.parse_amount,
            "decimal": p.parse_decimal,
            "int": p.parse_int,
            "ref": p.parse_int,
            "percent": p.parse_percent,
            "bool": p.parse_bool,
            "date": p.parse_date,
            "datetime": p.parse_datetime,
            "time": p.parse_time,
            "duration": p.parse_duration_minutes,
            "currency": lambda raw: validate_currency(p.text(raw)),
            "stage": p.text,
            "pipeline": p.text,
            "lost_reason": p.text,
            "source": p.text,
            "custom": p.text,
        }
        if kind in simple:
            return simple[kind]
        if kind in ("text", "org_name", "person_name", "deal_title", "product_name"):
            limit = self.lengths.get(target)
            if target in ("siren", "siret", "vat_number", "org_siren"):
                limit = 40  # compacted by the number check

            def text(raw):
                value = p.text(raw)
                if limit and len(value) > limit:
                    raise p.ParseError(f"At most {limit} characters ({len(value)} given).")
                return value

            return text
        return getattr(self, f"_cell_{kind}")

    def _cell_country(self, raw) -> str:
        value = p.text(raw)
        if len(value) == 2 and value.isalpha():
            return value.upper()
        code = self.ref.countries.get(p.normalise_key(value))
        if code is None:
            raise p.ParseError(f"Unknown country {value!r}.")
        return code

    def _cell_email(self, raw) -> list[str]:
        emails = [e.strip() for e in p.text(raw).replace(";", ",").split(",") if e.strip()]
        for email in emails:
            if not _is_email(email):
                raise p.ParseError(f"{email!r} is not an email address.")
        return emails

    def _cell_phone(self, raw) -> list[str]:
        phones = [x.strip() for x in p.text(raw).replace(";", ",").split(",") if x.strip()]
        for phone in phones:
            if not 3 <= sum(c.isdigit() for c in phone) <= 20 or len(phone) > 40:
                raise p.ParseError(f"{phone!r} is not a phone number.")
        return phones

    def _cell_owner(self, raw) -> int:
        value = p.text(raw)
        owner = self.ref.user_by_email.get(value.lower()) or self.ref.user_by_name.get(
            p.normalise_key(value)
        )
        if owner is None:
            raise p.ParseError(f"Unknown user {value!r} (give an email or a name).")
        return owner

    def _cell_status(self, raw) -> str:
        return _one_of(raw, STATUS_WORDS, "status", "open, won or lost")

    def _cell_revenue_type(self, raw) -> str:
        return _one_of(raw, REVENUE_TYPES, "revenue type", "one_off, recurring or services")

    def _cell_term_months(self, raw) -> int:
        """A recurring contract's term: a whole number of months, in the range the API takes."""
        value = p.text(raw)
        try:
            months = p.parse_int(_MONTHS_UNIT.sub("", value))
        except p.ParseError:
            raise p.ParseError(f"{value!r} is not a number of months.") from None
        low, high = TERM_MONTHS
        if not low <= months <= high:
            raise p.ParseError(f"A term is {low} to {high} months, not {value!r}.")
        return months

    def _cell_activity_type(self, raw) -> str:
        value = p.text(raw)
        kind = ACTIVITY_TYPES.get(p.normalise_key(value))
        if kind is None:
            known = list(Activity.Type.values)
            raise p.ParseError(f"Unknown activity type {value!r}.{_suggest(value, known)}")
        return kind

    def _cell_visibility(self, raw) -> int:
        value = VISIBILITY_WORDS.get(p.normalise_key(p.text(raw)))
        if value is None:
            raise p.ParseError(f"Unknown visibility {p.text(raw)!r}: owner, team, everyone.")
        return int(value)

    def _cell_labels(self, raw) -> list[str]:
        return list(dict.fromkeys(x.strip() for x in p.text(raw).split(",") if x.strip()))

    def _cell_points_json(self, raw) -> list[dict]:
        """An export's [{value, label, primary}] list, kept as it is."""
        try:
            points = json.loads(p.text(raw))
        except json.JSONDecodeError:
            raise p.ParseError("Not a JSON list.") from None
        if not isinstance(points, list) or not all(
            isinstance(x, dict) and isinstance(x.get("value"), str) for x in points
        ):
            raise p.ParseError('A JSON list of {"value", "label", "primary"} is expected.')
        return [
            {
                "value": x["value"],
                "label": str(x.get("label") or "work"),
                "primary": bool(x.get("primary")),
            }
            for x in points
        ]

    def _cell_custom_json(self, raw) -> dict:
        try:
            value = json.loads(p.text(raw))
        except json.JSONDecodeError:
            raise p.ParseError("Not a JSON object.") from None
        if not isinstance(value, dict):
            raise p.ParseError("Not a JSON object.")
        return value

    def _lookup(self, kind: str, name: str, column: str, errors: list) -> int | str | None:
        """A Lookup id, or the name itself when it will be created."""
        pk = self.ref.lookups.get((kind, p.normalise_key(name)))
        if pk is not None:
            return pk
        if self.mapping.create_related:
            return name
        known = sorted(n for (k, _), n in self._lookup_names().items() if k == kind)
        errors.append(
            (column, f"Unknown {kind.replace('_', ' ')} {name!r}.{_suggest(name, known)}")
        )
        return None

    def _lookup_names(self):
        if not hasattr(self, "_lookup_name_cache"):
            self._lookup_name_cache = {
                (kind, p.normalise_key(name)): name
                for kind, name in Lookup.objects.values_list("kind", "name")
            }
        return self._lookup_name_cache

    def _custom(self, values: dict, errors: list) -> None:
        cf_entity = CUSTOM_FIELD_ENTITY.get(self.entity)
        custom = {}
        for target in [t for t in self.mapped_with(CUSTOM) if t in values]:
            name = target[len(CUSTOM) :]
            definition = self.ref.custom.get(cf_entity, {}).get(p.normalise_key(name))
            raw = values.pop(target)
            if definition is None:
                if self.mapping.custom_fields != "create":
                    errors.append((self.header_of(target), f"No custom field named {name!r}."))
                    continue
                custom[name] = raw
                continue
            try:
                custom[definition.key] = self._custom_value(definition, raw)
            except p.ParseError as error:
                errors.append((self.header_of(target), str(error)))
        if "custom_fields_json" in values:
            stored = values.pop("custom_fields_json")
            unknown = [k for k in stored if (cf_entity, k) not in self.ref.custom_keys]
            if unknown:
                errors.append(
                    (
                        self.header_of("custom_fields_json"),
                        f"Unknown custom field keys: {', '.join(unknown)}.",
                    )
                )
            custom.update({k: v for k, v in stored.items() if k not in unknown})
            values["_custom_raw"] = True
        if custom:
            values["custom_fields"] = custom

    def _custom_value(self, definition: CustomField, raw: str):
        kind = definition.field_type
        if kind == CustomField.FieldType.TEXT:
            return raw
        if kind == CustomField.FieldType.NUMBER:
            return str(p.parse_decimal(raw))
        if kind == CustomField.FieldType.DATE:
            return p.parse_date(raw).isoformat()
        if kind == CustomField.FieldType.MONEY:
            amount, currency = p.parse_amount(raw)
            currency = currency or self.default_currency
            return {"amount_minor": to_minor(amount, currency), "currency": currency}
        if kind in (CustomField.FieldType.SINGLE_CHOICE, CustomField.FieldType.MULTIPLE_CHOICE):
            labels = {p.normalise_key(o["label"]): o["id"] for o in definition.options}
            chosen = []
            for part in raw.split(",") if kind == "set" else [raw]:
                option = labels.get(p.normalise_key(part))
                if option is None:
                    raise p.ParseError(f"Unknown option {part.strip()!r} for {definition.name}.")
                chosen.append(option)
            return chosen[0] if kind == "enum" else sorted(set(chosen))
        if kind == CustomField.FieldType.USER:
            user = self.ref.user_by_email.get(raw.lower())
            if user is None:
                raise p.ParseError(f"Unknown user {raw!r}.")
            return user
        return raw

    def _owner(self, values: dict) -> None:
        if "owner" not in values:
            values["owner"] = self.default_owner

    def _check_numbers(self, values: dict, errors: list) -> None:
        for name, module, label in (
            ("siren", stdnum_siren, "SIREN"),
            ("siret", stdnum_siret, "SIRET"),
            ("vat_number", stdnum_vat, "VAT number"),
        ):
            if values.get(name):
                try:
                    values[name] = module.validate(values[name])
                except StdnumError as error:
                    errors.append((self.header_of(name), f"Invalid {label}: {error}"))
        if values.get("siret") and not values.get("siren"):
            values["siren"] = values["siret"][:9]

    def _check_organizations(self, values: dict) -> None:
        errors: list = []
        if not values.get("name"):
            errors.append((self.header_of("name"), "An organization needs a name."))
        self._check_numbers(values, errors)
        if values.get("source"):
            values["source"] = self._lookup(
                "source", values["source"], self.header_of("source"), errors
            )
        self._owner(values)
        self._custom(values, errors)
        if errors:
            raise RowErrors(errors)

    def _check_persons(self, values: dict) -> None:
        errors: list = []
        if not values.get("name"):
            full = f"{values.get('first_name', '')} {values.get('last_name', '')}".strip()
            if not full:
                errors.append((self.header_of("name"), "A person needs a name."))
            values["name"] = full
        for target, exact in (("email", "emails_json"), ("phone", "phones_json")):
            if exact in values:  # an export read back: its exact list wins
                values[f"{target}_points"] = values.pop(exact)
                values[target] = [x["value"] for x in values[f"{target}_points"]]
        self._check_org_ref(values, errors)
        self._owner(values)
        self._custom(values, errors)
        if errors:
            raise RowErrors(errors)

    def _check_org_ref(self, values: dict, errors: list) -> None:
        if values.get("org_ruche_id") and values["org_ruche_id"] not in self.id_maps.get(
            "organization", {}
        ):
            errors.append((self.header_of("org_ruche_id"), "Unknown organization id."))
        has_ref = values.get("org") or values.get("org_external_id") or values.get("org_siren")
        if has_ref and not self.mapping.create_related and self._find_org(values) is None:
            column = self.header_of("org" if values.get("org") else "org_external_id")
            errors.append((column, "No such organization (and create_related is off)."))

    def _check_products(self, values: dict) -> None:
        errors: list = []
        if not values.get("name"):
            errors.append((self.header_of("name"), "A product needs a name."))
        self._price_by_currency(values)
        if "unit_price" in values:
            amount, currency = values["unit_price"]
            values["unit_price"] = amount
            values.setdefault("currency", currency or self.default_currency)
            if amount < 0:
                errors.append((self.header_of("unit_price"), "A price cannot be negative."))
        values.setdefault("currency", self.default_currency)
        self._check_amount(values, "unit_price", values["currency"], errors)
        self._custom(values, errors)
        if errors:
            raise RowErrors(errors)

    def _price_by_currency(self, values: dict) -> None:
        """Pipedrive's price columns, one per currency: the company's currency wins, else the
        first price given. A plain price column wins over them all."""
        prices = {
            t[len(PRICE) :]: values.pop(t) for t in [t for t in values if t.startswith(PRICE)]
        }
        if not prices or "unit_price" in values:
            return
        currency = self.default_currency if self.default_currency in prices else next(iter(prices))
        amount, _found = prices[currency]
        values["unit_price"] = (amount, currency)
        values.setdefault("currency", currency)

    def _check_amount(self, values, name, currency, errors) -> None:
        if values.get(name) is None:
            return
        try:
            values[f"{name}_minor"] = to_minor(values[name], currency, field=name)
        except ValidationError as error:
            errors.append((self.header_of(name), _reason(error)))

    def _check_deals(self, values: dict) -> None:
        """On creation, what is not given takes the defaults (first stage, open, the company's
        currency); a row that updates a deal (same external id) changes only what it gives."""
        errors: list = []
        existing = bool(values.get("external_id")) and (
            values["external_id"] in self.ref.index("deal")["ext"]
        )
        if not values.get("title") and not values.get("org") and not existing:
            errors.append((self.header_of("title"), "A deal needs a title or an organization."))
        pipeline = self.pipeline
        if values.get("pipeline"):
            pipeline = self.ref.pipeline_by_name.get(p.normalise_key(values["pipeline"]))
            if pipeline is None:
                names = [x.name for x in self.ref.pipelines]
                errors.append(
                    (
                        self.header_of("pipeline"),
                        f"Unknown pipeline {values['pipeline']!r}."
                        f"{_suggest(values['pipeline'], names)}",
                    )
                )
        if pipeline is None and not errors:
            errors.append(("", "There is no pipeline to import deals into."))
        if pipeline is not None:
            stages = self.ref.stages.get(pipeline.pk, {})
            if values.get("stage"):
                stage = stages.get(p.normalise_key(values["stage"]))
                if stage is None:
                    names = [s.name for s in self.ref.stage_list.get(pipeline.pk, [])]
                    errors.append(
                        (
                            self.header_of("stage"),
                            f"Unknown stage {values['stage']!r} in pipeline "
                            f"{pipeline.name!r}.{_suggest(values['stage'], names)}",
                        )
                    )
                values["stage"] = stage
            elif not existing or values.get("pipeline"):
                values["stage"] = self.ref.stage_list.get(pipeline.pk, [None])[0]
            if (
                not values.get("stage")
                and not existing
                and not self.ref.stage_list.get(pipeline.pk)
            ):
                errors.append(("", f"Pipeline {pipeline.name!r} has no stage."))
            entered = {}
            for target in [t for t in self.mapped_with(STAGE_ENTERED) if t in values]:
                name = target[len(STAGE_ENTERED) :]
                stage = stages.get(p.normalise_key(name))
                if stage is None:
                    errors.append((self.header_of(target), f"Unknown stage {name!r}."))
                else:
                    entered[stage.pk] = values[target]
                del values[target]
            values["entered"] = entered
        values["pipeline"] = pipeline
        status = values.get("status")
        if status is None:
            status = (
                "won"
                if values.get("won_time")
                else "lost"
                if values.get("lost_time")
                else None
                if existing
                else "open"
            )
            values["status"] = status
        if status == "lost":
            if values.get("lost_reason"):
                values["lost_reason"] = self._lookup(
                    "loss_reason", values["lost_reason"], self.header_of("lost_reason"), errors
                )
            elif self.ref.company.loss_reason_required and not existing:
                errors.append(
                    (
                        self.header_of("lost_reason")
                        if "lost_reason" in self.columns.values()
                        else "status",
                        "A lost deal needs a loss reason.",
                    )
                )
        else:
            values.pop("lost_reason", None)
        if values.get("source"):
            values["source"] = self._lookup(
                "source", values["source"], self.header_of("source"), errors
            )
        if values.get("labels"):
            column = self.header_of("labels")
            values["labels"] = [self._lookup("label", x, column, errors) for x in values["labels"]]
        currency = values.get("currency")
        if values.get("value") is not None:
            amount, found = values["value"]
            if currency and found and found != currency:
                errors.append(
                    (
                        self.header_of("value"),
                        f"The amount is in {found} and the currency column says {currency}.",
                    )
                )
            currency = currency or found
            values["value"] = amount
            if amount < 0:
                errors.append((self.header_of("value"), "A deal value cannot be negative."))
        currency = self._monthly_amount(values, currency, errors)
        if currency or not existing:
            values["currency"] = currency = currency or self.default_currency
        self._check_amount(values, "value", currency or self.default_currency, errors)
        self._check_amount(values, "recurring_monthly", currency or self.default_currency, errors)
        if values.get("probability") is not None:
            values["probability"] = int(values["probability"])
        if values.get("org_siren"):
            try:
                values["org_siren"] = stdnum_siren.validate(values["org_siren"])
            except StdnumError as error:
                errors.append((self.header_of("org_siren"), f"Invalid SIREN: {error}"))
        self._check_org_ref(values, errors)
        names_person = values.get("person") or values.get("person_email")
        if names_person and not self.mapping.create_related and self._find_person(values) is None:
            errors.append((self.header_of("person"), "No such person (and create_related is off)."))
        self._owner(values)
        self._custom(values, errors)
        if errors:
            raise RowErrors(errors)

    def _monthly_amount(self, values: dict, currency: str | None, errors: list) -> str | None:
        """A recurring contract's monthly amount is in the deal's currency, as its value: a
        currency written in the cell must be that one (or, if none is known, becomes it)."""
        if values.get("recurring_monthly") is None:
            return currency
        amount, found = values["recurring_monthly"]
        column = self.header_of("recurring_monthly")
        if currency and found and found != currency:
            errors.append((column, f"The monthly amount is in {found} and the deal in {currency}."))
        values["recurring_monthly"] = amount
        if amount < 0:
            errors.append((column, "A monthly amount cannot be negative."))
        return currency or found

    def _check_deal_lines(self, values: dict) -> None:
        errors: list = []
        deal_id = self._find_deal(values, errors)
        values["deal_id"] = deal_id
        product_id = None
        if values.get("product") or values.get("product_code") or values.get("product_ruche_id"):
            product_id = self._find_product(values)
            if product_id is None:
                errors.append((self.header_of("product"), "No such product."))
        values["product_id"] = product_id
        if values.get("unit_price") is not None:
            values["unit_price"] = values["unit_price"][0]
        elif product_id is None:
            errors.append(
                (self.header_of("unit_price"), "A line without a product needs a unit price.")
            )
        if errors:
            raise RowErrors(errors)

    def _check_activities(self, values: dict) -> None:
        errors: list = []
        if not values.get("subject"):
            errors.append((self.header_of("subject"), "An activity needs a subject."))
        self._links(values, errors)
        self._owner(values)
        self._custom(values, errors)
        if errors:
            raise RowErrors(errors)

    def _check_notes(self, values: dict) -> None:
        errors: list = []
        if not values.get("content"):
            errors.append((self.header_of("content"), "A note needs a content."))
        self._links(values, errors)
        if not any(values.get(k) for k in ("deal_id", "person_id", "org_id")) and not errors:
            errors.append(
                (self.header_of("deal"), "A note belongs to a deal, a person or an organization.")
            )
        self._owner(values)
        if errors:
            raise RowErrors(errors)

    def _links(self, values: dict, errors: list) -> None:
        if any(values.get(k) for k in ("deal", "deal_external_id", "deal_ruche_id")):
            values["deal_id"] = self._find_deal(values, errors)
        if values.get("person") or values.get("person_ruche_id"):
            values["person_id"] = self._find_person(values)
            if values["person_id"] is None:
                errors.append(
                    (self.header_of("person"), f"No such person {values.get('person')!r}.")
                )
        if values.get("org") or values.get("org_ruche_id"):
            values["org_id"] = self._find_org(values)
            if values["org_id"] is None:
                errors.append(
                    (self.header_of("org"), f"No such organization {values.get('org')!r}.")
                )

    def _mapped(self, entity: str, old_id) -> int | None:
        return self.id_maps.get(entity, {}).get(old_id) if old_id else None

    def _find_org(self, values: dict, dedupe: bool = True) -> int | None:
        if values.get("org_ruche_id"):
            return self._mapped("organization", values["org_ruche_id"])
        index = self.ref.index("organization")
        ext = values.get("org_external_id")
        if ext and ext in index["ext"]:
            return index["ext"][ext]
        siren = values.get("org_siren")
        if siren and siren in index["siren"]:
            return index["siren"][siren]
        name = values.get("org")
        if name:
            return index["name"].get(p.normalise_name(name))
        return None

    def _find_person(self, values: dict) -> int | None:
        if values.get("person_ruche_id"):
            return self._mapped("person", values["person_ruche_id"])
        index = self.ref.index("person")
        ext = values.get("person_external_id")
        if ext and ext in index["ext"]:
            return index["ext"][ext]
        for email in values.get("person_email") or []:
            if email.lower() in index["email"]:
                return index["email"][email.lower()]
        name = values.get("person")
        if name:
            return index["name"].get(p.normalise_name(name))
        return None

    def _find_deal(self, values: dict, errors: list) -> int | None:
        if values.get("deal_ruche_id"):
            found = self._mapped("deal", values["deal_ruche_id"])
        else:
            found = None
            if values.get("deal_external_id"):
                found = self.ref.index("deal")["ext"].get(values["deal_external_id"])
            elif values.get("deal"):
                key = p.normalise_key(values["deal"])
                titles = self.ref.index("deal_title")
                if key in titles and titles[key] is None:
                    errors.append(
                        (
                            self.header_of("deal"),
                            f"Several deals are titled {values['deal']!r}: give its external id.",
                        )
                    )
                    return None
                found = titles.get(key)
        if found is None:
            column = "deal_external_id" if values.get("deal_external_id") else "deal"
            errors.append((self.header_of(column), "No such deal."))
        return found

    def _find_product(self, values: dict) -> int | None:
        if values.get("product_ruche_id"):
            return self._mapped("product", values["product_ruche_id"])
        index = self.ref.index("product")
        if values.get("product_code"):
            return index["code"].get(values["product_code"].lower())
        return index["name"].get(p.normalise_key(values.get("product") or ""))
