"""Which column goes to which field, and which cell value means which stage, owner or reason.

A mapping file (JSON), every key optional except "columns" when headers are not recognised:

    {
      "entity": "deals",
      "columns": {"Intitulé": "title", "Montant HT": "value", "Étape": "stage",
                  "Date RDV": "stage_entered:Meeting", "Code client": "org_external_id",
                  "Secteur": "custom:Secteur", "Commentaire interne": null},
      "values": {"stage": {"Négo": "Negotiation"}, "owner": {"JD": "jean@acme.fr"},
                 "lost_reason": {"trop cher": "Prix trop élevé"}, "status": {"gagné": "won"}},
      "duplicates": "update",          # skip | update | create, when a record already exists
      "create_related": true,          # create a deal's missing organisation and person
      "custom_fields": "ignore",       # or "create": unmapped columns become text custom fields
      "on_error": "abort",             # or "skip": import the good rows, write the bad ones
      "currency": "EUR", "pipeline": "Ventes", "owner": "jean@acme.fr"
    }

A column mapped to null is ignored. Columns not named in "columns" are proposed from their
header (`propose`), which knows French and English names and Pipedrive's export headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ruche.transfer.parsing import normalise_key

ENTITIES = ("organizations", "persons", "products", "deals", "deal_lines", "activities", "notes")
ENTITY_ALIASES = {
    "organisations": "organizations",
    "orgs": "organizations",
    "people": "persons",
    "contacts": "persons",
    "lines": "deal_lines",
    "deal-lines": "deal_lines",
}
# The custom-field entity of each importable entity.
CUSTOM_FIELD_ENTITY = {
    "organizations": "organization",
    "persons": "person",
    "products": "product",
    "deals": "deal",
    "activities": "activity",
}
# Prefix Pipedrive puts before the columns of each entity ("Deal - Title").
PIPEDRIVE_PREFIX = {
    "organizations": "organization",
    "persons": "person",
    "products": "product",
    "deals": "deal",
    "activities": "activity",
    "notes": "note",
    "deal_lines": "deal product",
}

# field -> (kind, names it is known by, after normalise_key). Kinds are parsed in importers.py.
_COMMON_OWNER = ("owner", "proprietaire", "responsable", "commercial", "user", "utilisateur")
FIELDS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "organizations": {
        "ruche_id": ("ref", ()),
        "external_id": (
            "text",
            (
                "external id",
                "id externe",
                "organization id",
                "code client",
                "ref",
                "reference",
                "id",
            ),
        ),
        "name": (
            "text",
            (
                "name",
                "nom",
                "organization",
                "organisation",
                "organization name",
                "raison sociale",
                "societe",
                "entreprise",
                "company",
                "compte",
            ),
        ),
        "address": ("text", ("address", "adresse", "organization address")),
        "postal_code": (
            "text",
            (
                "postal code",
                "zip",
                "code postal",
                "cp",
                "organization postal code",
                "organization zip code",
            ),
        ),
        "city": ("text", ("city", "ville", "organization city", "commune")),
        "country": ("country", ("country", "pays", "organization country")),
        "siren": ("text", ("siren", "organization siren")),
        "siret": ("text", ("siret", "organization siret")),
        "vat_number": (
            "text",
            ("vat number", "tva intracommunautaire", "numero de tva", "tva", "vat"),
        ),
        "industry": (
            "text",
            ("industry", "secteur", "secteur d activite", "organization industry"),
        ),
        "size": ("text", ("size", "taille", "effectif")),
        "source": ("source", ("source", "origine", "organization source")),
        "owner": ("owner", (*_COMMON_OWNER, "organization owner")),
        "visible_to": ("visibility", ("visible to", "visibilite", "organization visible to")),
        "add_time": (
            "datetime",
            (
                "add time",
                "created",
                "date de creation",
                "cree le",
                "organization add time",
                "organization created",
            ),
        ),
        "custom_fields_json": ("custom_json", ("custom fields",)),
    },
    "persons": {
        "ruche_id": ("ref", ()),
        "external_id": ("text", ("external id", "id externe", "person id", "id", "reference")),
        "name": (
            "text",
            ("name", "nom complet", "person name", "contact", "full name", "interlocuteur"),
        ),
        "first_name": ("text", ("first name", "prenom", "person first name")),
        "last_name": ("text", ("last name", "nom", "nom de famille", "person last name")),
        "email": (
            "email",
            (
                "email",
                "e mail",
                "mail",
                "courriel",
                "person email",
                "person email work",
                "adresse email",
                "emails",
            ),
        ),
        "phone": (
            "phone",
            (
                "phone",
                "telephone",
                "tel",
                "mobile",
                "portable",
                "person phone",
                "person phone work",
                "person phone mobile",
                "phones",
            ),
        ),
        # A Ruche export's exact emails and phones ([{value, label, primary}]).
        "emails_json": ("points_json", ()),
        "phones_json": ("points_json", ()),
        "job_title": ("text", ("job title", "fonction", "poste", "titre", "person job title")),
        "org": (
            "org_name",
            (
                "organization",
                "organisation",
                "societe",
                "entreprise",
                "company",
                "person organization",
                "organization name",
                "compte",
            ),
        ),
        "org_external_id": ("text", ("organization external id", "code client", "organization id")),
        "org_ruche_id": ("ref", ("org id",)),
        "owner": ("owner", (*_COMMON_OWNER, "person owner")),
        "visible_to": ("visibility", ("visible to", "person visible to")),
        "add_time": (
            "datetime",
            ("add time", "created", "date de creation", "person add time", "person created"),
        ),
        "custom_fields_json": ("custom_json", ("custom fields",)),
    },
    "products": {
        "ruche_id": ("ref", ()),
        "name": (
            "text",
            ("name", "nom", "produit", "product", "product name", "designation", "libelle"),
        ),
        "code": ("text", ("code", "product code", "reference", "ref", "sku")),
        "description": ("text", ("description", "product description")),
        "unit": ("text", ("unit", "unite", "product unit")),
        "unit_price": (
            "amount",
            (
                "unit price",
                "price",
                "prix",
                "prix unitaire",
                "prix ht",
                "tarif",
                "product price",
                "product unit price",
            ),
        ),
        "currency": ("currency", ("currency", "devise", "product currency")),
        "vat_rate": ("percent", ("vat rate", "tva", "taux de tva", "tax", "product tax", "vat")),
        "is_recurring": ("bool", ("recurring", "recurrent", "abonnement")),
        "is_active": ("bool", ("active", "actif", "product active flag", "product active")),
        "owner": ("owner", (*_COMMON_OWNER, "product owner")),
        "custom_fields_json": ("custom_json", ("custom fields",)),
    },
    "deals": {
        "ruche_id": ("ref", ()),
        "external_id": (
            "text",
            (
                "external id",
                "id externe",
                "deal id",
                "id",
                "reference",
                "ref affaire",
                "numero",
                "ref",
            ),
        ),
        "title": (
            "text",
            (
                "title",
                "titre",
                "deal title",
                "intitule",
                "nom de l affaire",
                "affaire",
                "opportunite",
                "deal",
                "name",
                "nom",
            ),
        ),
        "value": (
            "amount",
            (
                "value",
                "valeur",
                "montant",
                "montant ht",
                "amount",
                "deal value",
                "ca",
                "chiffre d affaires",
            ),
        ),
        "currency": ("currency", ("currency", "devise", "deal currency", "deal currency of value")),
        "pipeline": ("pipeline", ("pipeline", "entonnoir", "deal pipeline")),
        "stage": ("stage", ("stage", "etape", "phase", "deal stage", "statut commercial")),
        "status": ("status", ("status", "statut", "etat", "deal status")),
        "owner": ("owner", (*_COMMON_OWNER, "deal owner")),
        "org": (
            "org_name",
            (
                "organization",
                "organisation",
                "societe",
                "entreprise",
                "client",
                "company",
                "compte",
                "organization name",
                "deal organization",
            ),
        ),
        "org_external_id": ("text", ("organization external id", "code client", "organization id")),
        "org_siren": ("text", ("siren", "organization siren")),
        "org_ruche_id": ("ref", ("org id",)),
        "person": (
            "person_name",
            (
                "person",
                "contact",
                "interlocuteur",
                "person name",
                "deal contact person",
                "contact person",
            ),
        ),
        "person_email": (
            "email",
            ("email", "e mail", "mail", "courriel", "person email", "person email work"),
        ),
        "person_phone": (
            "phone",
            ("phone", "telephone", "tel", "person phone", "person phone work"),
        ),
        "person_external_id": ("text", ("person external id", "person id")),
        "person_ruche_id": ("ref", ("person id ref",)),
        "expected_close_date": (
            "date",
            (
                "expected close date",
                "date de cloture prevue",
                "cloture prevue",
                "date de signature prevue",
                "deal expected close date",
                "close date",
            ),
        ),
        "probability": ("percent", ("probability", "probabilite", "deal probability")),
        "lost_reason": (
            "lost_reason",
            (
                "lost reason",
                "raison de la perte",
                "motif de perte",
                "deal lost reason",
                "raison perte",
            ),
        ),
        "source": ("source", ("source", "origine", "deal source", "deal source origin")),
        "labels": ("labels", ("label", "labels", "etiquette", "etiquettes", "deal label")),
        "competitor": ("text", ("competitor", "concurrent")),
        "next_step": ("text", ("next step", "prochaine etape")),
        "description": ("text", ("description", "notes", "commentaire")),
        "win_loss_report": ("text", ("win loss report",)),
        "revenue_type": (
            "revenue_type",
            ("revenue type", "type de revenu", "type de chiffre d affaires", "deal revenue type"),
        ),
        # A recurring contract (docs/metrics.md, "MRR and ARR"): the monthly amount, in the
        # deal's currency, for a term in months (none: no end) from a start date.
        "recurring_monthly": (
            "amount",
            (
                "mrr",
                "mensualite",
                "montant mensuel",
                "montant mensuel ht",
                "abonnement mensuel",
                "recurring monthly amount",
                "monthly amount",
                "monthly recurring revenue",
            ),
        ),
        "recurring_term_months": (
            "term_months",
            (
                "duree mois",
                "duree en mois",
                "duree du contrat",
                "duree d engagement",
                "engagement mois",
                "term months",
                "contract term",
            ),
        ),
        "recurring_start_date": (
            "date",
            (
                "date de debut",
                "debut du contrat",
                "date de debut du contrat",
                "date de debut d abonnement",
                "start date",
                "contract start date",
            ),
        ),
        "visible_to": ("visibility", ("visible to", "deal visible to")),
        "add_time": (
            "datetime",
            (
                "add time",
                "created",
                "date de creation",
                "cree le",
                "deal created",
                "deal add time",
                "deal creation date",
            ),
        ),
        "won_time": (
            "datetime",
            ("won time", "date de gain", "gagne le", "deal won time", "date gagne"),
        ),
        "lost_time": (
            "datetime",
            ("lost time", "date de perte", "perdu le", "deal lost time", "date perdu"),
        ),
        "close_time": ("datetime", ("close time", "deal closed on", "date de cloture")),
        "stage_change_time": (
            "datetime",
            ("stage change time", "deal last stage change", "last stage change"),
        ),
        "custom_fields_json": ("custom_json", ("custom fields",)),
    },
    "deal_lines": {
        "deal": ("deal_title", ("deal", "affaire", "deal title", "title")),
        "deal_external_id": ("text", ("deal external id", "deal id", "ref affaire")),
        "deal_ruche_id": ("ref", ()),
        "product": ("product_name", ("product", "produit", "product name")),
        "product_code": ("text", ("product code", "code produit", "reference produit")),
        "product_ruche_id": ("ref", ()),
        "name": ("text", ("name", "libelle", "designation", "line name")),
        "quantity": ("decimal", ("quantity", "quantite", "qte", "deal product quantity")),
        "unit_price": (
            "amount",
            ("unit price", "prix unitaire", "price", "prix", "deal product item price"),
        ),
        "discount_percent": (
            "percent",
            ("discount", "remise", "discount percent", "deal product discount"),
        ),
        "vat_rate": ("percent", ("vat rate", "tva", "taux de tva", "tax", "deal product tax")),
        "comments": ("text", ("comments", "commentaire", "deal product comments")),
        "order_nr": ("int", ("order", "ordre", "position")),
    },
    "activities": {
        "subject": ("text", ("subject", "sujet", "objet", "activity subject", "titre")),
        "type": ("activity_type", ("type", "activity type")),
        "owner": (
            "owner",
            (
                *_COMMON_OWNER,
                "activity assigned to user",
                "assigned to",
                "activity owner",
                "activity user",
            ),
        ),
        "deal": ("deal_title", ("deal", "affaire", "activity deal", "deal title")),
        "deal_external_id": ("text", ("deal external id", "deal id")),
        "deal_ruche_id": ("ref", ()),
        "person": (
            "person_name",
            ("person", "contact", "activity contact person", "activity person", "person name"),
        ),
        "person_ruche_id": ("ref", ()),
        "org": (
            "org_name",
            (
                "organization",
                "organisation",
                "societe",
                "entreprise",
                "activity organization",
                "organization name",
            ),
        ),
        "org_ruche_id": ("ref", ()),
        "due_date": ("date", ("due date", "date", "echeance", "activity due date")),
        "due_time": ("time", ("due time", "heure", "activity due time")),
        "duration": ("duration", ("duration", "duree", "activity duration")),
        "done": ("bool", ("done", "fait", "terminee", "activity done", "statut")),
        "marked_as_done_time": (
            "datetime",
            ("marked as done time", "activity marked as done time", "date de realisation"),
        ),
        "note": ("text", ("note", "notes", "activity note", "commentaire")),
        "add_time": ("datetime", ("add time", "created", "activity add time")),
        "custom_fields_json": ("custom_json", ("custom fields",)),
    },
    "notes": {
        "content": ("text", ("content", "contenu", "note", "texte", "note content")),
        "owner": ("owner", (*_COMMON_OWNER, "note user", "note owner", "auteur", "author")),
        "deal": ("deal_title", ("deal", "affaire", "note deal", "deal title")),
        "deal_external_id": ("text", ("deal external id", "deal id")),
        "deal_ruche_id": ("ref", ()),
        "person": ("person_name", ("person", "contact", "note person", "person name")),
        "person_ruche_id": ("ref", ()),
        "org": (
            "org_name",
            ("organization", "organisation", "societe", "note organization", "organization name"),
        ),
        "org_ruche_id": ("ref", ()),
        "add_time": ("datetime", ("add time", "date", "created", "note add time", "note date")),
    },
}
# Pipedrive writes one column per email or phone label.
for _entity, _targets in (
    ("persons", {"email": "email", "phone": "phone"}),
    ("deals", {"person_email": "email", "person_phone": "phone"}),
):
    for _target, _word in _targets.items():
        _kind, _names = FIELDS[_entity][_target]
        _labels = ("work", "home", "mobile", "other")
        FIELDS[_entity][_target] = (
            _kind,
            (
                *_names,
                *(f"{_word} {label}" for label in _labels),
                *(f"person {_word} {label}" for label in _labels),
            ),
        )

# Pipedrive export headers that differ from "<Entity> - <field synonym>".
PIPEDRIVE_HEADERS = {
    "deals": {
        "deal id": "external_id",
        "deal organization": "org",
        "organization name": "org",
        "organization id": "org_external_id",
        "person name": "person",
        "person id": "person_external_id",
        "person email": "person_email",
        "person email work": "person_email",
        "person phone": "person_phone",
        "person phone work": "person_phone",
        "deal contact person": "person",
        "deal deal created": "add_time",
        "deal owner": "owner",
        "deal creator": None,
        # Pipedrive computes its MRR from the deal's products: not the amount a deal states.
        "deal mrr": None,
    },
    "persons": {
        "person id": "external_id",
        "person organization": "org",
        "organization name": "org",
        "organization id": "org_external_id",
    },
    "organizations": {"organization id": "external_id"},
    "activities": {
        "activity deal": "deal",
        "deal title": "deal",
        "deal id": "deal_external_id",
        "activity contact person": "person",
        "activity organization": "org",
    },
    "notes": {
        "note deal": "deal",
        "deal title": "deal",
        "deal id": "deal_external_id",
        "note person": "person",
        "note organization": "org",
        "note user": "owner",
    },
}
# Fields several columns may feed (Pipedrive's "Person - Email - Work", "... - Home").
MULTI_TARGETS = {"email", "phone", "person_email", "person_phone"}
# Columns Pipedrive computes (counts, next activity...): never imported, never custom fields.
PIPEDRIVE_SYSTEM = {
    "update time",
    "next activity date",
    "next activity time",
    "next activity subject",
    "next activity type",
    "next activity duration",
    "next activity note",
    "last activity date",
    "total activities",
    "done activities",
    "activities to do",
    "email messages count",
    "weighted value",
    "currency of weighted value",
    "formatted value",
    "formatted weighted value",
    "creator",
    "product quantity",
    "product amount",
    "product name",
    "last email received",
    "last email sent",
    "rotten time",
    "followers count",
    "participants",
    "people",
    "open deals",
    "closed deals",
    "won deals",
    "lost deals",
    "number of products",
    "products",
    "followers",
    "first email",
    "mrr",
    "arr",
    "acv",
    "archive status",
    "last stage change",
    "deal closed on",
    "stage change time",
}
STAGE_ENTERED = "stage_entered:"
# Pipedrive writes one price column per currency ("Product - Price EUR").
PRICE = "price:"
_PRICE_HEADER = re.compile(r"^(?:product )?(?:unit )?price ([a-z]{3})$")
# Labels of Pipedrive's email and phone columns ("Person - Email - Mobile").
POINT_LABELS = ("work", "home", "mobile", "other")
CUSTOM = "custom:"
CUSTOM_KEY = "custom_key:"
_STAGE_DATE_WORDS = ("date", "entered", "entree", "entre le", "entered on", "arrivee", "entry")


class MappingError(ValueError):
    pass


def canonical_entity(name: str) -> str:
    entity = ENTITY_ALIASES.get(name, name)
    if entity not in ENTITIES:
        raise MappingError(f"Unknown entity {name!r}: one of {', '.join(ENTITIES)}.")
    return entity


def field_kind(entity: str, target: str) -> str:
    if target.startswith(STAGE_ENTERED):
        return "datetime"
    if target.startswith(CUSTOM) or target.startswith(CUSTOM_KEY):
        return "custom"
    if target.startswith(PRICE):
        return "amount"
    return FIELDS[entity][target][0]


@dataclass
class Mapping:
    entity: str
    columns: dict[str, str | None] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    duplicates: str = "update"
    create_related: bool = True
    custom_fields: str = "ignore"
    on_error: str = "abort"
    currency: str | None = None
    pipeline: str | None = None
    owner: str | None = None

    @classmethod
    def from_dict(cls, data: dict, entity: str | None = None) -> Mapping:
        if not isinstance(data, dict):
            raise MappingError("A mapping is a JSON object.")
        entity = canonical_entity(entity or data.get("entity") or "")
        known = {
            "entity",
            "columns",
            "values",
            "duplicates",
            "create_related",
            "custom_fields",
            "on_error",
            "currency",
            "pipeline",
            "owner",
        }
        unknown = set(data) - known
        if unknown:
            raise MappingError(f"Unknown mapping keys: {', '.join(sorted(unknown))}.")
        mapping = cls(
            entity=entity,
            columns=dict(data.get("columns") or {}),
            values={k: dict(v) for k, v in (data.get("values") or {}).items()},
            duplicates=data.get("duplicates", "update"),
            create_related=bool(data.get("create_related", True)),
            custom_fields=data.get("custom_fields", "ignore"),
            on_error=data.get("on_error", "abort"),
            currency=data.get("currency"),
            pipeline=data.get("pipeline"),
            owner=data.get("owner"),
        )
        mapping.check()
        return mapping

    @classmethod
    def load(cls, path: str | Path, entity: str | None = None) -> Mapping:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, json.JSONDecodeError) as error:
            raise MappingError(f"Cannot read the mapping file {path}: {error}.") from None
        return cls.from_dict(data, entity)

    def check(self) -> None:
        for name, allowed in (
            ("duplicates", ("skip", "update", "create")),
            ("custom_fields", ("ignore", "create")),
            ("on_error", ("abort", "skip")),
        ):
            if getattr(self, name) not in allowed:
                raise MappingError(f"{name}: one of {', '.join(allowed)}.")
        for column, target in self.columns.items():
            if target is None or target.startswith((STAGE_ENTERED, CUSTOM, CUSTOM_KEY, PRICE)):
                continue
            if target not in FIELDS[self.entity]:
                raise MappingError(
                    f"Column {column!r}: unknown field {target!r} for {self.entity}. Known: "
                    f"{', '.join(FIELDS[self.entity])}."
                )

    def to_dict(self) -> dict:
        return {
            "entity": self.entity,
            "columns": self.columns,
            "values": self.values,
            "duplicates": self.duplicates,
            "create_related": self.create_related,
            "custom_fields": self.custom_fields,
            "on_error": self.on_error,
            "currency": self.currency,
            "pipeline": self.pipeline,
            "owner": self.owner,
        }

    def resolved(self, headers: list[str], stage_names: list[str] = ()) -> dict[str, str]:
        """{header: target} for every column that goes somewhere: the explicit mapping first,
        then the proposal for the headers it does not name."""
        proposal = propose(self.entity, headers, stage_names)
        result: dict[str, str] = {}
        taken: set[str] = set()
        for header in headers:
            if header in self.columns:
                target = self.columns[header]
                if target is not None:
                    result[header] = target
                    taken.add(target)
        for header in headers:
            if header in self.columns or header not in proposal:
                continue
            target = proposal[header]
            if target in taken and not target.startswith(CUSTOM) and target not in MULTI_TARGETS:
                continue
            result[header] = target
            taken.add(target)
        if self.custom_fields == "create" and self.entity in CUSTOM_FIELD_ENTITY:
            prefix = PIPEDRIVE_PREFIX[self.entity] + " - "
            for header in headers:
                if header in result or header in self.columns or header.startswith("__"):
                    continue
                other_entity = any(
                    header.lower().startswith(p + " - ")
                    for e, p in PIPEDRIVE_PREFIX.items()
                    if e != self.entity
                )
                name = header[len(prefix) :] if header.lower().startswith(prefix) else header
                if other_entity or normalise_key(name) in PIPEDRIVE_SYSTEM:
                    continue
                result[header] = CUSTOM + name.strip()
        return result

    def value_for(self, target: str, raw: str) -> str:
        """A cell value translated by the mapping's value table for `target`, if listed."""
        table = self.values.get(target)
        if not table:
            return raw
        if raw in table:
            return table[raw]
        key = normalise_key(raw)
        for source, replacement in table.items():
            if normalise_key(source) == key:
                return replacement
        return raw


def propose(entity: str, headers: list[str], stage_names: list[str] = ()) -> dict[str, str]:
    """A column -> field proposal from header names, French or English, Pipedrive's included.
    Each field is proposed for one column at most (the first that matches)."""
    entity = canonical_entity(entity)
    fields = FIELDS[entity]
    by_name: dict[str, str] = {}
    for target, (_kind, names) in fields.items():
        for name in (target.replace("_", " "), *names):
            by_name.setdefault(normalise_key(name), target)
    prefix = PIPEDRIVE_PREFIX[entity]
    pipedrive = {normalise_key(k): v for k, v in PIPEDRIVE_HEADERS.get(entity, {}).items()}
    stages = {normalise_key(name): name for name in stage_names}
    proposal: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = normalise_key(header)
        target = None
        if key in pipedrive:
            target = pipedrive[key]
            if target is None:
                used.add(header)
                continue
        elif key in by_name:
            target = by_name[key]
        elif key.startswith(prefix + " ") and key[len(prefix) + 1 :] in by_name:
            target = by_name[key[len(prefix) + 1 :]]
        elif entity == "deals":
            target = _stage_date_target(key, stages)
        elif entity == "products":
            target = _price_target(key[len(prefix) + 1 :] if key.startswith(prefix + " ") else key)
        free = target not in used or target in MULTI_TARGETS
        if target and free and fields.get(target, ("",))[0] != "ref":
            proposal[header] = target
            used.add(target)
    return proposal


def _price_target(key: str) -> str | None:
    match = _PRICE_HEADER.match(key)
    return PRICE + match.group(1).upper() if match else None


def point_label(header: str) -> str:
    """The label of an email or phone column: "Person - Phone - Mobile" is a mobile."""
    words = normalise_key(header).split()
    return words[-1] if words and words[-1] in POINT_LABELS else "work"


def _stage_date_target(key: str, stages: dict[str, str]) -> str | None:
    for word in _STAGE_DATE_WORDS:
        for stage_key, stage_name in stages.items():
            if key in (
                f"{word} {stage_key}",
                f"{stage_key} {word}",
                f"{word} en {stage_key}",
                f"date entree {stage_key}",
                f"{word} stage {stage_key}",
            ):
                return STAGE_ENTERED + stage_name
    return None
