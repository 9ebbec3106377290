"""The stage tallies follow every write: after each change they equal the tallies computed
again from the entries, and the indicators read from them equal those read from the entries."""

import datetime as dt
import io
import itertools

import pytest
from django.core.management import call_command

from ruche.core.exceptions import PreconditionFailed
from ruche.core.models import Visibility
from ruche.forecasting import metrics
from ruche.forecasting.metrics import MetricQuery, metric
from ruche.forecasting.models import NO_EARLIER_ENTRY, StageEntryTally, StageStayTally
from ruche.forecasting.stage_tallies import rebuild, tallies_follow, tally_deals
from ruche.pipelines.models import Deal, StageEntry
from ruche.pipelines.services import (
    deal_delete,
    deal_move_to_stage,
    deal_update,
    pipeline_create_standard,
    stage_reorder,
)
from ruche.transfer.bulk import id_ranges_q
from ruche.transfer.models import ImportRun
from ruche.transfer.undo import undo_import
from tests.factories import FACTORY_ACTOR, DealFactory
from tests.forecasting.conftest import at, set_entries, set_times
from tests.transfer.conftest import run_import  # noqa: F401

EUR, EVERYONE = "EUR", Visibility.EVERYONE


def tally_rows() -> tuple[list, list]:
    entries = StageEntryTally.objects.values_list(
        "day",
        "pipeline_id",
        "stage_id",
        "owner_id",
        "visible_to",
        "currency",
        "prev_day",
        "entries",
        "reached",
        "won",
        "to_won_us",
    )
    stays = StageStayTally.objects.values_list(
        "day", "pipeline_id", "stage_id", "owner_id", "visible_to", "currency", "stays", "stay_us"
    )
    return sorted(entries), sorted(stays)


def assert_tallies_follow():
    """The tallies the writes kept equal those computed again from every entry."""
    kept = tally_rows()
    rebuild()
    assert tally_rows() == kept


def microseconds(end: dt.datetime, start: dt.datetime) -> int:
    return (end - start) // dt.timedelta(microseconds=1)


def test_each_deal_write_keeps_the_tallies_exact(rep, other_rep, stages, loss_reason, unchanged):
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    deal = DealFactory(owner=rep, stage=lead)
    today = deal.add_time.astimezone(at("2026-01-01").tzinfo).date()
    p = deal.pipeline_id
    assert tally_rows() == (
        [(today, p, lead.pk, rep.pk, EVERYONE, EUR, NO_EARLIER_ENTRY, 1, 0, 0, 0)],
        [],
    )

    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=meeting.pk)
    deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=lead.pk)
    first, second, _ = StageEntry.objects.filter(deal=deal).order_by("id")
    # Lead then Meeting reached further; the second Lead entry is a re-entry of the same day.
    assert tally_rows() == (
        [
            (today, p, lead.pk, rep.pk, EVERYONE, EUR, NO_EARLIER_ENTRY, 1, 1, 0, 0),
            (today, p, lead.pk, rep.pk, EVERYONE, EUR, today, 1, 0, 0, 0),
            (today, p, meeting.pk, rep.pk, EVERYONE, EUR, NO_EARLIER_ENTRY, 1, 0, 0, 0),
        ],
        [
            (
                today,
                p,
                lead.pk,
                rep.pk,
                EVERYONE,
                EUR,
                1,
                microseconds(first.left_at, first.entered_at),
            ),
            (
                today,
                p,
                meeting.pk,
                rep.pk,
                EVERYONE,
                EUR,
                1,
                microseconds(second.left_at, second.entered_at),
            ),
        ],
    )
    assert_tallies_follow()

    # A refused write (a stale version) changes no tally.
    with unchanged(deal), pytest.raises(PreconditionFailed):
        deal_update(
            actor=FACTORY_ACTOR, deal_id=deal.pk, data={"stage_id": prospect.pk}, expected_version=1
        )

    steps = [
        {"status": "won"},
        {"status": "open"},
        {"stage_id": prospect.pk},
        {"status": "lost", "lost_reason_id": loss_reason.pk},
        {"owner_id": other_rep.pk},
        {"visible_to": Visibility.OWNER},
        {"currency": "USD"},
        {"status": "won"},
    ]
    for data in steps:
        deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data=data)
        assert_tallies_follow()
    won = Deal.objects.get(pk=deal.pk)
    entries, stays = tally_rows()
    # Won in its pipeline: every entry counts as reached and won, with its time to the win.
    assert [(row[7], row[8], row[9]) for row in entries] == [(1, 1, 1)] * 4
    assert sum(row[10] for row in entries) == sum(
        microseconds(won.won_time, e.entered_at) for e in StageEntry.objects.filter(deal=deal)
    )
    assert {(row[3], row[4], row[5]) for row in entries + stays} == {
        (other_rep.pk, Visibility.OWNER, "USD")
    }

    other = pipeline_create_standard(actor=FACTORY_ACTOR, name="Renouvellements")
    deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"pipeline_id": other.pk})
    assert_tallies_follow()
    entries, _ = tally_rows()
    # Now won in the other pipeline: the first pipeline's entries are neither won nor counted
    # as reaching further from Prospect, its last stage there.
    assert sorted((row[1], row[2], row[8], row[9]) for row in entries) == sorted(
        [
            (p, lead.pk, 1, 0),
            (p, lead.pk, 1, 0),
            (p, meeting.pk, 0, 0),
            (p, prospect.pk, 0, 0),
            (other.pk, other.stages.order_by("order_nr").first().pk, 1, 1),
        ]
    )

    deal_delete(actor=FACTORY_ACTOR, deal_id=deal.pk)
    assert tally_rows() == ([], [])


def test_reordering_stages_changes_which_deals_reached_further(admin, rep, stages):
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    for target in (prospect, meeting):
        deal = DealFactory(owner=rep, stage=lead)
        deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=target.pk)

    def lead_conversion():
        row = next(
            r
            for r in metric(admin, "stage_conversion", MetricQuery()).rows
            if r["stage_id"] == lead.pk
        )
        return row["entered"], row["reached_next"]

    assert lead_conversion() == (2, 2)
    # Meeting before Lead: the deal moved from Lead to Meeting went back, not further.
    order = [meeting.pk, lead.pk, prospect.pk] + [s.pk for s in stages[3:]]
    stage_reorder(actor=FACTORY_ACTOR, pipeline_id=lead.pipeline_id, stage_ids=order)
    assert lead_conversion() == (2, 1)
    assert_tallies_follow()


def test_an_import_adds_its_deals_tallies_and_its_undo_removes_them(run_import, admin, rep, stages):  # noqa: F811
    DealFactory(owner=rep, stage=stages[0])
    before = tally_rows()
    content = (
        "Titre;Étape;Statut;Date Lead;Date Prospect;Date Meeting;Gagné le;Créé le\n"
        "A;Meeting;gagné;01/01/2024;15/01/2024 10:00;01/02/2024;20/02/2024;01/01/2024\n"
        "B;Prospect;;;;;;05/03/2024\n"
    )
    run, report = run_import("deals", content)
    assert report.created == 2, report.errors
    entries, stays = tally_rows()
    assert len(entries) == len(before[0]) + 4  # A: Lead, Prospect, Meeting; B: Prospect
    won_a = [row for row in entries if row[0] < dt.date(2024, 3, 1)]
    assert [(row[0], row[7], row[8], row[9]) for row in won_a] == [
        (dt.date(2024, 1, 1), 1, 1, 1),
        (dt.date(2024, 1, 15), 1, 1, 1),
        (dt.date(2024, 2, 1), 1, 1, 1),
    ]
    # A's stays: Lead 14 days 10 hours, Prospect to 1 February, Meeting to its win.
    assert [(row[0], row[6], row[7]) for row in stays if row[0].year == 2024] == [
        (dt.date(2024, 1, 15), 1, (14 * 24 + 10) * 3_600_000_000),
        (dt.date(2024, 2, 1), 1, (16 * 24 + 14) * 3_600_000_000),
        (dt.date(2024, 2, 20), 1, 19 * 86_400_000_000),
    ]
    assert_tallies_follow()
    undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)
    assert tally_rows() == before


@pytest.fixture
def history(make_deal, rep, other_rep, manager, stages, loss_reason, source):
    """Deals of three owners (one of them only visible to its owner), two currencies, with
    moves forward, back and again into the same stage, over two months, won and lost."""
    lead, prospect, meeting = stages[0], stages[1], stages[2]
    paths = [
        (
            rep,
            {},
            [
                (lead, "2026-01-03"),
                (prospect, "2026-01-10"),
                (lead, "2026-01-20"),
                (prospect, "2026-02-02"),
            ],
            "won",
            "2026-02-09",
        ),
        (
            rep,
            {"currency_code": "USD"},
            [(lead, "2026-01-05"), (meeting, "2026-01-06")],
            "lost",
            "2026-02-01",
        ),
        (
            other_rep,
            {"visible_to": Visibility.OWNER},
            [(lead, "2026-01-07"), (prospect, "2026-01-31")],
            None,
            None,
        ),
        (
            manager,
            {"source_id": source.pk},
            [(lead, "2026-01-31"), (meeting, "2026-02-01"), (lead, "2026-02-27")],
            "won",
            "2026-03-01",
        ),
        (other_rep, {}, [(prospect, "2026-02-15")], "lost", "2026-02-16"),
    ]
    for owner, data, path, status, closed in paths:
        deal = make_deal(owner, "100", stage=path[0][0], **data)
        for stage, _ in path[1:]:
            deal_move_to_stage(actor=FACTORY_ACTOR, deal_id=deal.pk, stage_id=stage.pk)
        days = [at(day) for _, day in path]
        set_entries(deal, *zip(days, [*days[1:], None], strict=True))
        if status:
            extra = {"lost_reason_id": loss_reason.pk} if status == "lost" else {}
            deal_update(actor=FACTORY_ACTOR, deal_id=deal.pk, data={"status": status, **extra})
            moment = at(closed)
            with_times = {"close_time": moment, f"{status}_time": moment}
            set_times(deal, **with_times)


@pytest.mark.parametrize("interval", [None, "day", "month", "quarter", "year"])
def test_tallies_give_the_figures_of_the_entries(history, admin, manager, rep, stages, interval):
    users = (admin, manager, rep)
    ranges = [(None, None), (dt.date(2026, 1, 6), dt.date(2026, 2, 1)), (dt.date(2026, 2, 1), None)]
    filters = [{}, {"stage_id": stages[0].pk}, {"currency": "USD"}, {"team_id": rep.team_id}]
    checked = 0
    for user, (first, last), group, extra in itertools.product(
        users, ranges, metrics.TALLY_GROUPS, filters
    ):
        if interval == "day" and first is None:
            continue
        query = MetricQuery(
            date_from=first, date_to=last, interval=interval, group_by=group, **extra
        ).validated()
        assert metrics._stays(user, query) == metrics._stays_from_entries(user, query)
        conversion = metrics.stage_conversion_totals(user, query)
        assert conversion == metrics._conversion_from_entries(user, query)
        checked += bool(conversion)
    assert checked > 0


def test_a_rep_sees_only_the_tallies_of_deals_visible_to_him(history, admin, rep, stages):
    def entered(user):
        return {
            r["stage_id"]: r["entered"]
            for r in metric(user, "stage_conversion", MetricQuery()).rows
        }

    # other_rep's Lead -> Prospect deal is visible to its owner only.
    assert entered(admin) == {stages[0].pk: 4, stages[1].pk: 3, stages[2].pk: 2}
    assert entered(rep) == {stages[0].pk: 3, stages[1].pk: 2, stages[2].pk: 2}


def test_a_scope_without_deals_changes_nothing(history):
    before = tally_rows()
    with tallies_follow(id_ranges_q("deal_id", [])):
        pass
    tally_deals(id_ranges_q("deal_id", []))
    assert tally_rows() == before


def test_the_tallies_command_finds_and_mends_a_write_around_the_services(rep, other_rep, stages):
    deal = DealFactory(owner=rep, stage=stages[0])
    Deal.objects.filter(pk=deal.pk).update(owner=other_rep)  # no tally follows
    out = io.StringIO()
    call_command("forecast", "tallies", stdout=out)
    # The entry counted under rep, and not under other_rep.
    assert out.getvalue() == "2 tally amounts (stage, MRR) differed: computed again.\n"
    assert {row[3] for row in tally_rows()[0]} == {other_rep.pk}
    out = io.StringIO()
    call_command("forecast", "tallies", stdout=out)
    assert out.getvalue() == "The stage and MRR tallies match the stage entries and contracts.\n"


def test_a_deal_created_then_updated_by_the_same_file_is_tallied_once(run_import, admin, stages):  # noqa: F811
    content = "Réf;Titre;Montant;Étape\nX1;Alpha;100;Lead\nX1;Alpha;100;Meeting\n"
    run, report = run_import("deals", content)
    assert (report.created, report.updated) == (1, 1), report.errors
    entries, stays = tally_rows()
    assert [(row[2], row[7], row[8]) for row in entries] == [
        (stages[0].pk, 1, 1),
        (stages[2].pk, 1, 0),
    ]
    assert [(row[2], row[6]) for row in stays] == [(stages[0].pk, 1)]
    assert_tallies_follow()
    undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)
    assert tally_rows() == ([], [])
