import datetime as dt
import itertools
from collections import Counter
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from stdnum.fr import siren, siret

from ruche.accounts.models import Team, User
from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.models import ChangeRecord
from ruche.demo import data
from ruche.demo.digest import demo_digest
from ruche.demo.generator import DemoError, DemoGenerator, generate
from ruche.pipelines.models import Activity, Deal, DealLine, Pipeline, Stage, StageEntry
from ruche.pipelines.services.activities import refresh_deal_activity

TODAY = dt.date(2025, 6, 30)
MIDNIGHT = dt.datetime(2025, 6, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # Paris, CEST


def load_and_digest(**options) -> tuple[str, int]:
    """Load the demo, take its digest, and roll it all back."""
    with transaction.atomic():
        result = generate(**options)
        digest = demo_digest()
        transaction.set_rollback(True)
    return digest, result.counts["deals"]


@pytest.mark.django_db
def test_same_seed_same_data_other_seed_other_data():
    first = load_and_digest(deals=80, seed=7, today=TODAY, chunk_size=25)
    again = load_and_digest(deals=80, seed=7, today=TODAY, chunk_size=50)
    other = load_and_digest(deals=80, seed=8, today=TODAY)

    assert first == again
    assert first[1] == 80
    assert other[0] != first[0]


@pytest.fixture
def demo(db):
    return generate(deals=400, seed=3, today=TODAY)


def test_people_and_structure(demo):
    assert Deal.objects.count() == 400
    assert sorted(Team.objects.values_list("name", flat=True)) == sorted(data.TEAMS)
    roles = Counter(User.objects.values_list("role", flat=True))
    assert roles == {"admin": 1, "manager": 2, "rep": 8}
    assert list(
        User.objects.filter(role="rep")
        .values("team__name")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    ) == [4, 4]
    admin = User.objects.get(email=data.ADMIN_EMAIL)
    assert admin.is_superuser and admin.check_password(data.DEMO_PASSWORD)
    assert list(Pipeline.objects.values_list("name", flat=True)) == [
        "New business",
        data.RENEWAL_PIPELINE,
    ]
    assert set(Deal.objects.values_list("pipeline__name", flat=True)) == {
        "New business",
        data.RENEWAL_PIPELINE,
    }
    assert set(Product.objects.values_list("vat_rate", flat=True)) == {
        Decimal(20),
        Decimal(10),
        Decimal("5.5"),
    }
    assert Product.objects.filter(is_recurring=True).exists()
    assert demo.counts["deals"] == 400 and demo.counts["users"] == 11


def test_organizations_have_valid_french_numbers(demo):
    orgs = list(Organization.objects.all())
    assert len(orgs) == 100
    assert all(siren.is_valid(o.siren) and siret.is_valid(o.siret) for o in orgs)
    assert all(o.siret.startswith(o.siren) and o.vat_number.endswith(o.siren) for o in orgs)
    assert len({o.siren for o in orgs}) == len(orgs)
    assert all(o.country == "FR" and o.city and o.postal_code and o.industry for o in orgs)
    assert Person.objects.filter(org__isnull=True).count() == 0
    assert Person.objects.count() >= len(orgs)


def test_deal_outcomes_are_consistent(demo):
    midnight = MIDNIGHT
    won = Deal.objects.filter(status="won")
    lost = Deal.objects.filter(status="lost")
    open_ = Deal.objects.filter(status="open")
    assert won.exists() and lost.exists() and open_.exists()
    assert not won.filter(Q(won_time__isnull=True) | ~Q(probability=100)).exists()
    assert won.filter(close_time=F("won_time"), lost_time__isnull=True).count() == won.count()
    assert not lost.filter(
        Q(lost_time__isnull=True) | Q(lost_reason__isnull=True) | ~Q(probability=0)
    ).exists()
    assert lost.filter(close_time=F("lost_time"), won_time__isnull=True).count() == lost.count()
    assert not open_.filter(close_time__isnull=False).exists()
    assert not Deal.objects.filter(close_time__gte=midnight).exists()
    assert not Deal.objects.filter(add_time__gte=midnight).exists()
    assert not Deal.objects.filter(stage_change_time__lt=F("add_time")).exists()
    assert not Deal.objects.filter(update_time__lt=F("stage_change_time")).exists()
    share_open = open_.count() / 400
    assert 0.1 < share_open < 0.35
    # Open deals are mostly recent.
    recent = open_.filter(add_time__gte=midnight - dt.timedelta(days=365)).count()
    assert recent > open_.count() / 2
    assert Deal.objects.filter(revenue_type="recurring", recurring_monthly_minor__gt=0).exists()
    assert not Deal.objects.filter(value_minor__lte=0).exists()


def test_stage_entries_and_history_tell_each_deal_story(demo):
    deals = list(Deal.objects.all())
    entries = {}
    for entry in StageEntry.objects.order_by("entered_at", "id"):
        entries.setdefault(entry.deal_id, []).append(entry)
    history = {}
    for record in ChangeRecord.objects.filter(entity="deal").order_by("id"):
        history.setdefault(record.entity_id, []).append(record)
    assert StageEntry.objects.count() >= len(deals)

    for deal in deals:
        story, events = entries[deal.pk], history[deal.pk]
        assert [e.event for e in events].count("created") == 1
        assert events[0].event == "created" and events[0].time == deal.add_time
        assert events[0].new_value["stage"] == story[0].stage_id
        moves = [e for e in events if e.event == "stage_moved"]
        assert [(m.old_value, m.new_value) for m in moves] == [
            (e.from_stage_id, e.stage_id) for e in story[1:]
        ]
        assert story[0].from_stage_id is None and story[0].entered_at == deal.add_time
        assert all(a.left_at == b.entered_at for a, b in itertools.pairwise(story))
        assert story[-1].left_at is None
        assert story[-1].stage_id == deal.stage_id
        assert deal.stage_change_time == story[-1].entered_at
        assert all(e.pipeline_id == deal.pipeline_id for e in story)
        closing = [e for e in events if e.event in ("won", "lost")]
        if deal.status == "open":
            assert closing == []
        else:
            assert [(c.event, c.old_value, c.new_value, c.time) for c in closing] == [
                (deal.status, "open", deal.status, deal.close_time)
            ]
        assert deal.version == 1 + len(moves) + len(closing)
        assert all(e.actor_user_id == deal.owner_id for e in events)


def test_lines_make_the_value(demo):
    with_lines = Deal.objects.filter(lines__isnull=False).distinct()
    assert with_lines.exists()
    for deal in with_lines.annotate(total=Sum("lines__total_minor")):
        assert deal.value_minor == deal.total
    assert not DealLine.objects.exclude(vat_rate__in=[20, 10, Decimal("5.5")]).exists()


def test_activity_summary_matches_what_the_service_computes(demo):
    before = {
        d["pk"]: d
        for d in Deal.objects.values(
            "pk", "next_activity_id", "next_activity_date", "last_activity_date"
        )
    }
    for deal_id in before:
        refresh_deal_activity(deal_id)
    after = {
        d["pk"]: d
        for d in Deal.objects.values(
            "pk", "next_activity_id", "next_activity_date", "last_activity_date"
        )
    }
    assert after == before
    assert Activity.objects.filter(done=True, marked_as_done_time__gte=MIDNIGHT).count() == 0
    upcoming = Activity.objects.filter(done=False, due_date__gte=TODAY)
    assert upcoming.exists()
    assert not upcoming.exclude(deal__status="open").exists()


def test_refuses_a_database_that_is_not_empty(demo):
    counts = Deal.objects.count(), User.objects.count()
    with pytest.raises(DemoError, match="not empty"):
        generate(deals=10, seed=1, today=TODAY)
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", deals=10, stdout=StringIO())
    out = StringIO()
    call_command("demo", deals=10, if_empty=True, stdout=out)
    assert "demo not loaded" in out.getvalue()
    assert data.ADMIN_EMAIL in out.getvalue()
    assert (Deal.objects.count(), User.objects.count()) == counts


@pytest.mark.django_db
def test_refuses_even_a_single_user():
    User.objects.create_user("solo@example.fr", None)
    with pytest.raises(DemoError, match="1 users"):
        generate(deals=10, seed=1, today=TODAY)
    assert not Deal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_reset_erases_then_loads():
    User.objects.create_user("solo@example.fr", None)
    out = StringIO()
    call_command("demo", deals=30, seed=2, reset=True, interactive=False, stdout=out)

    assert not User.objects.filter(email="solo@example.fr").exists()
    assert Deal.objects.count() == 30
    assert f"Demo login: {data.ADMIN_EMAIL} / {data.DEMO_PASSWORD}" in out.getvalue()


def test_seasonality_fewer_deals_in_august_more_in_the_fourth_quarter():
    generator = DemoGenerator(deals=100_000, seed=1, today=TODAY)
    by_month = Counter()
    for offset, count in enumerate(generator._day_counts()):
        by_month[(generator.start_day + dt.timedelta(days=offset)).month] += count
    assert sum(by_month.values()) == 100_000
    average = 100_000 / 12
    assert by_month[8] < 0.6 * average
    assert all(by_month[month] > average for month in (10, 11))
    assert by_month[10] + by_month[11] + by_month[12] > by_month[7] + by_month[8] + by_month[9]


def test_rejects_a_future_reference_date():
    with pytest.raises(DemoError):
        DemoGenerator(deals=1, seed=1, today=dt.date.today() + dt.timedelta(days=2))


def test_deals_flow_in_every_month_and_close_over_the_following_months(demo):
    """The past looks like the present: deals are added every month, and each runs its
    course (a cycle drawn from the same laws whatever its start), so closes spread over the
    months after the creation and the open deals are the ones still running."""
    paris = ZoneInfo("Europe/Paris")
    added = list(Deal.objects.values_list("add_time", "close_time", "status"))
    months = {add.astimezone(paris).strftime("%Y-%m") for add, _close, _status in added}
    # Most months of the three years (with only 400 deals the quietest days get none).
    assert len(months) >= 24
    cycles = [(close - add).days for add, close, status in added if status != "open"]

    def share(low, high):
        return sum(1 for days in cycles if low <= days < high) / len(cycles)

    assert share(0, 30) > 0.3 and share(30, 90) > 0.2
    assert share(90, 10_000) > 0.05  # stalled deals closed at a clean-up
    # Open deals still running have moved on: not all wait in their pipeline's first stage.
    first_stages = [
        Stage.objects.filter(pipeline=pipeline).order_by("order_nr", "pk").first().pk
        for pipeline in Pipeline.objects.all()
    ]
    assert Deal.objects.filter(status="open").exclude(stage_id__in=first_stages).exists()
