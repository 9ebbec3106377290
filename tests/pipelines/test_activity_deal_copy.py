"""An activity's copy of its deal's owner and visibility (Activity.deal_owner, deal_visible_to),
which the visibility rule reads: right after every write that can change it."""

import datetime as dt
import importlib

from django.db import connection
from django.db.models import F, Q

from ruche.core.models import Visibility
from ruche.demo.generator import generate
from ruche.pipelines.models import Activity, Deal
from ruche.pipelines.selectors import activity_queryset
from ruche.pipelines.services import activity_create
from ruche.transfer.models import ImportRun
from ruche.transfer.undo import undo_import
from tests.factories import DealFactory
from tests.transfer.conftest import run_import  # noqa: F401

OWNER, TEAM, EVERYONE = Visibility.OWNER, Visibility.TEAM, Visibility.EVERYONE


def wrong_copies() -> list:
    """The activities whose copy differs from their deal (or is set without a deal)."""
    on_deal = Activity.objects.filter(deal__isnull=False)
    copied = {"deal_owner": F("deal__owner"), "deal_visible_to": F("deal__visible_to")}
    public = Q(deal_public=True) & ~Q(deal_visible_to=EVERYONE)
    wrong = (
        on_deal.exclude(**copied)
        | Activity.objects.filter(public | Q(deal_public=False, deal_visible_to=EVERYONE))
        | Activity.objects.filter(deal__isnull=True, deal_owner__isnull=False)
    )
    return list(wrong.values_list("pk", flat=True))


def test_an_import_undone_gives_the_activities_their_deals_visibility_back(
    run_import,  # noqa: F811
    admin,
    admin_actor,
    rep,
    other_rep,
    stages,
):
    run_import(
        "deals", f"Réf;Titre;Étape;Visible to;Propriétaire\nA1;Alpha;Lead;owner;{rep.email}\n"
    )
    run, report = run_import(
        "deals",
        f"Réf;Visible to;Propriétaire\nA1;everyone;{other_rep.email}\n",
        name="update.csv",
        duplicates="update",
    )
    assert report.updated == 1, report.errors
    deal = Deal.objects.get()
    activity = activity_create(actor=admin_actor, data={"subject": "Suivi", "deal_id": deal.pk})
    assert activity_queryset(other_rep).filter(pk=activity.pk).exists()
    undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)
    deal.refresh_from_db()
    assert (deal.visible_to, deal.owner_id) == (OWNER, rep.pk)
    assert not activity_queryset(other_rep).filter(pk=activity.pk).exists()
    assert wrong_copies() == []


def test_the_migration_copies_every_deals_owner_and_visibility(admin_actor, rep, other_rep, stages):
    migration = importlib.import_module("ruche.pipelines.migrations.0008_activity_deal_visibility")
    private = DealFactory(owner=rep, visible_to=OWNER, stage=stages[0])
    team = DealFactory(owner=other_rep, visible_to=TEAM, stage=stages[0])
    for deal in (private, team, None):
        links = {"deal_id": deal.pk} if deal else {}
        activity_create(actor=admin_actor, data={"subject": "Suivi", **links})
    Activity.objects.update(deal_owner=None, deal_visible_to=None)
    with connection.cursor() as cursor:
        cursor.execute(migration.COPY_DEAL_VISIBILITY)
    assert sorted(Activity.objects.values_list("deal_owner", "deal_visible_to"), key=str) == sorted(
        [(rep.pk, OWNER), (other_rep.pk, TEAM), (None, None)], key=str
    )


def test_the_demo_writes_the_copy(db):
    generate(deals=200, seed=3, today=dt.date(2025, 6, 30))
    assert Activity.objects.filter(deal__isnull=False).count() > 100
    assert wrong_copies() == []
