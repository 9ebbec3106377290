"""The one visibility rule, used by every selector: API, web, search, exports and reports.

- an admin (or a system job, which has no user) sees everything;
- everyone sees records visible to everyone, and their own records;
- a record visible to the owner's team is seen by that team's members;
- a manager sees every record owned by a member of their team.
"""

from django.db.models import Q, QuerySet

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


def linked_record_q(user) -> Q:
    """Activities and notes: visible through the deal, else the person, else the organisation
    they belong to; unlinked ones through their owner."""
    if user is None or user.is_admin:
        return Q()
    return (
        (Q(deal__isnull=False) & visibility_q(user, "deal__"))
        | (Q(deal__isnull=True, person__isnull=False) & visibility_q(user, "person__"))
        | (
            Q(deal__isnull=True, person__isnull=True, org__isnull=False)
            & visibility_q(user, "org__")
        )
        | (Q(deal__isnull=True, person__isnull=True, org__isnull=True) & owner_q(user))
    )


def restrict(queryset: QuerySet, user) -> QuerySet:
    return queryset.filter(visibility_q(user), is_deleted=False)
