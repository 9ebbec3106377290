"""Simple organisation and person pages: their details and their deals."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ruche.contacts.selectors import access_organization_by_id, access_person_by_id
from ruche.pipelines.selectors import deal_list
from ruche.web.views.common import STATUS_LABELS, web_view


def _deals(user, **filters):
    return list(
        deal_list(user, filters=filters).select_related("stage", "owner").order_by("-id")[:100]
    )


@web_view
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = access_organization_by_id(request.user, organization_id)
    context = {
        "organization": organization,
        "deals": _deals(request.user, org_id=organization.pk),
        "persons": list(organization.persons.filter(is_deleted=False).order_by("name")[:100]),
        "status_labels": STATUS_LABELS,
    }
    return render(request, "web/contacts/organization.html", context)


@web_view
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = access_person_by_id(request.user, person_id)
    context = {
        "person": person,
        "deals": _deals(request.user, person_id=person.pk),
        "status_labels": STATUS_LABELS,
    }
    return render(request, "web/contacts/person.html", context)
