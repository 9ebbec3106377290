"""The quick-add dialog on every page: a deal, a person or an organisation in a few fields.
Named organisations and persons are found among those the user may see, or created, in the
same transaction as the deal: a refusal leaves nothing behind."""

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from ruche.contacts.selectors import organization_search, person_search
from ruche.contacts.services import organization_create, person_create
from ruche.core.exceptions import RucheError, ValidationError
from ruche.pipelines import services
from ruche.pipelines.selectors import pipeline_list, stage_list
from ruche.web.views.common import actor, decimal_text, error_text, int_or_none, web_view

KINDS = ("deal", "person", "organization")


def _form_context(request: HttpRequest, kind: str, **extra) -> dict:
    stages = list(
        stage_list().select_related("pipeline").order_by("pipeline__order_nr", "order_nr")
    )
    return {
        "kind": kind,
        "stages": stages,
        "pipelines": list(pipeline_list()),
        "values": request.POST if request.method == "POST" else {},
        "default_stage": int_or_none(request.GET.get("stage")),
    } | extra


def _organization(request: HttpRequest, name: str):
    name = name.strip()
    if not name:
        return None
    found = organization_search(request.user, term=name, exact=True).order_by("id").first()
    return found or organization_create(actor=actor(request), data={"name": name})


def _person(request: HttpRequest, name: str, organization, email: str = "", phone: str = ""):
    name = name.strip()
    if not name:
        return None
    if not email and not phone:
        found = person_search(request.user, term=name, exact=True).order_by("id").first()
        if found is not None:
            return found
    data = {"name": name, "org_id": organization.pk if organization else None}
    if email:
        data["emails"] = [email]
    if phone:
        data["phones"] = [phone]
    return person_create(actor=actor(request), data=data)


@transaction.atomic
def _create(request: HttpRequest, kind: str):
    post = request.POST
    if kind == "organization":
        record = organization_create(
            actor=actor(request),
            data={"name": post.get("name", "").strip(), "city": post.get("city", "").strip()},
        )
        return record, reverse("web:organization", args=[record.pk])
    if kind == "person":
        organization = _organization(request, post.get("org_name", ""))
        record = _person(
            request,
            post.get("name", ""),
            organization,
            post.get("email", "").strip(),
            post.get("phone", "").strip(),
        )
        if record is None:
            raise ValidationError({"name": _("A name is required.")})
        return record, reverse("web:person", args=[record.pk])
    organization = _organization(request, post.get("org_name", ""))
    person = _person(request, post.get("person_name", ""), organization)
    data = {
        "title": post.get("title", "").strip(),
        "org_id": organization.pk if organization else None,
        "person_id": person.pk if person else None,
        "stage_id": int_or_none(post.get("stage_id")),
        "value": decimal_text(post.get("value")) or "0",
    }
    if post.get("expected_close_date"):
        data["expected_close_date"] = post["expected_close_date"]
    record = services.deal_create(actor=actor(request), data=data)
    return record, reverse("web:deal", args=[record.pk])


@web_view
def quick_add(request: HttpRequest, kind: str = "deal") -> HttpResponse:
    if kind not in KINDS:
        return HttpResponse(status=404)
    if request.method != "POST":
        return render(request, "web/quick_add/form.html", _form_context(request, kind))
    try:
        record, url = _create(request, kind)
    except RucheError as error:
        context = _form_context(request, kind, error=error_text(error))
        return render(request, "web/quick_add/form.html", context, status=422)
    response = render(
        request, "web/quick_add/done.html", {"kind": kind, "record": record, "url": url}
    )
    response["HX-Trigger"] = json.dumps(
        {"ruche:created": {"kind": kind, "id": record.pk, "url": url}}
    )
    return response
