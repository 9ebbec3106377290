import pytest

from ruche.core.exceptions import Conflict, PermissionDenied, ValidationError
from ruche.core.history import history_for
from ruche.pipelines.models import Pipeline, Stage, StageEntry
from ruche.pipelines.selectors import stage_list
from ruche.pipelines.services import (
    deal_delete,
    pipeline_create,
    pipeline_create_standard,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_reorder,
    stage_update,
)
from tests.factories import DealFactory


def names(pipeline):
    return list(stage_list(pipeline.pk).order_by("order_nr").values_list("name", flat=True))


def test_the_standard_pipeline_is_installed(pipeline, stages):
    assert pipeline.name == "New business"
    assert [(s.name, s.deal_probability, s.days_to_rotten, s.order_nr) for s in stages] == [
        ("Lead", 10, 30, 1),
        ("Prospect", 20, 21, 2),
        ("Meeting", 40, 14, 3),
        ("Qualified / quote sent", 60, 14, 4),
        ("Negotiation", 80, 10, 5),
    ]


def test_creating_a_standard_pipeline_again_adds_a_second_one(admin_actor, pipeline):
    second = pipeline_create_standard(actor=admin_actor, name="Export")
    assert (second.order_nr, names(second)) == (pipeline.order_nr + 1, names(pipeline))


def test_only_admins_change_pipelines_and_stages(
    rep_actor, manager_actor, pipeline, stages, unchanged
):
    calls = [
        lambda actor: pipeline_create(actor=actor, data={"name": "Pirate"}),
        lambda actor: pipeline_update(actor=actor, pipeline_id=pipeline.pk, data={"name": "X"}),
        lambda actor: pipeline_delete(actor=actor, pipeline_id=pipeline.pk),
        lambda actor: stage_create(actor=actor, data={"pipeline_id": pipeline.pk, "name": "X"}),
        lambda actor: stage_update(actor=actor, stage_id=stages[0].pk, data={"name": "X"}),
        lambda actor: stage_delete(actor=actor, stage_id=stages[0].pk),
        lambda actor: stage_reorder(
            actor=actor, pipeline_id=pipeline.pk, stage_ids=[s.pk for s in reversed(stages)]
        ),
    ]
    counts = (Pipeline.objects.count(), Stage.objects.count())
    for actor in (rep_actor, manager_actor):
        for call in calls:
            with unchanged(pipeline, *stages), pytest.raises(PermissionDenied) as error:
                call(actor)
            assert str(error.value) == "Only an admin can change pipelines and stages."
    assert (Pipeline.objects.count(), Stage.objects.count()) == counts


def test_stage_create_and_update(admin, admin_actor, pipeline, stages):
    stage = stage_create(
        actor=admin_actor,
        data={"pipeline_id": pipeline.pk, "name": "Signature", "deal_probability": 90},
    )
    assert (stage.order_nr, stage.deal_probability, stage.days_to_rotten) == (6, 90, None)
    stage_update(actor=admin_actor, stage_id=stage.pk, data={"name": "Signé", "days_to_rotten": 5})
    stage.refresh_from_db()
    assert (stage.name, stage.days_to_rotten, stage.version) == ("Signé", 5, 2)
    stage_update(actor=admin_actor, stage_id=stage.pk, data={"is_deal_rot_enabled": False})
    stage.refresh_from_db()
    assert stage.days_to_rotten is None
    assert [(r.field, r.old_value, r.new_value) for r in history_for("stage", stage.pk)][1:] == [
        ("name", "Signature", "Signé"),
        ("days_to_rotten", None, 5),
        ("days_to_rotten", 5, None),
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "deal_probability": 101}, "deal_probability"),
        ({"name": ""}, "name"),
        ({"name": "x", "pipeline_id": None}, "pipeline_id"),
        ({"name": "x", "pipeline_id": 10**9}, "pipeline_id"),
    ],
)
def test_invalid_stages_are_refused(admin_actor, pipeline, data, field, unchanged):
    data = {"pipeline_id": pipeline.pk} | data
    with unchanged(), pytest.raises(ValidationError) as error:
        stage_create(actor=admin_actor, data=data)
    assert list(error.value.field_errors) == [field]


def test_a_stage_cannot_change_pipeline(admin_actor, stages, unchanged):
    other = pipeline_create(actor=admin_actor, data={"name": "Autre"})
    with unchanged(stages[0]), pytest.raises(ValidationError) as error:
        stage_update(actor=admin_actor, stage_id=stages[0].pk, data={"pipeline_id": other.pk})
    assert list(error.value.field_errors) == ["pipeline_id"]


def test_reorder(admin_actor, pipeline, stages):
    new_order = [stages[4], stages[0], stages[2], stages[1], stages[3]]
    stage_reorder(actor=admin_actor, pipeline_id=pipeline.pk, stage_ids=[s.pk for s in new_order])
    assert names(pipeline) == [s.name for s in new_order]
    assert list(stage_list(pipeline.pk).values_list("pk", flat=True)) == [s.pk for s in new_order]
    moved = {s.pk: s.version for s in Stage.objects.filter(pipeline=pipeline)}
    # Lead was at 1 and is now 2; Meeting stays 3 and so keeps its version.
    assert moved[stages[0].pk] == 2
    assert moved[stages[2].pk] == 1


@pytest.mark.parametrize("drop", ["missing", "duplicate", "foreign"])
def test_reorder_must_list_each_stage_once(admin_actor, pipeline, stages, unchanged, drop):
    ids = [s.pk for s in stages]
    if drop == "missing":
        ids = ids[1:]
    elif drop == "duplicate":
        ids = [*ids[:-1], ids[0]]
    else:
        other = pipeline_create_standard(actor=admin_actor, name="Autre")
        ids = [*ids[:-1], stage_list(other.pk).first().pk]
    with unchanged(*stages), pytest.raises(ValidationError) as error:
        stage_reorder(actor=admin_actor, pipeline_id=pipeline.pk, stage_ids=ids)
    assert list(error.value.field_errors) == ["stage_ids"]


def test_deleting_an_empty_stage(admin_actor, pipeline, stages):
    moved = stage_delete(actor=admin_actor, stage_id=stages[1].pk)
    assert moved == 0
    assert names(pipeline) == ["Lead", "Meeting", "Qualified / quote sent", "Negotiation"]
    assert Stage.objects.get(pk=stages[1].pk).is_deleted is True


def test_deleting_a_stage_holding_deals_is_refused(admin_actor, rep, pipeline, stages, unchanged):
    deals = [DealFactory(owner=rep, stage=stages[1]) for _ in range(2)]
    with unchanged(stages[1], *deals), pytest.raises(Conflict) as error:
        stage_delete(actor=admin_actor, stage_id=stages[1].pk)
    assert "still holds 2 deals" in str(error.value)
    assert error.value.status_code == 409


def test_deleting_a_stage_holding_only_deleted_deals(admin_actor, rep, stages):
    deal = DealFactory(owner=rep, stage=stages[1])
    deal_delete(actor=admin_actor, deal_id=deal.pk)
    assert stage_delete(actor=admin_actor, stage_id=stages[1].pk) == 0


def test_deleting_a_stage_moves_its_deals_with_history(admin, admin_actor, rep, other_rep, stages):
    held = [
        DealFactory(owner=rep, stage=stages[1]),
        DealFactory(owner=other_rep, stage=stages[1], visible_to=1),
    ]
    elsewhere = DealFactory(owner=rep, stage=stages[2])
    moved = stage_delete(
        actor=admin_actor, stage_id=stages[1].pk, move_deals_to_stage_id=stages[3].pk
    )
    assert moved == 2
    for deal in held:
        deal.refresh_from_db()
        assert (deal.stage_id, deal.version) == (stages[3].pk, 2)
        last = history_for("deal", deal.pk).last()
        assert (last.event, last.old_value, last.new_value, last.actor_user) == (
            "stage_moved",
            stages[1].pk,
            stages[3].pk,
            admin,
        )
        entries = StageEntry.objects.filter(deal=deal)
        assert [(e.stage_id, e.left_at is None) for e in entries] == [
            (stages[1].pk, False),
            (stages[3].pk, True),
        ]
    elsewhere.refresh_from_db()
    assert (elsewhere.stage_id, elsewhere.version) == (stages[2].pk, 1)
    assert Stage.objects.get(pk=stages[1].pk).is_deleted


@pytest.mark.parametrize("target", ["self", "missing", "deleted"])
def test_deleting_a_stage_into_an_invalid_stage_is_refused(
    admin_actor, rep, stages, unchanged, target
):
    deal = DealFactory(owner=rep, stage=stages[1])
    if target == "deleted":
        stage_delete(actor=admin_actor, stage_id=stages[4].pk)
    target_id = {"self": stages[1].pk, "missing": 10**9, "deleted": stages[4].pk}[target]
    with unchanged(deal, stages[1]), pytest.raises(ValidationError) as error:
        stage_delete(actor=admin_actor, stage_id=stages[1].pk, move_deals_to_stage_id=target_id)
    assert list(error.value.field_errors) == ["move_deals_to_stage_id"]


def test_deleting_a_pipeline(admin_actor, rep, pipeline, stages, unchanged):
    deal = DealFactory(owner=rep, stage=stages[0])
    with unchanged(pipeline, deal), pytest.raises(Conflict):
        pipeline_delete(actor=admin_actor, pipeline_id=pipeline.pk)
    deal_delete(actor=admin_actor, deal_id=deal.pk)
    pipeline_delete(actor=admin_actor, pipeline_id=pipeline.pk)
    assert Pipeline.objects.get(pk=pipeline.pk).is_deleted
    assert not stage_list(pipeline.pk).exists()
    assert Stage.objects.filter(pipeline=pipeline, is_deleted=False).count() == 0
