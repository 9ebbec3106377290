"""Reads, restricted to what the user may see (ruche.core.permissions)."""

from django.db.models import Q, QuerySet

from ruche.core.exceptions import NotFound
from ruche.core.permissions import linked_record_q, restrict
from ruche.pipelines.models import Activity, Deal, DealLine, Note, Pipeline, Stage


def deal_queryset(user) -> QuerySet[Deal]:
    return restrict(Deal.objects.all(), user)


def access_deal_by_id(user, deal_id: int) -> Deal:
    """The deal, or NotFound alike for a missing id and for one the user may not see."""
    deal = deal_queryset(user).filter(pk=deal_id).first() if isinstance(deal_id, int) else None
    if deal is None:
        raise NotFound(f"Deal {deal_id} not found.")
    return deal


def deal_lines(deal: Deal) -> QuerySet[DealLine]:
    return deal.lines.select_related("product")


def pipeline_list() -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(is_deleted=False)


def stage_list(pipeline_id: int | None = None) -> QuerySet[Stage]:
    stages = Stage.objects.filter(is_deleted=False, pipeline__is_deleted=False)
    return stages if pipeline_id is None else stages.filter(pipeline_id=pipeline_id)


def activity_queryset(user) -> QuerySet[Activity]:
    return Activity.objects.filter(linked_record_q(user), is_deleted=False)


def note_queryset(user) -> QuerySet[Note]:
    return Note.objects.filter(linked_record_q(user), is_deleted=False)


def deal_search_q(term: str) -> Q:
    return Q(title__icontains=term) | Q(org__name__icontains=term) | Q(person__name__icontains=term)
