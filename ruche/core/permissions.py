"""The one visibility rule, used by every selector: API, web, search, exports and reports.

- an admin (or a system job, which has no user) sees everything;
- everyone sees records visible to everyone, and their own records;
- a record visible to the owner's team is seen by that team's members;
- a manager sees every record owned by a member of their team.
"""

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet

from ruche.core.models import Visibility


def visibility_q(user, prefix: str = "") -> Q:
    """The rule as a filter on an owned model, or on one reached through `prefix` ("deal__")."""
    if user is None or user.is_admin:
        return Q()
    visible = Q(**{f"{prefix}visible_to": Visibility.EVERYONE}) | Q(
        **{f"{prefix}owner_id": user.pk}
    )
    if user.team_id is not None:
        same_team = Q(**{f"{prefix}owner__team_id": user.team_id})
        if not user.is_manager:
            same_team &= Q(**{f"{prefix}visible_to": Visibility.TEAM})
        visible |= same_team
    return visible


def owner_q(user, prefix: str = "") -> Q:
    """For records without their own visibility: the owner, the owner's manager, an admin."""
    if user is None or user.is_admin:
        return Q()
    mine = Q(**{f"{prefix}owner_id": user.pk})
    if user.is_manager and user.team_id is not None:
        mine |= Q(**{f"{prefix}owner__team_id": user.team_id})
    return mine


def linked_record_q(user, *, deal_copied: bool = False) -> Q:
    """Activities and notes: visible through the deal, else the person, else the organisation
    they belong to; unlinked ones through their owner. With `deal_copied` (activities), the
    deal's owner and visibility are read from the record's copy of them (`deal_owner`,
    `deal_visible_to`), not from a join to the deal. The person and the organisation are looked
    up for the records without a deal only (EXISTS), not joined to every record."""
    if user is None or user.is_admin:
        return Q()
    person = apps.get_model("contacts", "Person").objects.filter(pk=OuterRef("person_id"))
    org = apps.get_model("contacts", "Organization").objects.filter(pk=OuterRef("org_id"))
    return (
        (Q(deal__isnull=False) & visibility_q(user, "deal_" if deal_copied else "deal__"))
        | (
            Q(deal__isnull=True, person__isnull=False)
            & Q(Exists(person.filter(visibility_q(user))))
        )
        | (
            Q(deal__isnull=True, person__isnull=True, org__isnull=False)
            & Q(Exists(org.filter(visibility_q(user))))
        )
        | (Q(deal__isnull=True, person__isnull=True, org__isnull=True) & owner_q(user))
    )


def restrict(queryset: QuerySet, user) -> QuerySet:
    return queryset.filter(visibility_q(user), is_deleted=False)
