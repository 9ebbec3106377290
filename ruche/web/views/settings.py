"""Settings pages for admins: pipelines and stages, exchange rates and API tokens.

Every write goes through the same service as the API, so rules and history apply; a refusal
re-renders the page with status 422 and a message naming the field, and changes nothing.
"""

from collections.abc import Callable

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from ruche.accounts import services as account_services
from ruche.accounts.models import ApiToken, Company
from ruche.core import services as core_services
from ruche.core.currency import exchange_rate_set, exchange_rates_import_csv
from ruche.core.custom_fields import (
    access_custom_field,
    custom_field_create,
    custom_field_delete,
    custom_field_update,
)
from ruche.core.exceptions import NotFound, RucheError, ValidationError
from ruche.core.models import CustomField, ExchangeRate, Lookup
from ruche.pipelines.selectors import pipeline_list, stage_list
from ruche.pipelines.services import structure
from ruche.web.views.common import (
    VISIBILITY_LABELS,
    actor,
    decimal_text,
    int_or_none,
    role_view,
)

MAX_CSV_BYTES = 1_000_000

# The services' fixed refusals met on these pages, translated for the web (the API keeps
# them in English).
SETTINGS_MESSAGES = [
    gettext_noop("List each stage of the pipeline exactly once."),
    gettext_noop("Choose another stage."),
    gettext_noop("A positive number is expected."),
    gettext_noop("Expected currency,valid_from,rate."),
    gettext_noop("Only an admin can change pipelines and stages."),
    gettext_noop("A name is required."),
    gettext_noop('A list of {"label": "..."} objects is expected.'),
    gettext_noop("A month from 1 to 12 is expected."),
]


# Signed in (else the sign-in page) and an admin (else 403).
admin_view = role_view(lambda user: user.is_admin)


def field_errors(error: RucheError) -> str:
    """The refusal in words, each message preceded by the field it is about."""
    if not error.field_errors:
        return _(error.message)
    return " ".join(f"{field}: {_(message)}" for field, message in error.field_errors.items())


def _integer(request: HttpRequest, name: str, *, low: int, high: int, blank_ok=False):
    text = request.POST.get(name, "").strip()
    if text == "" and blank_ok:
        return None
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ValidationError(
            {
                name: _("A whole number from %(low)s to %(high)s is expected.")
                % {"low": low, "high": high}
            }
        )
    return number


# Pipelines and stages -----------------------------------------------------------------------


def _pipelines_page(request, pipeline_id=None, *, error="", status=200) -> HttpResponse:
    pipelines = list(pipeline_list().order_by("order_nr", "id"))
    current = next(
        (p for p in pipelines if p.pk == pipeline_id), pipelines[0] if pipelines else None
    )
    stages = []
    if current is not None:
        stages = list(
            stage_list(current.pk)
            .annotate(deal_count=Count("deals", filter=Q(deals__is_deleted=False)))
            .order_by("order_nr", "id")
        )
    context = {
        "section": "pipelines",
        "pipelines": pipelines,
        "current": current,
        "stages": stages,
        "error": error,
    }
    return render(request, "web/settings/pipelines.html", context, status=status)


def _back_to(pipeline_id) -> HttpResponse:
    return redirect(f"{reverse('web:settings_pipelines')}?pipeline={pipeline_id}")


def _attempt(request, pipeline_id, write: Callable[[], object], done: str) -> HttpResponse:
    try:
        write()
    except RucheError as error:
        return _pipelines_page(request, pipeline_id, error=field_errors(error), status=422)
    messages.success(request, done)
    return _back_to(pipeline_id)


@admin_view
def pipelines(request: HttpRequest) -> HttpResponse:
    return _pipelines_page(request, int_or_none(request.GET.get("pipeline")))


@admin_view
@require_POST
def pipeline_add(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    created = {}

    def write():
        if not name:
            raise ValidationError({"name": _("A name is required.")})
        created["pipeline"] = structure.pipeline_create(actor=actor(request), data={"name": name})

    try:
        write()
    except RucheError as error:
        return _pipelines_page(request, error=field_errors(error), status=422)
    messages.success(request, _("Pipeline added."))
    return _back_to(created["pipeline"].pk)


@admin_view
@require_POST
def pipeline_rename(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    name = request.POST.get("name", "").strip()

    def write():
        if not name:
            raise ValidationError({"name": _("A name is required.")})
        structure.pipeline_update(
            actor=actor(request), pipeline_id=pipeline_id, data={"name": name}
        )

    return _attempt(request, pipeline_id, write, _("Pipeline renamed."))


def _stage_data(request: HttpRequest) -> dict:
    name = request.POST.get("name", "").strip()
    if not name:
        raise ValidationError({"name": _("A name is required.")})
    return {
        "name": name,
        "definition": request.POST.get("definition", "").strip(),
        "deal_probability": _integer(request, "deal_probability", low=0, high=100),
        "days_to_rotten": _integer(request, "days_to_rotten", low=1, high=3650, blank_ok=True),
    }


@admin_view
@require_POST
def stage_add(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    def write():
        data = _stage_data(request) | {"pipeline_id": pipeline_id}
        structure.stage_create(actor=actor(request), data=data)

    return _attempt(request, pipeline_id, write, _("Stage added."))


@admin_view
@require_POST
def stage_edit(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    def write():
        if not stage_list(pipeline_id).filter(pk=stage_id).exists():
            raise ValidationError({"stage_id": _("No such stage in this pipeline.")})
        structure.stage_update(actor=actor(request), stage_id=stage_id, data=_stage_data(request))

    return _attempt(request, pipeline_id, write, _("Stage saved."))


@admin_view
@require_POST
def stage_order(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    """Either the whole new order (`stage_ids`, sent after a drag) or one stage moved one place
    (`move` and `direction`, the keyboard and no-script way)."""

    def write():
        current = list(
            stage_list(pipeline_id).order_by("order_nr", "id").values_list("pk", flat=True)
        )
        if "move" in request.POST:
            moved = int_or_none(request.POST.get("move"))
            if moved not in current:
                raise ValidationError({"move": _("No such stage in this pipeline.")})
            index = current.index(moved)
            step = -1 if request.POST.get("direction") == "up" else 1
            if 0 <= index + step < len(current):
                current[index], current[index + step] = current[index + step], current[index]
            order = current
        else:
            order = [int_or_none(value) for value in request.POST.getlist("stage_ids")]
        structure.stage_reorder(actor=actor(request), pipeline_id=pipeline_id, stage_ids=order)

    if request.headers.get("X-Requested-With") == "fetch":
        # After a drag: no page, just the outcome; the script puts the list back on refusal.
        try:
            write()
        except RucheError as error:
            return HttpResponse(field_errors(error), status=422, content_type="text/plain")
        return HttpResponse(status=204)
    return _attempt(request, pipeline_id, write, _("Stages reordered."))


@admin_view
@require_POST
def stage_remove(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    def write():
        if not stage_list(pipeline_id).filter(pk=stage_id).exists():
            raise ValidationError({"stage_id": _("No such stage in this pipeline.")})
        target = request.POST.get("move_deals_to_stage_id", "").strip()
        target_id = None
        if target:
            target_id = int_or_none(target)
            if target_id is None or not stage_list(pipeline_id).filter(pk=target_id).exists():
                raise ValidationError(
                    {"move_deals_to_stage_id": _("Choose another stage of this pipeline.")}
                )
        structure.stage_delete(
            actor=actor(request), stage_id=stage_id, move_deals_to_stage_id=target_id
        )

    return _attempt(request, pipeline_id, write, _("Stage deleted."))


# Exchange rates ------------------------------------------------------------------------------


def _rates_page(request, *, error="", status=200) -> HttpResponse:
    context = {
        "section": "rates",
        "company_currency": Company.current().currency,
        "rates": ExchangeRate.objects.order_by("currency", "-valid_from")[:500],
        "error": error,
        "form": request.POST if error else {},
    }
    return render(request, "web/settings/rates.html", context, status=status)


@admin_view
def rates(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _rates_page(request)
    try:
        if request.FILES.get("file") is not None:
            upload = request.FILES["file"]
            if upload.size > MAX_CSV_BYTES:
                raise ValidationError({"file": _("The file is larger than 1 MB.")})
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError({"file": _("The file is not UTF-8 text.")}) from None
            count = exchange_rates_import_csv(actor=actor(request), text=text)
            messages.success(request, _("%(count)s rates imported.") % {"count": count})
        else:
            exchange_rate_set(
                actor=actor(request),
                currency=request.POST.get("currency", "").strip().upper(),
                valid_from=request.POST.get("valid_from", "").strip(),
                rate=decimal_text(request.POST.get("rate", "")) or "",
            )
            messages.success(request, _("Rate saved."))
    except RucheError as error:
        return _rates_page(request, error=field_errors(error), status=422)
    return redirect("web:settings_rates")


# API tokens ----------------------------------------------------------------------------------


def _tokens_page(request, *, raw="", error="", status=200) -> HttpResponse:
    context = {
        "section": "tokens",
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at"),
        "raw": raw,
        "error": error,
    }
    return render(request, "web/settings/tokens.html", context, status=status)


@admin_view
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _tokens_page(request)
    name = request.POST.get("name", "").strip()
    if len(name) > 120:
        error = ValidationError({"name": _("At most 120 characters.")})
        return _tokens_page(request, error=field_errors(error), status=422)
    _token, raw = account_services.token_create(user=request.user, name=name)
    # Shown once, in this response; never stored.
    response = _tokens_page(request, raw=raw)
    response["Cache-Control"] = "no-store"
    return response


@admin_view
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    account_services.token_revoke(token_id=token_id, user=request.user)  # NotFound is a 404
    messages.success(request, _("Token revoked."))
    return redirect("web:settings_tokens")


# Company details -----------------------------------------------------------------------------

MONTHS = [
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
]


def _company_page(request, *, error="", status=200) -> HttpResponse:
    context = {
        "section": "company",
        "company": Company.current(),
        "form": request.POST if error else None,
        "months": [(number, _(name)) for number, name in enumerate(MONTHS, start=1)],
        "visibilities": list(VISIBILITY_LABELS.items()),
        "error": error,
    }
    return render(request, "web/settings/company.html", context, status=status)


@admin_view
def company(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _company_page(request)
    post = request.POST
    data = {key: post.get(key, "").strip() for key in ("name", "address", "siren", "vat_number")}
    data["currency"] = post.get("currency", "").strip().upper()
    try:
        data["fiscal_year_start_month"] = _integer(
            request, "fiscal_year_start_month", low=1, high=12
        )
        data["default_visibility"] = int_or_none(post.get("default_visibility"))
        core_services.company_update(actor=actor(request), data=data)
    except RucheError as error:
        return _company_page(request, error=field_errors(error), status=422)
    messages.success(request, _("Company details saved."))
    return redirect("web:settings_company")


# Lookup lists --------------------------------------------------------------------------------

LOOKUP_LABELS = {
    Lookup.Kind.SOURCE: gettext_noop("Sources"),
    Lookup.Kind.LOSS_REASON: gettext_noop("Loss reasons"),
    Lookup.Kind.FORECAST_CATEGORY: gettext_noop("Forecast categories"),
    Lookup.Kind.LABEL: gettext_noop("Labels"),
}


def _lookup_kind(kind: str) -> str:
    if kind not in LOOKUP_LABELS:
        raise Http404
    return kind


def _lookups_page(request, kind, *, error="", status=200) -> HttpResponse:
    context = {
        "section": "lookups",
        "kind": kind,
        "kinds": [(key, _(label)) for key, label in LOOKUP_LABELS.items()],
        "kind_label": _(LOOKUP_LABELS[kind]),
        "lookups": list(Lookup.objects.filter(kind=kind).order_by("order_nr", "id")),
        "error": error,
    }
    return render(request, "web/settings/lookups.html", context, status=status)


@admin_view
def lookups(request: HttpRequest, kind: str = Lookup.Kind.SOURCE) -> HttpResponse:
    kind = _lookup_kind(kind)
    if request.method != "POST":
        return _lookups_page(request, kind)
    try:
        core_services.lookup_create(actor=actor(request), kind=kind, name=request.POST.get("name"))
    except RucheError as error:
        return _lookups_page(request, kind, error=field_errors(error), status=422)
    messages.success(request, _("Value added."))
    return redirect("web:settings_lookups", kind=kind)


@admin_view
@require_POST
def lookup_change(request: HttpRequest, kind: str, lookup_id: int) -> HttpResponse:
    """Rename (`name`), deactivate or reactivate (`is_active`), or move one place (`direction`)."""
    kind = _lookup_kind(kind)
    post = request.POST
    try:
        if "direction" in post:
            ids = list(
                Lookup.objects.filter(kind=kind)
                .order_by("order_nr", "id")
                .values_list("pk", flat=True)
            )
            if lookup_id not in ids:
                raise Http404
            index = ids.index(lookup_id)
            step = -1 if post["direction"] == "up" else 1
            if 0 <= index + step < len(ids):
                ids[index], ids[index + step] = ids[index + step], ids[index]
            core_services.lookup_reorder(actor=actor(request), kind=kind, lookup_ids=ids)
        else:
            data = {}
            if "name" in post:
                data["name"] = post["name"]
            if "is_active" in post:
                data["is_active"] = post["is_active"] == "1"
            core_services.lookup_update(
                actor=actor(request), kind=kind, lookup_id=lookup_id, data=data
            )
    except RucheError as error:
        if isinstance(error, NotFound):
            raise
        return _lookups_page(request, kind, error=field_errors(error), status=422)
    messages.success(request, _("List saved."))
    return redirect("web:settings_lookups", kind=kind)


# Custom fields -------------------------------------------------------------------------------

ENTITY_LABELS = {
    CustomField.Entity.DEAL: gettext_noop("Deals"),
    CustomField.Entity.PERSON: gettext_noop("People"),
    CustomField.Entity.ORGANIZATION: gettext_noop("Organisations"),
    CustomField.Entity.PRODUCT: gettext_noop("Products"),
    CustomField.Entity.ACTIVITY: gettext_noop("Activities"),
}
TYPE_LABELS = {
    CustomField.FieldType.TEXT: gettext_noop("Text"),
    CustomField.FieldType.NUMBER: gettext_noop("Number"),
    CustomField.FieldType.MONEY: gettext_noop("Amount"),
    CustomField.FieldType.DATE: gettext_noop("Date"),
    CustomField.FieldType.SINGLE_CHOICE: gettext_noop("Single choice"),
    CustomField.FieldType.MULTIPLE_CHOICE: gettext_noop("Multiple choice"),
    CustomField.FieldType.USER: gettext_noop("User"),
}
CHOICE_TYPES = (CustomField.FieldType.SINGLE_CHOICE, CustomField.FieldType.MULTIPLE_CHOICE)


def _entity(entity: str) -> str:
    if entity not in ENTITY_LABELS:
        raise Http404
    return entity


def _options(request: HttpRequest) -> list[dict]:
    """One option a line; existing options keep their ids when their label is unchanged."""
    return [
        {"label": line.strip()}
        for line in request.POST.get("options", "").splitlines()
        if line.strip()
    ]


def _fields_page(request, entity, *, error="", status=200) -> HttpResponse:
    fields = list(CustomField.objects.filter(entity=entity).order_by("order_nr", "id"))
    for field in fields:
        field.type_label = _(TYPE_LABELS[field.field_type])
        field.options_text = "\n".join(option["label"] for option in field.options)
        field.has_options = field.field_type in CHOICE_TYPES
    context = {
        "section": "fields",
        "entity": entity,
        "entities": [(key, _(label)) for key, label in ENTITY_LABELS.items()],
        "types": [(key, _(label)) for key, label in TYPE_LABELS.items()],
        "fields": fields,
        "error": error,
    }
    return render(request, "web/settings/fields.html", context, status=status)


@admin_view
def custom_fields(request: HttpRequest, entity: str = CustomField.Entity.DEAL) -> HttpResponse:
    entity = _entity(entity)
    if request.method != "POST":
        return _fields_page(request, entity)
    data = {
        "name": request.POST.get("name", "").strip(),
        "field_type": request.POST.get("field_type", ""),
        "options": _options(request),
        "is_required": request.POST.get("is_required") == "1",
    }
    try:
        if not data["name"]:
            raise ValidationError({"name": _("A name is required.")})
        if data["field_type"] in CHOICE_TYPES and not data["options"]:
            raise ValidationError({"options": _("Give at least one option, one a line.")})
        custom_field_create(user=request.user, entity=entity, data=data)
    except RucheError as error:
        return _fields_page(request, entity, error=field_errors(error), status=422)
    messages.success(request, _("Field added."))
    return redirect("web:settings_fields", entity=entity)


@admin_view
@require_POST
def custom_field_change(request: HttpRequest, entity: str, key: str) -> HttpResponse:
    entity = _entity(entity)
    try:
        if request.POST.get("delete") == "1":
            custom_field_delete(user=request.user, entity=entity, key=key)
            messages.success(request, _("Field deleted."))
            return redirect("web:settings_fields", entity=entity)
        field = access_custom_field(entity, key)
        name = request.POST.get("name", "").strip()
        if not name:
            raise ValidationError({"name": _("A name is required.")})
        data = {"name": name, "is_required": request.POST.get("is_required") == "1"}
        if field.field_type in CHOICE_TYPES:
            labels = [option["label"] for option in _options(request)]
            if not labels:
                raise ValidationError({"options": _("Give at least one option, one a line.")})
            kept = {option["label"]: option["id"] for option in field.options}
            data["options"] = [
                {"id": kept[label], "label": label} if label in kept else {"label": label}
                for label in labels
            ]
        custom_field_update(user=request.user, entity=entity, key=key, data=data)
    except NotFound:
        raise
    except RucheError as error:
        return _fields_page(request, entity, error=field_errors(error), status=422)
    messages.success(request, _("Field saved."))
    return redirect("web:settings_fields", entity=entity)
