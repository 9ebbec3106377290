"""Reads, restricted to what the user may see (ruche.core.permissions)."""

from django.db.models import Q, QuerySet

from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import NotFound
from ruche.core.permissions import linked_record_q, restrict, visibility_q
from ruche.core.selectors import filter_common
from ruche.pipelines.models import (
    OTHER_ACTIVITY,
    PUBLIC_ACTIVITY,
    Activity,
    Deal,
    DealLine,
    Note,
    Pipeline,
    Stage,
)


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
    return Activity.objects.filter(linked_record_q(user, deal_copied=True), is_deleted=False)


def activity_parts(user) -> tuple[QuerySet[Activity], QuerySet[Activity]]:
    """activity_queryset(user) in two parts, for counting many: the activities of deals visible
    to everyone, which every reader sees (so read without the rule, from narrow indexes), and
    the others, through the rule."""
    live = Activity.objects.filter(is_deleted=False)
    others = live.filter(OTHER_ACTIVITY).filter(linked_record_q(user, deal_copied=True))
    return live.filter(PUBLIC_ACTIVITY), others


def note_queryset(user) -> QuerySet[Note]:
    return Note.objects.filter(linked_record_q(user), is_deleted=False)


DEAL_FILTER_FIELDS = ("owner_id", "person_id", "org_id", "pipeline_id", "stage_id")


def deal_list(user, *, filters: dict) -> QuerySet[Deal]:
    """Deals the user may see, filtered as Pipedrive's GET /deals filters them. `status` may
    name several statuses; "deleted" lists deleted deals."""
    statuses = set(filters.get("statuses") or [])
    deals = Deal.objects.filter(visibility_q(user), is_deleted="deleted" in statuses)
    if statuses - {"deleted"}:
        deals = deals.filter(status__in=statuses - {"deleted"})
    deals = filter_common(deals, filters, DEAL_FILTER_FIELDS)
    return deals.select_related("lost_reason").prefetch_related("labels")


def access_activity_by_id(user, activity_id: int) -> Activity:
    activity = activity_queryset(user).filter(pk=activity_id).first()
    if activity is None:
        raise NotFound(f"Activity {activity_id} not found.")
    return activity


def activity_list(user, *, filters: dict) -> QuerySet[Activity]:
    return filter_common(
        activity_queryset(user), filters, ("owner_id", "deal_id", "person_id", "org_id", "done")
    )


def access_note_by_id(user, note_id: int) -> Note:
    note = note_queryset(user).filter(pk=note_id).first()
    if note is None:
        raise NotFound(f"Note {note_id} not found.")
    return note


def note_list(user, *, filters: dict) -> QuerySet[Note]:
    return filter_common(note_queryset(user), filters, ("deal_id", "person_id", "org_id"))


# A term naming at most this many organisations (or persons) is looked up by their ids: the
# database then reads their few deals through the org_id and person_id indexes, instead of
# joining every deal to its organisation and person. A term naming more is common enough that
# its deals are found quickly by any plan, and is left as a subquery.
SEARCH_ID_LIST = 1000


def _matching_ids(model, lookup: str, term: str) -> list[int] | QuerySet:
    matching = model.objects.filter(**{f"name__{lookup}": term}).values_list("pk", flat=True)
    few = list(matching[: SEARCH_ID_LIST + 1])
    return few if len(few) <= SEARCH_ID_LIST else matching


def deal_search(user, *, term: str, exact: bool = False, filters: dict | None = None):
    """Deals whose title matches, or whose organisation or person name matches. On PostgreSQL
    trigram indexes serve the three matches (contacts 0002, pipelines 0004), so a rare term
    costs a few index reads on a million deals rather than a scan of them."""
    lookup = "iexact" if exact else "icontains"
    deals = deal_list(user, filters=filters or {}).filter(
        Q(**{f"title__{lookup}": term})
        | Q(org_id__in=_matching_ids(Organization, lookup, term))
        | Q(person_id__in=_matching_ids(Person, lookup, term))
    )
    return deals.select_related("stage", "org", "person")
