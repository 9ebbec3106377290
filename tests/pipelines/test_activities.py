import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.exceptions import NotFound, PreconditionFailed, ValidationError
from ruche.core.history import history_for
from ruche.pipelines.models import Activity, Deal, Note
from ruche.pipelines.services import (
    activity_complete,
    activity_create,
    activity_delete,
    activity_update,
    note_create,
    note_delete,
    note_update,
)
from tests.factories import DealFactory, OrganizationFactory


@pytest.fixture
def deal(rep):
    return DealFactory(owner=rep)


def tracked(deal):
    return Deal.objects.values_list(
        "next_activity", "next_activity_date", "last_activity_date"
    ).get(pk=deal.pk)


def create(actor, deal, subject, due_date=None, **data):
    return activity_create(
        actor=actor, data={"subject": subject, "deal_id": deal.pk, "due_date": due_date} | data
    )


def test_the_next_activity_is_the_earliest_open_one(rep_actor, deal):
    assert tracked(deal) == (None, None, None)
    later = create(rep_actor, deal, "Relance", "2031-05-20")
    assert tracked(deal) == (later.pk, dt.date(2031, 5, 20), None)
    sooner = create(rep_actor, deal, "Appel", "2031-05-02", due_time="16:00")
    assert tracked(deal) == (sooner.pk, dt.date(2031, 5, 2), None)
    same_day_earlier = create(rep_actor, deal, "Café", "2031-05-02", due_time="09:30")
    assert tracked(deal) == (same_day_earlier.pk, dt.date(2031, 5, 2), None)


def test_an_undated_activity_does_not_hide_a_dated_one(rep_actor, deal):
    dated = create(rep_actor, deal, "Démo", "2031-06-01")
    create(rep_actor, deal, "Un jour peut-être")
    assert tracked(deal) == (dated.pk, dt.date(2031, 6, 1), None)


def test_completing_updates_next_and_last_activity(rep, rep_actor, deal):
    first = create(rep_actor, deal, "Appel", "2031-05-02")
    second = create(rep_actor, deal, "Relance", "2031-05-20")
    activity_complete(actor=rep_actor, activity_id=first.pk)
    first.refresh_from_db()
    assert first.done and first.marked_as_done_time is not None
    assert tracked(deal) == (second.pk, dt.date(2031, 5, 20), timezone.localdate())
    activity_complete(actor=rep_actor, activity_id=second.pk)
    assert tracked(deal) == (None, None, timezone.localdate())
    assert [(r.field, r.old_value, r.new_value) for r in history_for("activity", second.pk)][1] == (
        "done",
        False,
        True,
    )
    # Reopening it makes it the next activity again.
    activity_update(actor=rep_actor, activity_id=second.pk, data={"done": False})
    second.refresh_from_db()
    assert second.marked_as_done_time is None
    assert tracked(deal) == (second.pk, dt.date(2031, 5, 20), timezone.localdate())


def test_last_activity_date_is_the_latest_completion(rep_actor, deal):
    activity = create(rep_actor, deal, "Appel")
    activity_complete(actor=rep_actor, activity_id=activity.pk)
    Activity.objects.filter(pk=activity.pk).update(
        marked_as_done_time=timezone.now() - dt.timedelta(days=10)
    )
    newest = create(rep_actor, deal, "Visite")
    activity_complete(actor=rep_actor, activity_id=newest.pk)
    assert tracked(deal)[2] == timezone.localdate()
    activity_delete(actor=rep_actor, activity_id=newest.pk)
    assert tracked(deal)[2] == timezone.localdate() - dt.timedelta(days=10)


def test_moving_an_activity_to_another_deal_refreshes_both(rep, rep_actor, deal):
    other = DealFactory(owner=rep)
    activity = create(rep_actor, deal, "Appel", "2031-05-02")
    activity_update(actor=rep_actor, activity_id=activity.pk, data={"deal_id": other.pk})
    assert tracked(deal) == (None, None, None)
    assert tracked(other) == (activity.pk, dt.date(2031, 5, 2), None)


def test_deleting_the_next_activity(rep_actor, deal):
    first = create(rep_actor, deal, "Appel", "2031-05-02")
    second = create(rep_actor, deal, "Relance", "2031-05-20")
    activity_delete(actor=rep_actor, activity_id=first.pk)
    assert tracked(deal) == (second.pk, dt.date(2031, 5, 20), None)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "x", "type": "lunch"}, "type"),
        ({"subject": "x", "due_date": "02/05/2031"}, "due_date"),
        ({"subject": "x", "due_time": "25:00"}, "due_time"),
        ({"subject": "x", "duration": -5}, "duration"),
        ({"subject": "x", "org_id": 10**9}, "org_id"),
        ({"subject": "x", "owner_id": 10**9}, "owner_id"),
    ],
)
def test_invalid_activities_are_refused(rep_actor, deal, unchanged, data, field):
    with unchanged(deal), pytest.raises(ValidationError) as error:
        activity_create(actor=rep_actor, data={"deal_id": deal.pk} | data)
    assert list(error.value.field_errors) == [field]


def test_stale_activity_update_is_refused(rep_actor, deal, unchanged):
    activity = create(rep_actor, deal, "Appel", "2031-05-02")
    activity_update(actor=rep_actor, activity_id=activity.pk, data={"subject": "Appel 2"})
    with unchanged(activity, deal), pytest.raises(PreconditionFailed):
        activity_update(
            actor=rep_actor, activity_id=activity.pk, data={"done": True}, expected_version=1
        )


def test_other_team_cannot_touch_an_activity(rep_actor, other_rep_actor, deal, unchanged):
    Deal.objects.filter(pk=deal.pk).update(visible_to=1)
    activity = create(rep_actor, deal, "Appel", "2031-05-02")
    with unchanged(activity, deal), pytest.raises(NotFound):
        activity_complete(actor=other_rep_actor, activity_id=activity.pk)


def test_notes(rep, rep_actor, other_rep_actor, deal, unchanged):
    with unchanged(), pytest.raises(ValidationError) as error:
        note_create(actor=rep_actor, data={"content": "Sans lien"})
    assert list(error.value.field_errors) == ["deal_id"]
    org = OrganizationFactory(owner=rep, visible_to=1)
    note = note_create(actor=rep_actor, data={"content": "Budget validé", "org_id": org.pk})
    assert (note.owner, note.org, note.deal) == (rep, org, None)
    note_update(actor=rep_actor, note_id=note.pk, data={"content": "Budget voté"})
    note.refresh_from_db()
    assert (note.content, note.version) == ("Budget voté", 2)
    with unchanged(note), pytest.raises(NotFound):
        note_update(actor=other_rep_actor, note_id=note.pk, data={"content": "Piraté"})
    note_delete(actor=rep_actor, note_id=note.pk)
    assert Note.objects.get(pk=note.pk).is_deleted
