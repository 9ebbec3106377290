"""Bulk actions on the deals list: owner, stage, label and delete, each deal through
deal_update/deal_delete so history and rules apply, all or nothing in one transaction."""

import pytest

from ruche.core.models import ChangeRecord, Lookup, Visibility
from ruche.pipelines.models import Deal, Pipeline, Stage, StageEntry
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


def bulk(client, deals, action, **values):
    data = {"ids": [deal.pk for deal in deals], "action": action, "next": "/deals/?status=open"}
    return client.post("/deals/bulk/", data | values)


def test_a_bulk_stage_change_moves_every_deal_with_its_history(web_as, rep, stages):
    deals = [DealFactory(owner=rep, stage=stages[0]) for _ in range(3)]
    untouched = DealFactory(owner=rep, stage=stages[0])
    client = web_as(rep)
    response = bulk(client, deals, "stage", stage=stages[2].pk)
    assert response.status_code == 302 and response["Location"] == "/deals/?status=open"
    assert set(Deal.objects.filter(stage=stages[2]).values_list("pk", flat=True)) == {
        deal.pk for deal in deals
    }
    assert Deal.objects.get(pk=untouched.pk).stage_id == stages[0].pk
    moves = ChangeRecord.objects.filter(event=ChangeRecord.Event.STAGE_MOVED)
    assert sorted(moves.values_list("entity_id", "old_value", "new_value", "actor_user")) == [
        (deal.pk, stages[0].pk, stages[2].pk, rep.pk) for deal in deals
    ]
    assert StageEntry.objects.filter(stage=stages[2], left_at__isnull=True).count() == 3
    followed = client.get(response["Location"]).content.decode()
    assert "3 affaires modifiées." in followed


def test_bulk_owner_and_label_changes(web_as, manager, rep, other_rep, stages):
    label = Lookup.objects.filter(kind=Lookup.Kind.LABEL).first()
    other_label = Lookup.objects.filter(kind=Lookup.Kind.LABEL).last()
    deals = [DealFactory(owner=rep, label_ids=[other_label.pk]) for _ in range(2)]
    client = web_as(manager)
    assert bulk(client, deals, "owner", owner=other_rep.pk).status_code == 302
    assert list(
        Deal.objects.filter(pk__in=[d.pk for d in deals]).values_list("owner", flat=True)
    ) == [
        other_rep.pk,
        other_rep.pk,
    ]
    owner_events = ChangeRecord.objects.filter(event=ChangeRecord.Event.OWNER_CHANGED)
    assert sorted(owner_events.values_list("entity_id", "old_value", "new_value")) == [
        (deal.pk, rep.pk, other_rep.pk) for deal in deals
    ]
    assert bulk(client, deals, "label", label=label.pk).status_code == 302
    for deal in deals:
        assert list(Deal.objects.get(pk=deal.pk).labels.values_list("pk", flat=True)) == [label.pk]
    label_changes = ChangeRecord.objects.filter(field="labels")
    assert sorted(label_changes.values_list("entity_id", "old_value", "new_value")) == [
        (deal.pk, [other_label.pk], [label.pk]) for deal in deals
    ]
    assert bulk(client, deals, "label", label="").status_code == 302
    assert not Deal.labels.through.objects.filter(deal_id__in=[d.pk for d in deals]).exists()


def test_bulk_delete_asks_first_then_deletes_with_history(web_as, rep):
    deals = [DealFactory(owner=rep, title=f"À supprimer {n}") for n in range(2)]
    kept = DealFactory(owner=rep, title="Gardée")
    client = web_as(rep)
    confirm = bulk(client, deals, "delete")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "À supprimer 0" in page and "À supprimer 1" in page and "Gardée" not in page
    assert 'name="confirm" value="yes"' in page
    assert not Deal.objects.filter(is_deleted=True).exists()
    done = bulk(client, deals, "delete", confirm="yes")
    assert done.status_code == 302
    assert set(Deal.objects.filter(is_deleted=True).values_list("pk", flat=True)) == {
        deal.pk for deal in deals
    }
    assert not Deal.objects.get(pk=kept.pk).is_deleted
    assert sorted(
        ChangeRecord.objects.filter(event=ChangeRecord.Event.DELETED).values_list(
            "entity_id", flat=True
        )
    ) == sorted(deal.pk for deal in deals)


def test_a_deal_the_rep_may_not_see_refuses_the_whole_batch(
    web_as, rep, other_rep, stages, unchanged
):
    mine = [DealFactory(owner=rep, stage=stages[0]) for _ in range(2)]
    private = DealFactory(owner=other_rep, stage=stages[0], visible_to=Visibility.OWNER)
    client = web_as(rep)
    for action, values in (
        ("stage", {"stage": stages[1].pk}),
        ("owner", {"owner": rep.pk}),
        ("delete", {"confirm": "yes"}),
    ):
        with unchanged(*mine, private):
            response = bulk(client, [*mine, private], action, **values)
        assert response.status_code == 422
        assert (
            f"Rien n\u2019a été modifié : Deal {private.pk} not found." in response.content.decode()
        )


def test_a_stage_of_another_pipeline_is_refused_for_every_deal(
    web_as, rep, pipeline, stages, unchanged
):
    other = Pipeline.objects.create(name="Partenaires", order_nr=9)
    foreign = Stage.objects.create(pipeline=other, name="Contact", order_nr=1)
    deals = [DealFactory(owner=rep, stage=stages[0]) for _ in range(2)]
    with unchanged(*deals):
        response = bulk(web_as(rep), deals, "stage", stage=foreign.pk)
    assert response.status_code == 422
    refusal = f"Stage {foreign.pk} belongs to pipeline {other.pk}, not to pipeline {pipeline.pk}."
    assert refusal in response.content.decode()


def test_bad_bulk_input_is_refused_without_change(web_as, rep, stages, unchanged):
    deals = [DealFactory(owner=rep, stage=stages[0])]
    client = web_as(rep)
    with unchanged(*deals):
        assert bulk(client, deals, "explode").status_code == 400
        assert client.post("/deals/bulk/", {"ids": ["abc"], "action": "stage"}).status_code == 400
        missing_owner = bulk(client, deals, "owner")
        assert missing_owner.status_code == 422
        assert "Choisissez le nouveau propriétaire." in missing_owner.content.decode()
        missing_stage = bulk(client, deals, "stage", stage="x")
        assert "Choisissez la nouvelle étape." in missing_stage.content.decode()
        nothing_ticked = client.post("/deals/bulk/", {"action": "stage", "stage": stages[1].pk})
        assert nothing_ticked.status_code == 302
    assert client.get("/deals/bulk/").status_code == 405
