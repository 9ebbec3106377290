"""Filters every list shares, as Pipedrive's list endpoints take them."""

from collections.abc import Iterable

from django.db.models import QuerySet


def filter_common(queryset: QuerySet, filters: dict, equal_fields: Iterable[str] = ()) -> QuerySet:
    """`ids`, `updated_since` (inclusive), `updated_until` (exclusive) and equality filters;
    a filter that is absent or None is not applied."""
    for field in equal_fields:
        if filters.get(field) is not None:
            queryset = queryset.filter(**{field: filters[field]})
    if filters.get("ids"):
        queryset = queryset.filter(pk__in=filters["ids"])
    if filters.get("updated_since"):
        queryset = queryset.filter(update_time__gte=filters["updated_since"])
    if filters.get("updated_until"):
        queryset = queryset.filter(update_time__lt=filters["updated_until"])
    return queryset
