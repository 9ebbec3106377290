"""/pipelines and /stages, as in Pipedrive's API v2, with each stage's definition."""

import datetime as dt
from typing import Literal

from ninja import Field, Router, Schema

from ruche.api.crud import Resource, add_crud_routes
from ruche.api.schemas import Id
from ruche.core.exceptions import NotFound
from ruche.pipelines import services
from ruche.pipelines.models import Pipeline, Stage
from ruche.pipelines.selectors import pipeline_list, stage_list

router = Router(tags=["Pipelines and stages"])


class PipelineOut(Schema):
    id: int
    name: str
    order_nr: int
    is_deleted: bool
    is_deal_probability_enabled: bool
    add_time: dt.datetime
    update_time: dt.datetime
    version: int


class PipelineIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    is_deal_probability_enabled: bool | None = None


class PipelineCreate(PipelineIn):
    name: str = Field(..., min_length=1, max_length=255)


class StageOut(Schema):
    id: int
    order_nr: int
    name: str
    is_deleted: bool
    deal_probability: int
    pipeline_id: Id
    is_deal_rot_enabled: bool
    days_to_rotten: int | None
    add_time: dt.datetime
    update_time: dt.datetime
    definition: str
    version: int

    @staticmethod
    def resolve_is_deal_rot_enabled(stage: Stage) -> bool:
        return stage.days_to_rotten is not None


class StageIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    pipeline_id: Id | None = None
    deal_probability: int | None = Field(None, ge=0, le=100)
    is_deal_rot_enabled: bool | None = None
    days_to_rotten: int | None = Field(None, ge=1, le=3650)
    definition: str | None = Field(None, max_length=10_000)
    order_nr: int | None = Field(None, ge=0, le=10_000)


class StageCreate(StageIn):
    name: str = Field(..., min_length=1, max_length=255)
    pipeline_id: Id


class PipelineFilters(Schema):
    limit: int = Field(100, ge=1, le=500)
    cursor: str | None = Field(None, max_length=500)
    sort_by: Literal["id", "update_time", "add_time"] = "id"
    sort_direction: Literal["asc", "desc"] = "asc"


class StageFilters(PipelineFilters):
    pipeline_id: Id | None = None


def _load(queryset, pk: int, label: str):
    instance = queryset.filter(pk=pk).first()
    if instance is None:
        raise NotFound(f"{label} {pk} not found.")
    return instance


class StageDeleteParams(Schema):
    move_deals_to_stage_id: int | None = Field(
        None, description="Where the stage's deals go; required while it holds deals."
    )


PIPELINES = Resource(
    singular="Pipeline",
    plural="Pipelines",
    path="/pipelines",
    out=PipelineOut,
    create_in=PipelineCreate,
    update_in=PipelineIn,
    filters=PipelineFilters,
    list_queryset=lambda user, values: pipeline_list(),
    load=lambda user, pk: _load(Pipeline.objects.filter(is_deleted=False), pk, "Pipeline"),
    create=lambda actor, data: services.pipeline_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.pipeline_update(
        actor=actor, pipeline_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk: services.pipeline_delete(actor=actor, pipeline_id=pk),
)
STAGES = Resource(
    singular="Stage",
    plural="Stages",
    path="/stages",
    out=StageOut,
    create_in=StageCreate,
    update_in=StageIn,
    filters=StageFilters,
    list_queryset=lambda user, values: stage_list(values.get("pipeline_id")),
    load=lambda user, pk: _load(stage_list(), pk, "Stage"),
    create=lambda actor, data: services.stage_create(actor=actor, data=data),
    update=lambda actor, pk, data, version: services.stage_update(
        actor=actor, stage_id=pk, data=data, expected_version=version
    ),
    delete=lambda actor, pk, move_deals_to_stage_id: services.stage_delete(
        actor=actor, stage_id=pk, move_deals_to_stage_id=move_deals_to_stage_id
    ),
    delete_params=StageDeleteParams,
)
add_crud_routes(router, PIPELINES)
add_crud_routes(router, STAGES)
