"""Status transitions, stage placement, stage entries and optimistic concurrency."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.exceptions import PreconditionFailed, ValidationError
from ruche.core.history import history_for
from ruche.core.models import Lookup
from ruche.pipelines.models import Deal, StageEntry
from ruche.pipelines.services import (
    deal_mark_lost,
    deal_mark_won,
    deal_move_to_stage,
    deal_reopen,
    deal_update,
    pipeline_create,
    stage_create,
)
from tests.factories import DealFactory


@pytest.fixture
def deal(rep, stages):
    return DealFactory(owner=rep, stage=stages[2], probability=55)


@pytest.fixture
def second_pipeline(admin_actor):
    pipeline = pipeline_create(actor=admin_actor, data={"name": "Renouvellements"})
    first = stage_create(actor=admin_actor, data={"pipeline_id": pipeline.pk, "name": "À relancer"})
    stage_create(actor=admin_actor, data={"pipeline_id": pipeline.pk, "name": "Renouvelé"})
    return pipeline, first


def events(deal):
    return [(r.event, r.field, r.old_value, r.new_value) for r in history_for("deal", deal.pk)]


def test_winning(rep_actor, deal):
    before = timezone.now()
    deal_mark_won(actor=rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    assert (deal.status, deal.probability) == ("won", 100)
    assert before <= deal.won_time == deal.close_time <= timezone.now()
    assert (deal.lost_time, deal.lost_reason, deal.version) == (None, None, 2)
    won = [e for e in events(deal) if e[0] == "won"]
    assert won == [("won", "status", "open", "won")]


def test_losing_with_a_reason(rep_actor, deal, loss_reason):
    deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=loss_reason.pk)
    deal.refresh_from_db()
    assert (deal.status, deal.probability, deal.lost_reason) == ("lost", 0, loss_reason)
    assert deal.lost_time is not None and deal.lost_time == deal.close_time
    assert deal.won_time is None
    assert ("lost", "status", "open", "lost") in events(deal)
    assert ("updated", "lost_reason", None, loss_reason.pk) in events(deal)


def test_losing_by_reason_name(rep_actor, deal):
    deal_update(
        actor=rep_actor, deal_id=deal.pk, data={"status": "lost", "lost_reason": "pas de BUDGET"}
    )
    deal.refresh_from_db()
    assert deal.lost_reason.name == "Pas de budget"


def test_losing_without_a_reason_is_refused_and_changes_nothing(rep_actor, deal, unchanged):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=None)
    assert error.value.field_errors == {
        "lost_reason": "A loss reason is required to mark a deal lost."
    }
    deal.refresh_from_db()
    assert (deal.status, deal.version, deal.probability) == ("open", 1, 55)


def test_unknown_loss_reasons_are_refused(rep_actor, deal, unchanged):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(
            actor=rep_actor, deal_id=deal.pk, data={"status": "lost", "lost_reason": "La météo"}
        )
    assert list(error.value.field_errors) == ["lost_reason"]
    assert "Prix trop élevé" in error.value.field_errors["lost_reason"]
    source = Lookup.objects.filter(kind=Lookup.Kind.SOURCE).first()
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=source.pk)
    assert error.value.field_errors == {"lost_reason_id": f"No such lookup: {source.pk}."}


def test_losing_without_a_reason_when_the_company_allows_it(rep_actor, deal, company):
    company.loss_reason_required = False
    company.save()
    deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=None)
    deal.refresh_from_db()
    assert (deal.status, deal.probability, deal.lost_reason) == ("lost", 0, None)


def test_a_lost_deal_keeps_its_reason_while_the_company_requires_it(
    rep_actor, deal, loss_reason, unchanged
):
    deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=loss_reason.pk)
    deal.refresh_from_db()
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"lost_reason_id": None})
    assert list(error.value.field_errors) == ["lost_reason"]


def test_reopening_resets_the_outcome(rep_actor, deal, loss_reason):
    deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=loss_reason.pk)
    deal_reopen(actor=rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    assert (deal.status, deal.probability, deal.lost_reason) == ("open", None, None)
    assert (deal.won_time, deal.lost_time, deal.close_time) == (None, None, None)
    lost_at = events(deal)[4][3]
    assert [e[:2] for e in events(deal)] == [
        ("created", ""),
        ("lost", "status"),
        ("updated", "probability"),
        ("updated", "lost_reason"),
        ("updated", "lost_time"),
        ("updated", "close_time"),
        ("reopened", "status"),
        ("updated", "probability"),
        ("updated", "lost_reason"),
        ("updated", "lost_time"),
        ("updated", "close_time"),
    ]
    assert events(deal)[6:] == [
        ("reopened", "status", "lost", "open"),
        ("updated", "probability", 0, None),
        ("updated", "lost_reason", loss_reason.pk, None),
        ("updated", "lost_time", lost_at, None),
        ("updated", "close_time", lost_at, None),
    ]


def test_won_then_lost(rep_actor, deal, loss_reason):
    deal_mark_won(actor=rep_actor, deal_id=deal.pk)
    deal_mark_lost(actor=rep_actor, deal_id=deal.pk, lost_reason_id=loss_reason.pk)
    deal.refresh_from_db()
    assert (deal.status, deal.probability, deal.won_time) == ("lost", 0, None)
    assert deal.lost_time is not None
    assert [e[0] for e in events(deal) if e[1] == "status"] == ["won", "lost"]
    assert deal.version == 3


def test_won_twice_changes_nothing(rep_actor, deal):
    deal_mark_won(actor=rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    won_time, count = deal.won_time, len(events(deal))
    deal_mark_won(actor=rep_actor, deal_id=deal.pk)
    deal.refresh_from_db()
    assert (deal.won_time, deal.version, len(events(deal))) == (won_time, 2, count)


def test_unknown_status_is_refused(rep_actor, deal, unchanged):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"status": "deleted"})
    assert list(error.value.field_errors) == ["status"]


def test_moving_records_stage_entries(rep_actor, deal, stages):
    deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=stages[3].pk)
    deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=stages[1].pk)
    entries = list(StageEntry.objects.filter(deal=deal))
    assert [(e.from_stage_id, e.stage_id) for e in entries] == [
        (None, stages[2].pk),
        (stages[2].pk, stages[3].pk),
        (stages[3].pk, stages[1].pk),
    ]
    assert entries[0].left_at == entries[1].entered_at
    assert entries[1].left_at == entries[2].entered_at
    assert entries[2].left_at is None
    deal.refresh_from_db()
    assert deal.stage_change_time == entries[2].entered_at
    assert [e[2:] for e in events(deal) if e[0] == "stage_moved"] == [
        (stages[2].pk, stages[3].pk),
        (stages[3].pk, stages[1].pk),
    ]


def test_moving_to_the_same_stage_records_nothing(rep_actor, deal):
    deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=deal.stage_id)
    assert StageEntry.objects.filter(deal=deal).count() == 1
    deal.refresh_from_db()
    assert deal.version == 1


def test_a_stage_of_another_pipeline_is_refused(
    rep_actor, deal, pipeline, second_pipeline, unchanged
):
    _, foreign_stage = second_pipeline
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(
            actor=rep_actor,
            deal_id=deal.pk,
            data={"pipeline_id": pipeline.pk, "stage_id": foreign_stage.pk},
        )
    assert error.value.field_errors == {
        "stage_id": f"Stage {foreign_stage.pk} belongs to pipeline "
        f"{foreign_stage.pipeline_id}, not to pipeline {pipeline.pk}."
    }
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=10**9)
    assert list(error.value.field_errors) == ["stage_id"]


def test_a_stage_alone_brings_its_pipeline(rep_actor, deal, second_pipeline):
    pipeline, first = second_pipeline
    deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=first.pk)
    deal.refresh_from_db()
    assert (deal.pipeline, deal.stage) == (pipeline, first)


def test_a_pipeline_alone_moves_to_its_first_stage(rep_actor, deal, stages, second_pipeline):
    pipeline, first = second_pipeline
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"pipeline_id": pipeline.pk})
    deal.refresh_from_db()
    assert (deal.pipeline_id, deal.stage_id) == (pipeline.pk, first.pk)
    entries = list(StageEntry.objects.filter(deal=deal).values_list("pipeline_id", "stage_id"))
    assert entries == [(stages[0].pipeline_id, stages[2].pk), (pipeline.pk, first.pk)]
    # Naming the current pipeline again keeps the stage.
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"pipeline_id": pipeline.pk})
    deal.refresh_from_db()
    assert (deal.stage_id, deal.version) == (first.pk, 2)


def test_a_stale_version_is_refused_and_changes_nothing(rep_actor, deal, unchanged):
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"title": "v2"}, expected_version=1)
    deal.refresh_from_db()
    assert deal.version == 2
    with unchanged(deal), pytest.raises(PreconditionFailed) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"title": "v3"}, expected_version=1)
    assert "version 2, you sent 1" in str(error.value)
    assert error.value.status_code == 412
    assert Deal.objects.get(pk=deal.pk).title == "v2"


def test_a_label_change_bumps_the_version(rep_actor, deal):
    labels = list(Lookup.objects.filter(kind=Lookup.Kind.LABEL).values_list("pk", flat=True))
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"label_ids": labels[:2]})
    deal.refresh_from_db()
    assert sorted(deal.labels.values_list("pk", flat=True)) == sorted(labels[:2])
    assert deal.version == 2
    assert events(deal)[-1] == ("updated", "labels", [], sorted(labels[:2]))
    with pytest.raises(PreconditionFailed):
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"label_ids": []}, expected_version=1)


def test_probability_override_and_reset(rep_actor, deal, unchanged):
    assert deal.probability == 55
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"probability": None})
    deal.refresh_from_db()
    assert deal.probability is None
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"probability": 101})
    assert list(error.value.field_errors) == ["probability"]


def test_dates_are_validated(rep_actor, deal, unchanged):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"expected_close_date": "31/12/2030"})
    assert list(error.value.field_errors) == ["expected_close_date"]
    deal_update(
        actor=rep_actor, deal_id=deal.pk, data={"expected_close_date": dt.date(2030, 12, 31)}
    )
    deal.refresh_from_db()
    assert deal.expected_close_date == dt.date(2030, 12, 31)
