"""Reads of persons and organisations, restricted by the one visibility rule."""

from django.db.models import Q, QuerySet

from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import NotFound
from ruche.core.permissions import restrict


def _access(queryset: QuerySet, pk: int, label: str):
    instance = queryset.filter(pk=pk).first() if isinstance(pk, int) else None
    if instance is None:
        raise NotFound(f"{label} {pk} not found.")
    return instance


def access_person_by_id(user, person_id: int) -> Person:
    return _access(restrict(Person.objects, user), person_id, "Person")


def access_organization_by_id(user, organization_id: int) -> Organization:
    return _access(restrict(Organization.objects, user), organization_id, "Organization")


def _common_filters(queryset: QuerySet, filters: dict) -> QuerySet:
    if filters.get("ids"):
        queryset = queryset.filter(pk__in=filters["ids"])
    if filters.get("owner_id") is not None:
        queryset = queryset.filter(owner_id=filters["owner_id"])
    if filters.get("updated_since"):
        queryset = queryset.filter(update_time__gte=filters["updated_since"])
    if filters.get("updated_until"):
        queryset = queryset.filter(update_time__lt=filters["updated_until"])
    return queryset


def person_list(user, *, filters: dict) -> QuerySet[Person]:
    persons = _common_filters(restrict(Person.objects, user), filters)
    if filters.get("org_id") is not None:
        persons = persons.filter(org_id=filters["org_id"])
    if filters.get("deal_id") is not None:
        persons = persons.filter(deals__pk=filters["deal_id"])
    return persons


def organization_list(user, *, filters: dict) -> QuerySet[Organization]:
    return _common_filters(restrict(Organization.objects, user), filters)


def person_search(user, *, term: str, exact: bool = False) -> QuerySet[Person]:
    lookup = "iexact" if exact else "icontains"
    # Emails and phones are JSON lists; their text holds every value.
    return (
        restrict(Person.objects, user)
        .filter(
            Q(**{f"name__{lookup}": term}) | Q(emails__icontains=term) | Q(phones__icontains=term)
        )
        .select_related("org")
    )


def organization_search(user, *, term: str, exact: bool = False) -> QuerySet[Organization]:
    lookup = "iexact" if exact else "icontains"
    return restrict(Organization.objects, user).filter(
        Q(**{f"name__{lookup}": term})
        | Q(**{f"address__{lookup}": term})
        | Q(siren=term.replace(" ", ""))
    )
