import datetime as dt

import pytest

from ruche.accounts.services import token_create
from ruche.core.exceptions import ValidationError
from ruche.core.history import Actor, history_for
from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal
from ruche.pipelines.services import deal_create, deal_move_to_stage, deal_update
from tests.factories import DealFactory


def rows(deal):
    return [
        (r.event, r.field, r.old_value, r.new_value, r.actor_kind, r.actor_user_id, r.actor_label)
        for r in history_for("deal", deal.pk)
    ]


def test_creation_is_one_record_listing_the_values(rep, rep_actor, stages):
    deal = deal_create(
        actor=rep_actor,
        data={"title": "Refonte du site", "value": "1500.50", "expected_close_date": "2031-03-01"},
    )
    [created] = history_for("deal", deal.pk)
    assert created.event == ChangeRecord.Event.CREATED
    assert (created.actor_kind, created.actor_user, created.actor_label) == (
        "user",
        rep,
        "rep@ruche.test",
    )
    assert created.new_value["title"] == "Refonte du site"
    assert created.new_value["value_minor"] == 150_050
    assert created.new_value["currency"] == "EUR"
    assert created.new_value["stage"] == stages[0].pk
    assert created.new_value["owner"] == rep.pk
    assert created.new_value["expected_close_date"] == "2031-03-01"
    assert created.old_value is None


def test_every_changed_field_is_one_row_with_old_and_new_values(rep, rep_actor):
    deal = DealFactory(owner=rep, title="Avant", value="10.00", expected_close_date="2030-01-31")
    before = len(rows(deal))
    deal_update(
        actor=rep_actor,
        deal_id=deal.pk,
        data={
            "title": "Après",
            "value": "12.34",
            "expected_close_date": "2030-02-28",
            "next_step": "",  # unchanged: not recorded
        },
    )
    assert rows(deal)[before:] == [
        ("updated", "title", "Avant", "Après", "user", rep.pk, "rep@ruche.test"),
        ("updated", "value_minor", 1000, 1234, "user", rep.pk, "rep@ruche.test"),
        (
            "updated",
            "expected_close_date",
            "2030-01-31",
            "2030-02-28",
            "user",
            rep.pk,
            "rep@ruche.test",
        ),
    ]
    deal.refresh_from_db()
    assert (deal.title, deal.value_minor, deal.expected_close_date, deal.version) == (
        "Après",
        1234,
        dt.date(2030, 2, 28),
        2,
    )


def test_an_update_changing_nothing_records_nothing(rep, rep_actor):
    deal = DealFactory(owner=rep, title="Même")
    count = ChangeRecord.objects.count()
    deal_update(actor=rep_actor, deal_id=deal.pk, data={"title": "Même", "value": "0"})
    assert ChangeRecord.objects.count() == count
    deal.refresh_from_db()
    assert deal.version == 1


def test_stage_moves_are_events_of_their_own(rep, rep_actor, stages):
    deal = DealFactory(owner=rep)
    deal_move_to_stage(actor=rep_actor, deal_id=deal.pk, stage_id=stages[3].pk)
    assert rows(deal)[-1] == (
        "stage_moved",
        "stage",
        stages[0].pk,
        stages[3].pk,
        "user",
        rep.pk,
        "rep@ruche.test",
    )


@pytest.mark.parametrize("kind", ["token", "import", "job"])
def test_actor_kinds(rep, kind):
    if kind == "token":
        token, _ = token_create(user=rep)
        actor, label, user = Actor.for_token(token), f"token #{token.pk}", rep
    elif kind == "import":
        actor, label, user = Actor.for_import(17, rep), "import #17", rep
    else:
        actor, label, user = Actor.for_job("nightly"), "nightly", None
    deal = DealFactory(owner=rep, title="T")
    deal_update(actor=actor, deal_id=deal.pk, data={"title": "U"})
    assert rows(deal)[-1] == ("updated", "title", "T", "U", kind, user and user.pk, label)


def test_a_failing_update_leaves_no_history(rep, rep_actor, unchanged, monkeypatch):
    """The history rows are written before the labels; a failure there must undo them."""
    from ruche.pipelines.services import deals

    deal = DealFactory(owner=rep, title="Avant")

    def broken(*args, **kwargs):
        assert ChangeRecord.objects.filter(entity_id=deal.pk, field="title").exists()
        raise RuntimeError("disk full")

    monkeypatch.setattr(deals, "_set_labels", broken)
    with unchanged(deal), pytest.raises(RuntimeError, match="disk full"):
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"title": "Après"})
    assert Deal.objects.get(pk=deal.pk).title == "Avant"


def test_a_refused_update_leaves_no_history(rep, rep_actor, unchanged):
    deal = DealFactory(owner=rep, title="Avant")
    with unchanged(deal), pytest.raises(ValidationError) as error:
        deal_update(actor=rep_actor, deal_id=deal.pk, data={"title": "Après", "value": "1.001"})
    assert list(error.value.field_errors) == ["value"]


def test_history_is_append_only(rep):
    deal = DealFactory(owner=rep)
    [record] = history_for("deal", deal.pk)
    record.field = "tampered"
    with pytest.raises(RuntimeError, match="append-only"):
        record.save()
    with pytest.raises(RuntimeError, match="append-only"):
        record.delete()
    with pytest.raises(RuntimeError, match="append-only"):
        ChangeRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(RuntimeError, match="append-only"):
        ChangeRecord.objects.filter(pk=record.pk).update(field="tampered")
    assert ChangeRecord.objects.get(pk=record.pk).field == ""
