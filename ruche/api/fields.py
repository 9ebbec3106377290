"""/dealFields, /personFields, /organizationFields, /productFields and /activityFields: the
built-in fields of each entity followed by the admin's custom fields, as in Pipedrive."""

from typing import Any

from ninja import Field, Query, Router, Schema

from ruche.api.pagination import PageParams
from ruche.api.schemas import DeletedId, Id, envelope, ok
from ruche.core import custom_fields
from ruche.core.models import CustomField

router = Router(tags=["Fields"])

# field_code, field_name, field_type: the built-in fields clients can rely on.
BUILT_IN = {
    "deal": [
        ("title", "Title", "varchar"),
        ("value", "Value", "monetary"),
        ("currency", "Currency", "varchar"),
        ("status", "Status", "status"),
        ("pipeline_id", "Pipeline", "int"),
        ("stage_id", "Stage", "stage"),
        ("owner_id", "Owner", "user"),
        ("person_id", "Contact person", "people"),
        ("org_id", "Organization", "org"),
        ("expected_close_date", "Expected close date", "date"),
        ("probability", "Probability", "double"),
        ("lost_reason", "Lost reason", "varchar"),
        ("visible_to", "Visible to", "visible_to"),
        ("label_ids", "Labels", "set"),
        ("forecast_category_id", "Forecast category", "enum"),
        ("next_step", "Next step", "varchar"),
        ("source_id", "Source", "enum"),
        ("competitor", "Competitor", "varchar"),
        ("revenue_type", "Revenue type", "enum"),
        ("recurring_monthly", "Monthly recurring amount", "monetary"),
        ("recurring_term_months", "Recurring term (months)", "int"),
        ("description", "Description", "text"),
        ("win_loss_report", "Win/loss report", "text"),
        ("add_time", "Created", "date"),
        ("won_time", "Won time", "date"),
        ("lost_time", "Lost time", "date"),
    ],
    "person": [
        ("name", "Name", "varchar"),
        ("first_name", "First name", "varchar"),
        ("last_name", "Last name", "varchar"),
        ("emails", "Email", "varchar"),
        ("phones", "Phone", "phone"),
        ("org_id", "Organization", "org"),
        ("job_title", "Job title", "varchar"),
        ("owner_id", "Owner", "user"),
        ("visible_to", "Visible to", "visible_to"),
    ],
    "organization": [
        ("name", "Name", "varchar"),
        ("address", "Address", "address"),
        ("siren", "SIREN", "varchar"),
        ("siret", "SIRET", "varchar"),
        ("vat_number", "VAT number", "varchar"),
        ("industry", "Industry", "varchar"),
        ("size", "Size", "enum"),
        ("source_id", "Source", "enum"),
        ("owner_id", "Owner", "user"),
        ("visible_to", "Visible to", "visible_to"),
    ],
    "product": [
        ("name", "Name", "varchar"),
        ("code", "Code", "varchar"),
        ("unit", "Unit", "varchar"),
        ("prices", "Price", "price_list"),
        ("tax", "VAT rate", "double"),
        ("description", "Description", "text"),
        ("owner_id", "Owner", "user"),
    ],
    "activity": [
        ("subject", "Subject", "varchar"),
        ("type", "Type", "varchar"),
        ("due_date", "Due date", "date"),
        ("due_time", "Due time", "time"),
        ("duration", "Duration", "time"),
        ("owner_id", "Assigned to", "user"),
        ("deal_id", "Deal", "deal"),
        ("person_id", "Contact person", "people"),
        ("org_id", "Organization", "org"),
        ("done", "Done", "boolean"),
        ("note", "Note", "text"),
    ],
}


class FieldOption(Schema):
    id: int
    label: str


class FieldOut(Schema):
    field_name: str
    field_code: str
    field_type: str
    options: list[FieldOption] | None = None
    is_custom_field: bool
    is_optional_response_field: bool = False
    is_required: bool = False


class OptionIn(Schema):
    id: Id | None = None
    label: str = Field(..., min_length=1, max_length=255)


class FieldIn(Schema):
    field_name: str | None = Field(None, min_length=1, max_length=255)
    options: list[OptionIn] | None = Field(None, max_length=500)
    is_required: bool | None = None


class FieldCreate(FieldIn):
    field_name: str = Field(..., min_length=1, max_length=255)
    field_type: str = Field(
        ..., max_length=16, description="text, double, monetary, date, enum, set or user"
    )


def _all_fields(entity: str) -> list[dict[str, Any]]:
    built_in = [
        {"field_code": code, "field_name": name, "field_type": type_, "is_custom_field": False}
        for code, name, type_ in BUILT_IN[entity]
    ]
    return built_in + [_custom(field) for field in CustomField.objects.filter(entity=entity)]


def _custom(field: CustomField) -> dict[str, Any]:
    return {
        "field_code": field.key,
        "field_name": field.name,
        "field_type": field.field_type,
        "options": field.options or None,
        "is_custom_field": True,
        "is_required": field.is_required,
    }


def _field_data(payload: FieldIn) -> dict:
    data = payload.model_dump(exclude_unset=True)
    if "field_name" in data:
        data["name"] = data.pop("field_name")
    return data


def _add_routes(prefix: str, entity: str, writable: bool) -> None:
    title = prefix[0].upper() + prefix[1:]

    @router.get(
        f"/{prefix}Fields",
        response=envelope(FieldOut, many=True),
        operation_id=f"get{title}Fields",
        summary=f"Get all {entity} fields",
    )
    def list_fields(request, page: Query[PageParams]):
        fields = _all_fields(entity)
        start = (
            int(page.cursor)
            if page.cursor and page.cursor.isascii() and page.cursor.isdigit()
            else 0
        )
        end = start + page.limit
        return {
            "success": True,
            "data": fields[start:end],
            "additional_data": {"next_cursor": str(end) if end < len(fields) else None},
        }

    @router.get(
        f"/{prefix}Fields/{{field_code}}",
        response=envelope(FieldOut),
        operation_id=f"get{title}Field",
        summary=f"Get one {entity} field",
    )
    def get_field(request, field_code: str):
        for field in _all_fields(entity):
            if field["field_code"] == field_code:
                return ok(field)
        return ok(_custom(custom_fields.access_custom_field(entity, field_code)))

    if not writable:
        return

    @router.post(
        f"/{prefix}Fields",
        response=envelope(FieldOut),
        operation_id=f"add{title}Field",
        summary=f"Add a custom {entity} field",
    )
    def add_field(request, payload: FieldCreate):
        data = _field_data(payload)
        field = custom_fields.custom_field_create(user=request.auth, entity=entity, data=data)
        return ok(_custom(field))

    @router.patch(
        f"/{prefix}Fields/{{field_code}}",
        response=envelope(FieldOut),
        operation_id=f"update{title}Field",
        summary=f"Update a custom {entity} field",
    )
    def update_field(request, field_code: str, payload: FieldIn):
        field = custom_fields.custom_field_update(
            user=request.auth, entity=entity, key=field_code, data=_field_data(payload)
        )
        return ok(_custom(field))

    @router.delete(
        f"/{prefix}Fields/{{field_code}}",
        response=envelope(DeletedId),
        operation_id=f"delete{title}Field",
        summary=f"Delete a custom {entity} field",
    )
    def delete_field(request, field_code: str):
        field = custom_fields.access_custom_field(entity, field_code)
        custom_fields.custom_field_delete(user=request.auth, entity=entity, key=field_code)
        return ok({"id": field.pk})


for _prefix, _entity in (
    ("deal", "deal"),
    ("person", "person"),
    ("organization", "organization"),
    ("product", "product"),
):
    _add_routes(_prefix, _entity, writable=True)
_add_routes("activity", "activity", writable=False)
