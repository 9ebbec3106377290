"""Helpers to build small, hand-made data sets through the services."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q

from ruche.core import currency
from ruche.forecasting.stage_tallies import tallies_follow
from ruche.pipelines.models import Deal, StageEntry
from ruche.pipelines.services import deal_update
from tests.api.conftest import api_as, token_for  # noqa: F401
from tests.factories import FACTORY_ACTOR, DealFactory

PARIS = ZoneInfo("Europe/Paris")


def at(day: str, hour: int = 12) -> dt.datetime:
    """Noon (or `hour`) on a day, in the company's time zone."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), PARIS)


def set_times(deal: Deal, **times) -> Deal:
    """Place a deal's dates in the past on purpose (the services stamp `now`), its stage
    tallies following as the services keep them."""
    with tallies_follow(Q(deal_id=deal.pk)):
        Deal.objects.filter(pk=deal.pk).update(**times)
    deal.refresh_from_db()
    return deal


def set_entries(deal: Deal, *spans) -> None:
    """Rewrite a deal's stage entries, in order, to (entered, left) times, its stage tallies
    following."""
    entries = list(StageEntry.objects.filter(deal=deal).order_by("entered_at", "id"))
    assert len(entries) == len(spans)
    with tallies_follow(Q(deal_id=deal.pk)):
        for entry, (entered, left) in zip(entries, spans, strict=True):
            StageEntry.objects.filter(pk=entry.pk).update(entered_at=entered, left_at=left)


@pytest.fixture
def make_deal(pipeline, loss_reason):
    """`make_deal(owner, "1000", status="won", won="2026-02-10", created="2026-01-05")`."""

    def make(
        owner,
        value,
        *,
        currency_code="EUR",
        status="open",
        won=None,
        lost=None,
        created="2026-01-01",
        **data,
    ):
        deal = DealFactory(
            owner=owner, value=value, currency=currency_code, add_time=at(created), **data
        )
        if status == "won":
            deal = deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"status": "won"})
            moment = at(won)
            set_times(deal, won_time=moment, close_time=moment)
        elif status == "lost":
            deal = deal_update(
                actor=FACTORY_ACTOR,
                deal_id=deal.pk,
                data={"status": "lost", "lost_reason_id": loss_reason.pk},
            )
            moment = at(lost)
            set_times(deal, lost_time=moment, close_time=moment)
        deal.refresh_from_db()
        return deal

    return make


@pytest.fixture
def usd_rates(admin_actor):
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2026-01-01", rate="0.9"
    )
    currency.exchange_rate_set(
        actor=admin_actor, currency="USD", valid_from="2026-03-01", rate="0.8"
    )
