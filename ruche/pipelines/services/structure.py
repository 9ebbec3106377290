"""Pipelines and stages, administered by admins. A stage holding deals is deleted only after its
deals are moved, each move recorded like any other."""

from typing import Any

from django.db import transaction
from django.db.models import Max

from ruche.core.exceptions import Conflict, PermissionDenied, ValidationError
from ruche.core.history import Actor
from ruche.core.services import create_recorded, lock, resolve, save_changes
from ruche.forecasting.stage_tallies import rebuild as rebuild_tallies
from ruche.pipelines.models import Pipeline, Stage
from ruche.pipelines.selectors import stage_list

PIPELINE_FIELDS = ("name", "order_nr", "is_deal_probability_enabled")
STAGE_FIELDS = ("name", "order_nr", "definition", "deal_probability", "days_to_rotten")

STANDARD_STAGES = (
    # name, win probability %, rotting days, definition
    ("Lead", 10, 30, "A potential customer identified, not yet contacted."),
    ("Prospect", 20, 21, "Contacted, and the need is confirmed."),
    ("Meeting", 40, 14, "A meeting or demo is scheduled or held."),
    ("Qualified / quote sent", 60, 14, "Budget, decision-maker and timing known; quote sent."),
    ("Negotiation", 80, 10, "Terms are being negotiated before signature."),
)


def require_admin(actor: Actor) -> None:
    if actor.user is not None and not actor.user.is_admin:
        raise PermissionDenied("Only an admin can change pipelines and stages.")


def _next_order(queryset) -> int:
    return (queryset.aggregate(top=Max("order_nr"))["top"] or 0) + 1


@transaction.atomic
def pipeline_create(*, actor: Actor, data: dict[str, Any]) -> Pipeline:
    require_admin(actor)
    values = {k: data[k] for k in PIPELINE_FIELDS if k in data}
    values.setdefault("order_nr", _next_order(Pipeline.objects.all()))
    return create_recorded(Pipeline(), entity="pipeline", actor=actor, values=values)


@transaction.atomic
def pipeline_update(
    *, actor: Actor, pipeline_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Pipeline:
    require_admin(actor)
    pipeline = lock(
        Pipeline.objects.filter(is_deleted=False),
        pipeline_id,
        label="Pipeline",
        expected_version=expected_version,
    )
    save_changes(
        pipeline,
        entity="pipeline",
        actor=actor,
        values={k: data[k] for k in PIPELINE_FIELDS if k in data},
        fields=PIPELINE_FIELDS,
    )
    return pipeline


@transaction.atomic
def pipeline_delete(*, actor: Actor, pipeline_id: int) -> None:
    require_admin(actor)
    pipeline = lock(Pipeline.objects.filter(is_deleted=False), pipeline_id, label="Pipeline")
    if pipeline.deals.filter(is_deleted=False).exists():
        raise Conflict(f"Pipeline {pipeline_id} still holds deals; move them first.")
    save_changes(
        pipeline,
        entity="pipeline",
        actor=actor,
        values={"is_deleted": True},
        fields=("is_deleted",),
    )
    pipeline.stages.update(is_deleted=True)


def _stage_values(data: dict) -> dict:
    values = {k: data[k] for k in STAGE_FIELDS if k in data}
    if "is_deal_rot_enabled" in data and not data["is_deal_rot_enabled"]:
        values["days_to_rotten"] = None
    return values


@transaction.atomic
def stage_create(*, actor: Actor, data: dict[str, Any]) -> Stage:
    require_admin(actor)
    pipeline = resolve(
        Pipeline.objects.filter(is_deleted=False), data.get("pipeline_id"), field="pipeline_id"
    )
    if pipeline is None:
        raise ValidationError({"pipeline_id": "A stage belongs to a pipeline."})
    values = {"pipeline": pipeline} | _stage_values(data)
    values.setdefault("order_nr", _next_order(stage_list(pipeline.pk)))
    return create_recorded(
        Stage(), entity="stage", actor=actor, values=values, renamed={"pipeline": "pipeline_id"}
    )


@transaction.atomic
def stage_update(
    *, actor: Actor, stage_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Stage:
    require_admin(actor)
    stage = lock(stage_list(), stage_id, label="Stage", expected_version=expected_version)
    if "pipeline_id" in data and data["pipeline_id"] != stage.pipeline_id:
        raise ValidationError({"pipeline_id": "A stage cannot move to another pipeline."})
    order_nr = stage.order_nr
    save_changes(
        stage, entity="stage", actor=actor, values=_stage_values(data), fields=STAGE_FIELDS
    )
    if stage.order_nr != order_nr:
        rebuild_tallies(stage.pipeline_id)  # which later stage is further has changed
    return stage


@transaction.atomic
def stage_reorder(*, actor: Actor, pipeline_id: int, stage_ids: list[int]) -> None:
    require_admin(actor)
    stages = {stage.pk: stage for stage in stage_list(pipeline_id).select_for_update()}
    if sorted(stage_ids) != sorted(stages):
        raise ValidationError({"stage_ids": "List each stage of the pipeline exactly once."})
    for order_nr, stage_id in enumerate(stage_ids, start=1):
        save_changes(
            stages[stage_id],
            entity="stage",
            actor=actor,
            values={"order_nr": order_nr},
            fields=("order_nr",),
        )
    rebuild_tallies(pipeline_id)  # which later stage is further has changed


@transaction.atomic
def stage_delete(*, actor: Actor, stage_id: int, move_deals_to_stage_id: int | None = None) -> int:
    """Delete a stage; its deals move first to `move_deals_to_stage_id`. Returns deals moved."""
    from ruche.pipelines.services.deals import deal_move_to_stage

    require_admin(actor)
    stage = lock(stage_list(), stage_id, label="Stage")
    deal_ids = list(stage.deals.filter(is_deleted=False).values_list("pk", flat=True))
    if deal_ids and move_deals_to_stage_id is None:
        raise Conflict(
            f"Stage {stage_id} still holds {len(deal_ids)} deals; move them to "
            f"another stage first (move_deals_to_stage_id)."
        )
    if move_deals_to_stage_id == stage_id:
        raise ValidationError({"move_deals_to_stage_id": "Choose another stage."})
    if deal_ids:
        resolve(stage_list(), move_deals_to_stage_id, field="move_deals_to_stage_id")
    for deal_id in deal_ids:
        deal_move_to_stage(actor=actor, deal_id=deal_id, stage_id=move_deals_to_stage_id)
    save_changes(
        stage, entity="stage", actor=actor, values={"is_deleted": True}, fields=("is_deleted",)
    )
    return len(deal_ids)


@transaction.atomic
def pipeline_create_standard(*, actor: Actor, name: str = "New business") -> Pipeline:
    pipeline = pipeline_create(actor=actor, data={"name": name})
    for name_, probability, rotting_days, definition in STANDARD_STAGES:
        stage_create(
            actor=actor,
            data={
                "pipeline_id": pipeline.pk,
                "name": name_,
                "deal_probability": probability,
                "days_to_rotten": rotting_days,
                "definition": definition,
            },
        )
    return pipeline
