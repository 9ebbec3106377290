"""Organisation and person pages: their details, deals, activities, notes and history."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ruche.pipelines.selectors import deal_list
from ruche.web.views.common import STATUS_LABELS, web_view
from ruche.web.views.records import Subject, record_blocks, timeline

SHARED_FIELD_LABELS = {
    "name": _("Name"),
    "owner": _("Owner"),
    "visible_to": _("Visible to"),
    "custom_fields": _("Custom fields"),
    "external_id": _("External id"),
}
ORGANIZATION_FIELD_LABELS = SHARED_FIELD_LABELS | {
    "address": _("Address"),
    "postal_code": _("Postal code"),
    "city": _("City"),
    "country": _("Country"),
    "siren": "SIREN",
    "siret": "SIRET",
    "vat_number": _("VAT number"),
    "industry": _("Industry"),
    "size": _("Size"),
    "source": _("Source"),
}
PERSON_FIELD_LABELS = SHARED_FIELD_LABELS | {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "emails": _("Email"),
    "phones": _("Phone"),
    "org": _("Organisation"),
    "job_title": _("Job title"),
}
DEALS_SHOWN = 100


def _page_context(user, subject: Subject, field_labels: dict) -> dict:
    deals = (
        deal_list(user, filters=subject.links)
        .select_related("stage", "owner")
        .order_by("-id")[:DEALS_SHOWN]
    )
    return {
        "deals": list(deals),
        "status_labels": STATUS_LABELS,
    } | record_blocks(user, subject, field_labels)


@web_view
def organization_detail(request: HttpRequest, organization_id: int) -> HttpResponse:
    subject = Subject.get(request.user, "organization", organization_id)
    organization = subject.record
    context = {
        "organization": organization,
        "persons": list(organization.persons.filter(is_deleted=False).order_by("name")[:100]),
    } | _page_context(request.user, subject, ORGANIZATION_FIELD_LABELS)
    return render(request, "web/contacts/organization.html", context)


@web_view
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = Subject.get(request.user, "person", person_id)
    context = {"person": subject.record} | _page_context(request.user, subject, PERSON_FIELD_LABELS)
    return render(request, "web/contacts/person.html", context)


@web_view
def organization_history(request: HttpRequest, organization_id: int) -> HttpResponse:
    subject = Subject.get(request.user, "organization", organization_id)
    history = timeline(subject, ORGANIZATION_FIELD_LABELS)
    return render(request, "web/records/history.html", {"history": history})


@web_view
def person_history(request: HttpRequest, person_id: int) -> HttpResponse:
    subject = Subject.get(request.user, "person", person_id)
    history = timeline(subject, PERSON_FIELD_LABELS)
    return render(request, "web/records/history.html", {"history": history})
