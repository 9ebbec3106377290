"""The demo generator: a French company's three years of selling, written straight to the
database in chunks of 2,000 deals (one transaction each, so memory stays bounded).

It bypasses the per-deal services for speed (a million deals must load in minutes): the few
reference rows (users, products, pipelines) go through `bulk_create`, the millions of others
through `ruche.demo.bulk.BulkTable` (`executemany` on SQLite, `COPY` on PostgreSQL), 3 to 4
times faster than `bulk_create` here. So it writes itself what the services would have
written: stage entries, history rows (`created`, `stage_moved` with old and new stage ids,
`won`/`lost`), versions and timestamps, meant to be what the services would leave after the
same story:

- `version` is 1 + the number of stage moves + 1 if the deal was won or lost;
- `update_time` is the time of the last of those writes; `stage_change_time` the entry into
  the current stage; `won_time`/`lost_time` equal `close_time`; won deals have probability
  100, lost ones 0 and a loss reason; open deals keep the stage's probability (None);
- the last stage entry of a deal stays open (`left_at` None), as `_enter_stage` leaves it;
- `next_activity`/`next_activity_date`/`last_activity_date` are what
  `refresh_deal_activity` computes from the deal's activities;
- a deal with lines is worth the exact sum of its line totals (`ruche.pipelines.lines`);
  a recurring deal is worth its monthly amount x its term in months.

Every deal runs its course under the same laws whatever its creation date (a steady flow of
deals every month, seasonal, closes spread over the following months by a lognormal cycle,
some deals stalling until a clean-up closes them as lost), so the past looks like the present
and a backtest can learn from it; a deal whose course ends after the reference date is open,
in the stage it had reached.

The history records the deal's life, not every field: lines are part of the creation, and the
`created` rows carry the main values. Activities and notes get no history rows.

Determinism: the same seed and the same reference date (`today`, the current date unless
given) always produce the same rows. Every time written is before midnight (local time) of the
reference date, so closed deals are in the past; upcoming activities fall after it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import time
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from faker import Faker
from stdnum import luhn
from stdnum.fr import siren as siren_number

from ruche.accounts.models import ApiToken, Company, Team, User
from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.defaults import install_defaults
from ruche.core.models import ChangeRecord, Lookup, Visibility
from ruche.demo import data
from ruche.demo.billing import generate_billing
from ruche.demo.bulk import BulkTable
from ruche.forecasting.stage_tallies import rebuild_all as rebuild_tallies
from ruche.pipelines.lines import line_total_minor, line_vat_minor
from ruche.pipelines.models import Activity, Deal, DealLine, Note, Pipeline, Stage, StageEntry

DAY = 86_400.0
DASH = "\u2013"  # an en dash, as French titles use
WINDOW_DAYS = 3 * 365
RENEWAL_SHARE = 0.15
STALLED_SHARE = 0.15  # deals that stop moving and are closed as lost at a clean-up
CLEANUP_MEDIAN_DAYS = 240
LINES_SHARE = 0.3
DEALS_PER_ORGANIZATION = 4
USER = ChangeRecord.ActorKind.USER
Event = ChangeRecord.Event
DealLabel = Deal.labels.through
EVERYONE, TEAM, OWNER_ONLY = int(Visibility.EVERYONE), int(Visibility.TEAM), int(Visibility.OWNER)

# Column orders of the tuples the generator builds (see ruche.demo.bulk).
COLUMNS = {
    "organizations": (
        Organization,
        (
            "id",
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
            "source_id",
            "owner_id",
            "visible_to",
            "add_time",
            "update_time",
        ),
    ),
    "persons": (
        Person,
        (
            "id",
            "name",
            "first_name",
            "last_name",
            "emails",
            "phones",
            "org_id",
            "job_title",
            "owner_id",
            "visible_to",
            "add_time",
            "update_time",
        ),
    ),
    "deals": (
        Deal,
        (
            "id",
            "title",
            "org_id",
            "person_id",
            "owner_id",
            "creator_id",
            "visible_to",
            "pipeline_id",
            "stage_id",
            "status",
            "value_minor",
            "currency",
            "expected_close_date",
            "probability",
            "forecast_category_id",
            "next_step",
            "source_id",
            "competitor",
            "lost_reason_id",
            "win_loss_report",
            "revenue_type",
            "recurring_monthly_minor",
            "recurring_term_months",
            "recurring_start_date",
            "stage_change_time",
            "won_time",
            "lost_time",
            "close_time",
            "last_activity_date",
            "next_activity_id",
            "next_activity_date",
            "add_time",
            "update_time",
            "version",
        ),
    ),
    "activities": (
        Activity,
        (
            "id",
            "subject",
            "type",
            "owner_id",
            "deal_id",
            "person_id",
            "org_id",
            "due_date",
            "due_time",
            "duration_minutes",
            "done",
            "marked_as_done_time",
            "add_time",
            "update_time",
            "deal_owner_id",
            "deal_visible_to",
            "deal_public",
        ),
    ),
    "lines": (
        DealLine,
        (
            "deal_id",
            "product_id",
            "name",
            "quantity",
            "unit_price_minor",
            "discount_percent",
            "vat_rate",
            "total_minor",
            "vat_minor",
            "order_nr",
            "add_time",
            "update_time",
        ),
    ),
    "entries": (
        StageEntry,
        (
            "deal_id",
            "pipeline_id",
            "stage_id",
            "from_stage_id",
            "entered_at",
            "left_at",
        ),
    ),
    "history": (
        ChangeRecord,
        (
            "entity",
            "entity_id",
            "event",
            "field",
            "old_value",
            "new_value",
            "actor_kind",
            "actor_user_id",
            "actor_label",
            "time",
        ),
    ),
    "notes": (
        Note,
        (
            "content",
            "owner_id",
            "deal_id",
            "person_id",
            "org_id",
            "add_time",
            "update_time",
        ),
    ),
    "labels": (DealLabel, ("deal_id", "lookup_id")),
}
# Insertion order: deals point at their next activity, inserted after them in the same
# transaction (foreign keys are checked at commit on PostgreSQL and SQLite alike).
TABLE_ORDER = ("deals", "activities", "lines", "entries", "history", "notes", "labels")

SOURCE_WEIGHTS = {
    "Site web": 30,
    "Recommandation": 20,
    "Salon": 10,
    "Prospection": 25,
    "Partenaire": 10,
    "Publicité": 5,
}


class DemoError(Exception):
    """The demo cannot be loaded (the database is not empty, bad arguments)."""


def existing_data() -> dict[str, int]:
    """What the database holds besides a fresh install's defaults, by kind (non-zero only)."""
    counts = {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "persons": Person.objects.count(),
        "deals": Deal.objects.count(),
        "products": Product.objects.count(),
        "activities": Activity.objects.count(),
        "notes": Note.objects.count(),
        "API tokens": ApiToken.objects.count(),
        "extra pipelines": max(0, Pipeline.objects.count() - 1),
    }
    return {kind: count for kind, count in counts.items() if count}


@dataclass
class DemoResult:
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class Rep:
    id: int
    email: str
    team: int
    start_ts: float
    win_factor: float


def _ascii_slug(text: str, sep: str = "-") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in plain).split()
    return sep.join(words)


def _round_to(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


class _Ids:
    """Primary keys handed out here, so rows can point at each other before insertion."""

    def __init__(self, model):
        self.next = (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


class DemoGenerator:
    def __init__(
        self,
        *,
        deals: int,
        seed: int,
        today: dt.date | None = None,
        chunk_size: int = 2000,
        progress: Callable[[int, int, float], None] | None = None,
    ):
        if deals < 0:
            raise DemoError("The number of deals cannot be negative.")
        self.n_deals = deals
        self.seed = seed
        self.tz = timezone.get_default_timezone()
        self.today = today or timezone.localdate()
        if self.today > timezone.localdate():
            raise DemoError("The reference date cannot be in the future.")
        self.chunk_size = max(1, chunk_size)
        self.progress = progress
        self.end_ts = self._midnight(self.today)
        self.start_day = self.today - dt.timedelta(days=WINDOW_DAYS)
        self.start_ts = self._midnight(self.start_day)
        self.result = DemoResult()
        # Times in the rows given to BulkTable: ready-made text for SQLite, datetimes otherwise.
        self._stamp = self._sqlite_stamp if connection.vendor == "sqlite" else self._utc
        self.fake = Faker("fr_FR")
        self.fake.seed_instance(seed)

    # Time helpers ---------------------------------------------------------------------------

    def _midnight(self, day: dt.date) -> float:
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()

    @staticmethod
    def _utc(ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(round(ts), dt.UTC)

    @staticmethod
    def _sqlite_stamp(ts: float) -> str:
        """What Django's SQLite backend stores for an aware datetime: naive UTC text."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(round(ts)))

    def _local(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(round(ts), self.tz)

    def _office_hours(self, rng: random.Random, ts: float, low: float, high: float) -> float:
        """`ts` moved to a working hour of its day, if that stays between `low` and `high`."""
        day = self.start_ts + (ts - self.start_ts) // DAY * DAY
        moved = day + rng.uniform(8.5, 18.5) * 3600
        return moved if low < moved < high else ts

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"ruche-demo:{self.seed}:{part}")

    # Entry point ----------------------------------------------------------------------------

    def run(self) -> DemoResult:
        started = time.perf_counter()
        self.tables = {name: BulkTable(model, cols) for name, (model, cols) in COLUMNS.items()}
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                # A bigger page cache keeps index inserts fast as the file grows (bounded).
                cursor.execute("PRAGMA cache_size = -262144")
        install_defaults()
        with transaction.atomic():
            self._lookups()
            self._company()
            self._users()
            self._products()
            self._pipelines()
        self._organizations()
        self._deals()
        rebuild_tallies()  # the deals and their entries were written in bulk
        self._reset_sequences()
        self._billing()
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _history(
        self,
        entity: str,
        entity_id: int,
        event: str,
        actor: Rep | User,
        ts: float,
        field: str = "",
        old=None,
        new=None,
    ) -> tuple:
        return (
            entity,
            entity_id,
            event,
            field,
            old,
            new,
            USER,
            actor.id,
            actor.email,
            self._stamp(ts),
        )

    # Reference data -------------------------------------------------------------------------

    def _lookups(self) -> None:
        for order_nr, (name, _) in enumerate(data.INDUSTRIES, start=1):
            Lookup.objects.get_or_create(
                kind=Lookup.Kind.INDUSTRY, name=name, defaults={"order_nr": order_nr}
            )

        def active(kind):
            return list(Lookup.objects.filter(kind=kind, is_active=True).order_by("order_nr", "id"))

        self.sources = active(Lookup.Kind.SOURCE)
        self.source_weights = [SOURCE_WEIGHTS.get(s.name, 5) for s in self.sources]
        self.loss_reasons = active(Lookup.Kind.LOSS_REASON)
        if not self.loss_reasons:
            raise DemoError("There is no loss reason to give lost deals.")
        self.loss_weights = [data.LOSS_WEIGHTS.get(r.name, 5) for r in self.loss_reasons]
        self.competitor_reason_ids = {
            r.pk for r in self.loss_reasons if r.name == "Concurrent choisi"
        }
        labels = {label.name: label.pk for label in active(Lookup.Kind.LABEL)}
        self.label_hot = labels.get("Chaud")
        self.label_warm = labels.get("Tiède")
        self.label_cold = labels.get("Froid")
        categories = {c.name: c.pk for c in active(Lookup.Kind.FORECAST_CATEGORY)}
        self.forecast_by_stage = [
            categories.get("Pipeline"),
            categories.get("Pipeline"),
            categories.get("Pipeline"),
            categories.get("Best case"),
            categories.get("Commit"),
        ]

    def _company(self) -> None:
        base = f"{data.COMPANY['siren_seed'] * 12_345 % 10**8:08d}"
        siren = base + luhn.calc_check_digit(base)
        company = Company.current()
        company.name = data.COMPANY["name"]
        company.address = data.COMPANY["address"]
        company.siren = siren
        company.vat_number = "FR" + siren_number.to_tva(siren)
        company.currency = "EUR"
        company.save()
        self.currency = company.currency

    def _person_name(self, rng: random.Random) -> tuple[str, str, bool]:
        female = rng.random() < 0.5
        first = rng.choice(self.female_names if female else self.male_names)
        return first, rng.choice(self.last_names), female

    def _users(self) -> None:
        fake = self.fake
        self.male_names = sorted({fake.first_name_male() for _ in range(400)})
        self.female_names = sorted({fake.first_name_female() for _ in range(400)})
        self.last_names = sorted({fake.last_name() for _ in range(1500)})
        self.streets = [fake.street_address() for _ in range(3000)]
        rng = self._rng("users")
        teams = [Team.objects.get_or_create(name=name)[0] for name in data.TEAMS]
        password = make_password(data.DEMO_PASSWORD)
        joined_ts = self.start_ts - 400 * DAY
        emails: set[str] = set()

        def new_user(role: str, team: Team | None, email: str | None, joined: float) -> User:
            while True:
                first, last, _ = self._person_name(rng)
                address = email or f"{_ascii_slug(first, '')}.{_ascii_slug(last, '')}@" + (
                    data.DEMO_DOMAIN
                )
                if address not in emails:
                    emails.add(address)
                    break
            admin = role == User.Role.ADMIN
            return User(
                email=address,
                name=f"{first} {last}",
                role=role,
                team=team,
                password=password,
                is_staff=admin,
                is_superuser=admin,
                locale="fr",
                date_joined=self._utc(joined),
            )

        users = [new_user(User.Role.ADMIN, None, data.ADMIN_EMAIL, joined_ts)]
        users += [new_user(User.Role.MANAGER, team, None, joined_ts) for team in teams]
        rep_teams = []
        for team_index, team in enumerate(teams):
            for rep_index in range(4):
                # The fourth rep of each team joined halfway through the three years.
                joined = joined_ts if rep_index < 3 else self.start_ts + rng.uniform(450, 600) * DAY
                users.append(new_user(User.Role.REP, team, None, joined))
                rep_teams.append((team_index, joined))
        users = User.objects.bulk_create(users)
        users = list(User.objects.filter(email__in=[u.email for u in users]).order_by("pk"))
        by_email = {u.email: u for u in users}
        self.admin = by_email[data.ADMIN_EMAIL]
        self.managers = [u for u in users if u.role == User.Role.MANAGER]
        rep_users = [u for u in users if u.role == User.Role.REP]
        self.reps = [
            Rep(
                id=user.pk,
                email=user.email,
                team=team_index,
                start_ts=joined,
                win_factor=rng.uniform(0.8, 1.25),
            )
            for user, (team_index, joined) in zip(rep_users, rep_teams, strict=True)
        ]
        self.team_reps = [[r for r in self.reps if r.team == t] for t in range(len(teams))]
        self.result.counts.update(users=len(users), teams=len(teams))

    def _products(self) -> None:
        ts = self.start_ts - 380 * DAY
        products = [
            Product(
                name=name,
                code=code,
                unit=unit,
                unit_price_minor=int(Decimal(price) * 100),
                currency=self.currency,
                vat_rate=Decimal(vat),
                is_recurring=recurring,
                owner=self.admin,
                add_time=self._utc(ts),
                update_time=self._utc(ts),
            )
            for code, name, unit, price, vat, recurring, _ in data.PRODUCTS
        ]
        Product.objects.bulk_create(products)
        products = list(Product.objects.filter(is_deleted=False).order_by("pk"))
        self.tables["history"].write(
            [
                self._history(
                    "product",
                    p.pk,
                    Event.CREATED,
                    self.admin,
                    ts,
                    new={
                        "name": p.name,
                        "code": p.code,
                        "unit_price_minor": p.unit_price_minor,
                        "vat_rate": str(p.vat_rate),
                    },
                )
                for p in products
            ]
        )
        kinds = {code: kind for code, *_, kind in data.PRODUCTS}
        self.products = [(p, kinds.get(p.code, "one_off")) for p in products]
        self.result.counts.update(products=len(products))

    def _pipelines(self) -> None:
        standard = Pipeline.objects.filter(is_deleted=False).order_by("order_nr", "id").first()
        if standard is None:
            raise DemoError("The standard pipeline is missing; run `ruche migrate` first.")
        ts = self.start_ts - 380 * DAY
        top = Pipeline.objects.aggregate(top=Max("order_nr"))["top"] or 0
        renewal = Pipeline.objects.create(
            name=data.RENEWAL_PIPELINE,
            order_nr=top + 1,
            add_time=self._utc(ts),
            update_time=self._utc(ts),
        )
        history = [
            self._history(
                "pipeline",
                renewal.pk,
                Event.CREATED,
                self.admin,
                ts,
                new={"name": renewal.name, "order_nr": renewal.order_nr},
            )
        ]
        for order_nr, (name, probability, rotting, definition) in enumerate(
            data.RENEWAL_STAGES, start=1
        ):
            stage = Stage.objects.create(
                pipeline=renewal,
                name=name,
                order_nr=order_nr,
                deal_probability=probability,
                days_to_rotten=rotting,
                definition=definition,
                add_time=self._utc(ts),
                update_time=self._utc(ts),
            )
            history.append(
                self._history(
                    "stage",
                    stage.pk,
                    Event.CREATED,
                    self.admin,
                    ts,
                    new={
                        "pipeline": renewal.pk,
                        "name": name,
                        "order_nr": order_nr,
                        "deal_probability": probability,
                        "days_to_rotten": rotting,
                    },
                )
            )
        self.tables["history"].write(history)

        def stage_ids(pipeline):
            return list(
                pipeline.stages.filter(is_deleted=False)
                .order_by("order_nr", "id")
                .values_list("pk", flat=True)
            )

        self.pipelines = [(standard.pk, stage_ids(standard)), (renewal.pk, stage_ids(renewal))]
        if len(self.pipelines[0][1]) < 2:
            raise DemoError(f"Pipeline {standard.name!r} needs at least two stages.")
        self.result.counts.update(pipelines=2)

    # Organisations and persons --------------------------------------------------------------

    def _organizations(self) -> None:
        rng = self._rng("organizations")
        n = max(12, self.n_deals // DEALS_PER_ORGANIZATION) if self.n_deals else 0
        self.n_orgs = n
        imported = n * 15 // 100  # the customer base that existed before the three years
        times = sorted(
            [rng.uniform(self.start_ts - 365 * DAY, self.start_ts) for _ in range(imported)]
            + [rng.uniform(self.start_ts, self.end_ts - 3600) for _ in range(n - imported)]
        )
        self.org_time = array("d", times)
        self.org_owner = array("h")
        self.org_first_person = array("q")
        self.org_persons = array("b")
        self.org_source = array("q")
        self.org_size = []
        self.org_name = []
        self.person_first = []
        org_ids, person_ids = _Ids(Organization), _Ids(Person)
        self.org_base = org_ids.next
        self.person_base = person_ids.next
        siren_offset = rng.randrange(10**8)
        cities = [c for c, _, _ in data.CITIES]
        city_codes = {c: codes for c, codes, _ in data.CITIES}
        city_weights = [w for _, _, w in data.CITIES]
        sizes = [s for s, _ in data.SIZES]
        size_weights = [w for _, w in data.SIZES]
        industries = [i for i, _ in data.INDUSTRIES]
        industry_weights = [w for _, w in data.INDUSTRIES]
        forms = [f for f, _ in data.LEGAL_FORMS]
        form_weights = [w for _, w in data.LEGAL_FORMS]
        patterns = [p for p, _ in data.NAME_PATTERNS]
        pattern_weights = [w for _, w in data.NAME_PATTERNS]
        titles = [(m, f) for m, f, _ in data.JOB_TITLES]
        title_weights = [w for _, _, w in data.JOB_TITLES]

        for chunk_start in range(0, n, 5000):
            orgs, persons, history = [], [], []
            for i in range(chunk_start, min(n, chunk_start + 5000)):
                ts = times[i]
                size = rng.choices(sizes, size_weights)[0]
                team = 0 if size in data.LARGE_SIZES else 1
                candidates = [r for r in self.team_reps[team] if r.start_ts <= ts]
                owner_index = self.reps.index(rng.choice(candidates or self.team_reps[team]))
                owner = self.reps[owner_index]
                city = rng.choices(cities, city_weights)[0]
                last, last2 = rng.choice(self.last_names), rng.choice(self.last_names)
                stem = patterns[rng.choices(range(len(patterns)), pattern_weights)[0]].format(
                    last=last, last2=last2, word=rng.choice(data.NAME_WORDS), city=city
                )
                name = f"{stem} {rng.choices(forms, form_weights)[0]}"
                base = f"{(siren_offset + i * 7_368_787) % 10**8:08d}"
                siren = base + luhn.calc_check_digit(base)
                nic = f"{rng.randint(1, 99):04d}"
                siret = siren + nic + luhn.calc_check_digit(siren + nic)
                source = rng.choices(self.sources, self.source_weights)[0] if self.sources else None
                visible = EVERYONE if rng.random() < 0.9 else TEAM
                org_id = org_ids.take()
                add = self._stamp(ts)
                orgs.append(
                    (
                        org_id,
                        name,
                        rng.choice(self.streets),
                        rng.choice(city_codes[city]),
                        city,
                        "FR",
                        siren,
                        siret,
                        "FR" + siren_number.to_tva(siren),
                        rng.choices(industries, industry_weights)[0],
                        size,
                        source.pk if source else None,
                        owner.id,
                        int(visible),
                        add,
                        add,
                    )
                )
                history.append(
                    self._history(
                        "organization",
                        org_id,
                        Event.CREATED,
                        owner,
                        ts,
                        new={
                            "name": name,
                            "siren": siren,
                            "city": city,
                            "owner": owner.id,
                            "visible_to": visible,
                            "source": source.pk if source else None,
                        },
                    )
                )
                domain = (_ascii_slug(stem) or "entreprise") + ".fr"
                count = rng.choices((1, 2, 3, 4), (45, 35, 15, 5))[0]
                self.org_owner.append(owner_index)
                self.org_first_person.append(person_ids.next)
                self.org_persons.append(count)
                self.org_source.append(source.pk if source else 0)
                self.org_size.append(size)
                self.org_name.append(name)
                for _ in range(count):
                    first, last_name, female = self._person_name(rng)
                    person_ts = min(ts + rng.uniform(0, 2) * DAY, self.end_ts - 60)
                    person_id = person_ids.take()
                    email = f"{_ascii_slug(first)}.{_ascii_slug(last_name)}@{domain}"
                    phone = "+33 {} {:02d} {:02d} {:02d} {:02d}".format(
                        rng.choice("1234567"), *(rng.randrange(100) for _ in range(4))
                    )
                    full_name = f"{first} {last_name}"
                    person_add = self._stamp(person_ts)
                    persons.append(
                        (
                            person_id,
                            full_name,
                            first,
                            last_name,
                            [{"value": email, "label": "work", "primary": True}],
                            [{"value": phone, "label": "work", "primary": True}],
                            org_id,
                            rng.choices(titles, title_weights)[0][female],
                            owner.id,
                            int(visible),
                            person_add,
                            person_add,
                        )
                    )
                    history.append(
                        self._history(
                            "person",
                            person_id,
                            Event.CREATED,
                            owner,
                            person_ts,
                            new={"name": full_name, "org": org_id, "owner": owner.id},
                        )
                    )
                    self.person_first.append(first)
            with transaction.atomic():
                self.tables["organizations"].write(orgs)
                self.tables["persons"].write(persons)
                self.tables["history"].write(history)
            self.result.counts.update(
                organizations=len(orgs), persons=len(persons), history=len(history)
            )

    # Deals ----------------------------------------------------------------------------------

    def _day_counts(self) -> list[int]:
        """How many deals were created each day of the window: seasonality (a quiet August, a
        busy fourth quarter), weekdays, slow growth and some noise; the total is exact."""
        rng = self._rng("days")
        weights = []
        for offset in range(WINDOW_DAYS):
            day = self.start_day + dt.timedelta(days=offset)
            weight = data.MONTH_FACTOR[day.month] * data.WEEKDAY_FACTOR[day.weekday()]
            if (day.month, day.day) >= (12, 24) or (day.month, day.day) == (1, 1):
                weight *= 0.3
            weight *= (0.75 + 0.5 * offset / WINDOW_DAYS) * rng.uniform(0.8, 1.2)
            weights.append(weight)
        total = sum(weights)
        exact = [self.n_deals * w / total for w in weights]
        counts = [int(x) for x in exact]
        missing = self.n_deals - sum(counts)
        by_remainder = sorted(range(WINDOW_DAYS), key=lambda i: (counts[i] - exact[i], i))
        for i in by_remainder[:missing]:
            counts[i] += 1
        return counts

    def _deals(self) -> None:
        if not self.n_deals:
            return
        rng = self._rng("deals")
        self.deal_ids, self.activity_ids = _Ids(Deal), _Ids(Activity)
        self._new_chunk()
        done = 0
        started = time.perf_counter()
        for offset, count in enumerate(self._day_counts()):
            if not count:
                continue
            day_ts = self._midnight(self.start_day + dt.timedelta(days=offset))
            # Office hours, local time.
            for add_ts in sorted(day_ts + rng.uniform(8.5, 18.5) * 3600 for _ in range(count)):
                self._deal(rng, add_ts)
                done += 1
                if len(self.chunk["deals"]) >= self.chunk_size:
                    self._flush()
                    if self.progress:
                        self.progress(done, self.n_deals, time.perf_counter() - started)
        self._flush()
        if self.progress:
            self.progress(done, self.n_deals, time.perf_counter() - started)

    def _new_chunk(self) -> None:
        self.chunk = {name: [] for name in TABLE_ORDER}

    def _flush(self) -> None:
        chunk = self.chunk
        if not chunk["deals"]:
            return
        with transaction.atomic():
            for name in TABLE_ORDER:
                self.tables[name].write(chunk[name])
        self.result.counts.update(
            {
                {"entries": "stage_entries", "lines": "deal_lines", "labels": "deal_labels"}.get(
                    name, name
                ): len(rows)
                for name, rows in chunk.items()
            }
        )
        self._new_chunk()

    def _pick_org(self, rng: random.Random, ts: float, renewal: bool) -> int:
        times = self.org_time
        known = max(1, bisect.bisect_right(times, ts))
        if renewal:
            customers = bisect.bisect_right(times, ts - 365 * DAY)
            return rng.randrange(customers or known)
        if rng.random() < 0.6:
            recent = bisect.bisect_left(times, ts - 90 * DAY)
            if recent < known:
                return rng.randrange(recent, known)
        return rng.randrange(known)

    def _value(
        self, rng: random.Random, kind: str, size: str
    ) -> tuple[int, int | None, int | None]:
        """Value, monthly amount and term in months, in minor units."""
        scale = data.SIZE_VALUE[size]
        if kind == "recurring":
            monthly = _round_to(rng.lognormvariate(math.log(420 * scale), 0.55), 10) * 100
            term = rng.choices((12, 24, 36), (50, 30, 20))[0]
            return monthly * term, monthly, term
        median = 7500 if kind == "one_off" else 5200
        value = rng.lognormvariate(math.log(median * scale), 0.6)
        return _round_to(value, 100 if value >= 10_000 else 50) * 100, None, None

    def _lines(self, rng: random.Random, deal_id: int, size: str, add: dt.datetime):
        """1 to 3 product lines; returns the lines, the revenue type, the monthly amount."""
        scale = data.SIZE_VALUE[size]
        picked = rng.sample(self.products, rng.choices((1, 2, 3), (45, 35, 20))[0])
        term = rng.choices((12, 24, 36), (50, 30, 20))[0]
        lines, kinds, monthly = [], set(), 0
        for order_nr, (product, kind) in enumerate(picked, start=1):
            kinds.add(kind)
            if kind == "recurring":
                seats = 1 if product.unit == "mois" else max(2, round(rng.uniform(3, 25) * scale))
                quantity = Decimal(seats * term)
            elif kind == "services":
                quantity = Decimal(max(1, round(rng.uniform(1, 8) * scale)))
                if product.unit in ("personne", "nuit"):
                    quantity *= 10
            else:
                quantity = Decimal(max(1, round(rng.uniform(2, 30) * scale)))
            discount = Decimal(rng.choices((0, 5, 10, 15), (60, 20, 15, 5))[0])
            total = line_total_minor(quantity, product.unit_price_minor, discount)
            if kind == "recurring":
                monthly += round(total / term)
            lines.append(
                (
                    deal_id,
                    product.pk,
                    product.name,
                    quantity,
                    product.unit_price_minor,
                    discount,
                    product.vat_rate,
                    total,
                    line_vat_minor(total, product.vat_rate),
                    order_nr,
                    add,
                    add,
                )
            )
        if "recurring" in kinds:
            return lines, "recurring", monthly, term
        return lines, ("services" if kinds == {"services"} else "one_off"), None, None

    def _path(self, rng: random.Random, start: int, final: int) -> list[int]:
        """Stage indexes a deal went through: mostly one step at a time, sometimes skipping
        a stage, rarely stepping back once."""
        path, current = [start], start
        while current < final:
            current += 2 if final - current >= 2 and rng.random() < 0.1 else 1
            path.append(current)
        if len(path) >= 3 and rng.random() < 0.04:
            i = rng.randrange(1, len(path) - 1)
            path[i + 1 : i + 1] = [path[i - 1], path[i]]
        return path

    def _deal(self, rng: random.Random, add_ts: float) -> None:
        chunk = self.chunk
        renewal = rng.random() < RENEWAL_SHARE
        pipeline_id, stage_ids = self.pipelines[1 if renewal else 0]
        n_stages = len(stage_ids)
        org_index = self._pick_org(rng, add_ts, renewal)
        org_id = self.org_base + org_index
        size = self.org_size[org_index]
        owner = self.reps[self.org_owner[org_index]]
        if rng.random() < 0.1:
            colleagues = [
                r for r in self.team_reps[owner.team] if r.start_ts <= add_ts and r is not owner
            ]
            owner = rng.choice(colleagues) if colleagues else owner
        first_person = self.org_first_person[org_index]
        person_offset = 0 if rng.random() < 0.6 else rng.randrange(self.org_persons[org_index])
        person_id = first_person + person_offset
        person_first = self.person_first[person_id - self.person_base]
        deal_id = self.deal_ids.take()
        add = self._stamp(add_ts)
        age_days = (self.end_ts - add_ts) / DAY

        # Value and revenue type.
        lines = []
        if not renewal and rng.random() < LINES_SHARE:
            lines, revenue_type, monthly, term = self._lines(rng, deal_id, size, add)
            value = sum(line[7] for line in lines)  # total_minor
        else:
            revenue_type = (
                "recurring"
                if renewal
                else rng.choices(("one_off", "recurring", "services"), (40, 35, 25))[0]
            )
            value, monthly, term = self._value(rng, revenue_type, size)

        # The story: every deal runs its course with the same laws whatever its creation
        # date, so the past looks like the present: won or lost after a cycle, or stalled and
        # closed as lost at a pipeline clean-up months later. A deal whose course ends after
        # the reference date is open, in the stage it had reached by then.
        start = 0 if renewal else rng.choices((0, 1, 2), (75, 20, 5))[0]
        start = min(start, n_stages - 1)
        win_rate = (0.78 if renewal else 0.32) * owner.win_factor
        stalled = rng.random() < STALLED_SHARE
        if stalled:
            outcome = "lost"
            final = start + rng.randint(0, max(0, n_stages - 3 - start))
            moves_end = add_ts + rng.uniform(5, 60) * DAY
            cycle = rng.lognormvariate(math.log(CLEANUP_MEDIAN_DAYS), 0.5) * DAY
        else:
            outcome = "won" if rng.random() < win_rate else "lost"
            if outcome == "won":
                final = n_stages - 1 - rng.choices((0, 1, 2), (70, 25, 5))[0]
            else:
                final = rng.choices(range(n_stages), (32, 25, 18, 15, 10, 5, 5, 5)[:n_stages])[0]
            median = 15 if renewal else (45 if outcome == "won" else 30)
            cycle = rng.lognormvariate(math.log(median), 0.8) * DAY
            moves_end = add_ts + cycle
        final = max(start, min(final, n_stages - 1))
        end_ts = add_ts + cycle
        is_open = end_ts >= self.end_ts - 60
        status = "open" if is_open else outcome
        path = self._path(rng, start, final)
        move_times = sorted(
            self._office_hours(rng, rng.uniform(add_ts, moves_end), add_ts, moves_end)
            for _ in range(len(path) - 1)
        )
        if is_open:
            move_times = [t for t in move_times if t < self.end_ts - 60]
            path = path[: len(move_times) + 1]
        else:
            last_move = move_times[-1] if move_times else add_ts
            end_ts = self._office_hours(rng, end_ts, last_move, self.end_ts - 60)
        entered = [add_ts, *move_times]
        stage_change_ts = entered[-1]

        # Dates.
        local_add = self._local(add_ts).date()
        if is_open:
            planned = local_add + dt.timedelta(days=rng.randint(20, 90))
            expected = planned if stalled else self._local(end_ts).date()
            expected += dt.timedelta(days=rng.randint(-15, 20))
            if expected < self.today and rng.random() < 0.7:
                expected = self.today + dt.timedelta(days=rng.randint(5, 60))
        else:
            expected = self._local(end_ts).date() + dt.timedelta(days=rng.randint(-15, 20))
        close_ts = None if is_open else end_ts
        lost_reason_id = None
        competitor = ""
        if status == "lost":
            lost_reason_id = rng.choices(self.loss_reasons, self.loss_weights)[0].pk
            if lost_reason_id in self.competitor_reason_ids or rng.random() < 0.05:
                competitor = rng.choice(data.COMPETITORS)
        elif rng.random() < 0.15:
            competitor = rng.choice(data.COMPETITORS)
        if revenue_type == "recurring":
            start_date = (self._local(close_ts).date() if close_ts else expected) + dt.timedelta(
                days=rng.randint(1, 15)
            )
        else:
            start_date = None

        org_name = self.org_name[org_index]
        if renewal:
            title = f"{org_name} {DASH} Renouvellement {expected.year}"
        else:
            title = f"{org_name} {DASH} {rng.choice(data.NEEDS[revenue_type])}"
        source_id = self.org_source[org_index] or None
        if rng.random() < 0.15 and self.sources:
            source_id = rng.choices(self.sources, self.source_weights)[0].pk
        visible = rng.choices((EVERYONE, TEAM, OWNER_ONLY), (85, 12, 3))[0]
        chunk["history"].append(
            self._history(
                "deal",
                deal_id,
                Event.CREATED,
                owner,
                add_ts,
                new={
                    "title": title,
                    "org": org_id,
                    "person": person_id,
                    "owner": owner.id,
                    "visible_to": visible,
                    "pipeline": pipeline_id,
                    "stage": stage_ids[path[0]],
                    "status": "open",
                    "value_minor": value,
                    "currency": self.currency,
                    "expected_close_date": expected.isoformat(),
                    "source": source_id,
                    "revenue_type": revenue_type,
                },
            ),
        )
        # Stage entries and history.
        history = chunk["history"]
        entries = chunk["entries"]
        previous = None
        for i, stage_index in enumerate(path):
            stage_id = stage_ids[stage_index]
            entries.append(
                (
                    deal_id,
                    pipeline_id,
                    stage_id,
                    previous,
                    self._stamp(entered[i]),
                    self._stamp(entered[i + 1]) if i + 1 < len(path) else None,
                )
            )
            if previous is not None:
                history.append(
                    self._history(
                        "deal",
                        deal_id,
                        Event.STAGE_MOVED,
                        owner,
                        entered[i],
                        "stage",
                        previous,
                        stage_id,
                    )
                )
            previous = stage_id

        if close_ts is not None:
            history.append(
                self._history("deal", deal_id, status, owner, close_ts, "status", "open", status)
            )

        # Activities: done ones along the way, and an upcoming (or overdue) one if open.
        activities = chunk["activities"]
        pool = data.RENEWAL_ACTIVITIES if renewal else data.STAGE_ACTIVITIES
        last_done_ts = None
        bounds = [*entered, close_ts if close_ts is not None else self.end_ts - 60]
        for i, stage_index in enumerate(path):
            if rng.random() >= 0.65:
                continue
            kind, subject, duration = rng.choice(pool[min(stage_index, len(pool) - 1)])
            at = self._office_hours(
                rng, rng.uniform(bounds[i], bounds[i + 1]), bounds[i], bounds[i + 1]
            )
            done_ts = min(at + (duration or 0) * 60, self.end_ts - 60)
            local = self._local(at)
            activities.append(
                (
                    self.activity_ids.take(),
                    subject,
                    kind,
                    owner.id,
                    deal_id,
                    person_id,
                    org_id,
                    local.date(),
                    local.time().replace(second=0),
                    duration,
                    True,
                    self._stamp(done_ts),
                    self._stamp(max(add_ts, at - rng.uniform(0, 3) * DAY)),
                    self._stamp(done_ts),
                    owner.id,
                    visible,
                    visible == EVERYONE,
                )
            )
            last_done_ts = max(last_done_ts or done_ts, done_ts)
        next_activity_id = next_activity_date = None
        if is_open and rng.random() < 0.9:
            kind, subject, duration = rng.choice(data.UPCOMING_ACTIVITIES)
            if rng.random() < 0.88:
                due = self.today + dt.timedelta(days=rng.choice((0, 1, 1, 2, 3, 4, 7, 8, 14, 21)))
            else:
                overdue_from = self._local(stage_change_ts).date()
                span = max(0, (self.today - overdue_from).days - 1)
                due = overdue_from + dt.timedelta(days=rng.randint(0, span))
                due = min(due, self.today - dt.timedelta(days=1))
            next_activity_id = self.activity_ids.take()
            next_activity_date = due
            activities.append(
                (
                    next_activity_id,
                    subject,
                    kind,
                    owner.id,
                    deal_id,
                    person_id,
                    org_id,
                    due,
                    dt.time(rng.randint(8, 17), rng.choice((0, 30))),
                    duration,
                    False,
                    None,
                    self._stamp(stage_change_ts),
                    self._stamp(stage_change_ts),
                    owner.id,
                    visible,
                    visible == EVERYONE,
                )
            )

        # Notes and labels.
        if rng.random() < 0.35:
            note_ts = rng.uniform(add_ts, bounds[-1])
            chunk["notes"].append(
                (
                    rng.choice(data.NOTES).format(first=person_first),
                    owner.id,
                    deal_id,
                    person_id,
                    org_id,
                    self._stamp(note_ts),
                    self._stamp(note_ts),
                )
            )
        if is_open and rng.random() < 0.35:
            stage_share = path[-1] / max(1, n_stages - 1)
            label = (
                self.label_cold
                if age_days > 120
                else self.label_hot
                if stage_share >= 0.75
                else self.label_warm
            )
            if label:
                chunk["labels"].append((deal_id, label))

        win_loss = ""
        if status != "open" and rng.random() < 0.2:
            win_loss = rng.choice(data.WIN_LOSS_REPORTS[status])
        last_write_ts = close_ts if close_ts is not None else stage_change_ts
        close = self._stamp(close_ts) if close_ts is not None else None
        chunk["lines"].extend(lines)
        chunk["deals"].append(
            (
                deal_id,
                title,
                org_id,
                person_id,
                owner.id,
                owner.id,
                visible,
                pipeline_id,
                stage_ids[path[-1]],
                status,
                value,
                self.currency,
                expected,
                {"won": 100, "lost": 0}.get(status),
                (self.forecast_by_stage[min(path[-1], 4)] if is_open and not renewal else None),
                rng.choice(data.NEXT_STEPS) if is_open else "",
                source_id,
                competitor,
                lost_reason_id,
                win_loss,
                revenue_type,
                monthly,
                term,
                start_date,
                self._stamp(stage_change_ts),
                close if status == "won" else None,
                close if status == "lost" else None,
                close,
                self._local(last_done_ts).date() if last_done_ts else None,
                next_activity_id,
                next_activity_date,
                add,
                self._stamp(last_write_ts),
                len(path) + (0 if is_open else 1),
            )
        )

    def _billing(self) -> None:
        """Quotes, invoices, credit notes and payments for recently won deals (ruche.demo.billing:
        the last 12 months, at most MAX_BILLED_DEALS deals)."""
        counts = generate_billing(
            seed=self.seed,
            today=self.today,
            company=Company.current(),
            company_address=data.COMPANY["address"],
        )
        self.result.counts.update(counts)

    def _reset_sequences(self) -> None:
        """Ids were given explicitly: move PostgreSQL's sequences past them."""
        statements = connection.ops.sequence_reset_sql(
            no_style(), [Organization, Person, Deal, Activity, User, Product, Pipeline, Stage]
        )
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)


def generate(
    *,
    deals: int,
    seed: int,
    today: dt.date | None = None,
    chunk_size: int = 2000,
    progress: Callable[[int, int, float], None] | None = None,
) -> DemoResult:
    """Load the demo into an empty database (see `existing_data`); refuse otherwise."""
    found = existing_data()
    if found:
        held = ", ".join(f"{count} {kind}" for kind, count in found.items())
        raise DemoError(f"The database is not empty ({held}).")
    return DemoGenerator(
        deals=deals, seed=seed, today=today, chunk_size=chunk_size, progress=progress
    ).run()
