"""Reads of persons and organisations, restricted by the one visibility rule."""

from django.db.models import Q, QuerySet

from ruche.contacts.models import Organization, Person
from ruche.core.exceptions import NotFound
from ruche.core.permissions import restrict
from ruche.core.selectors import filter_common


def _access(queryset: QuerySet, pk: int, label: str):
    instance = queryset.filter(pk=pk).first() if isinstance(pk, int) else None
    if instance is None:
        raise NotFound(f"{label} {pk} not found.")
    return instance


def access_person_by_id(user, person_id: int) -> Person:
    return _access(restrict(Person.objects, user), person_id, "Person")


def access_organization_by_id(user, organization_id: int) -> Organization:
    return _access(restrict(Organization.objects, user), organization_id, "Organization")


def person_list(user, *, filters: dict) -> QuerySet[Person]:
    persons = filter_common(restrict(Person.objects, user), filters, ("owner_id",))
    if filters.get("org_id") is not None:
        persons = persons.filter(org_id=filters["org_id"])
    if filters.get("deal_id") is not None:
        persons = persons.filter(deals__pk=filters["deal_id"])
    return persons


def organization_list(user, *, filters: dict) -> QuerySet[Organization]:
    return filter_common(restrict(Organization.objects, user), filters, ("owner_id",))


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
