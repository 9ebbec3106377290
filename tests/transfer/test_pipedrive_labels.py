"""Pipedrive's label columns, its email and phone columns per label, and its price columns per
currency: imported without mapping, and kept through Ruche's export then import."""

from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.models import CustomField, Lookup
from ruche.pipelines.models import Deal
from ruche.transfer.exporters import export_all, import_all

# Columns as Pipedrive's export names them ("<Entity> - <Field>", "Person - Email - Work").
ORGS = (
    "Organization - ID,Organization - Name,Organization - Label\n"
    "11,Boulangerie Martin,Client chaud\n"
)
PERSONS = (
    "Person - ID,Person - Name,Person - Label,Person - Email - Work,Person - Email - Home,"
    "Person - Phone - Work,Person - Phone - Mobile,Person - Organization\n"
    "21,Claire Martin,Décideur,claire@martin.fr,claire@gmail.com,+33 4 78 00 00 00,"
    "+33 6 12 34 56 78,Boulangerie Martin\n"
)
DEALS = (
    "Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Label,Organization - Name,"
    "Person - Name,Person - Email - Home,Person - Phone - Mobile\n"
    '31,Fournil neuf,15000,EUR,"Chaud, Prioritaire",Boulangerie Martin,Claire Martin,,\n'
    "32,Pétrin,900,EUR,Froid,Moulin Neuf,Paul Neuf,paul@neuf.fr,+33 6 00 00 00 01\n"
)
PRODUCTS = (
    "Product - Name,Product - Product code,Product - Price USD,Product - Price EUR,Product - Tax\n"
    "Four mixte,FM-1,5000,4500,20\n"
    "Pétrin,PT-2,1200,,5.5\n"
)


def _import_samples(run_import):
    for entity, content in (
        ("organizations", ORGS),
        ("persons", PERSONS),
        ("deals", DEALS),
        ("products", PRODUCTS),
    ):
        _, report = run_import(entity, content, name=f"{entity}.csv", custom_fields="create")
        assert (report.status, report.errors) == ("done", []), entity


def _state():
    org_label = CustomField.objects.get(entity="organization", name="Label").key
    person_label = CustomField.objects.get(entity="person", name="Label").key
    return {
        "orgs": sorted(
            (o.name, o.custom_fields.get(org_label)) for o in Organization.objects.all()
        ),
        "persons": sorted(
            (x.name, x.emails, x.phones, x.custom_fields.get(person_label))
            for x in Person.objects.all()
        ),
        "deals": sorted(
            (d.external_id, d.title, sorted(label.name for label in d.labels.all()))
            for d in Deal.objects.prefetch_related("labels")
        ),
        "products": sorted(Product.objects.values_list("code", "unit_price_minor", "currency")),
    }


EXPECTED = {
    "orgs": [("Boulangerie Martin", "Client chaud"), ("Moulin Neuf", None)],
    "persons": [
        (
            "Claire Martin",
            [
                {"value": "claire@martin.fr", "label": "work", "primary": True},
                {"value": "claire@gmail.com", "label": "home", "primary": False},
            ],
            [
                {"value": "+33 4 78 00 00 00", "label": "work", "primary": True},
                {"value": "+33 6 12 34 56 78", "label": "mobile", "primary": False},
            ],
            "Décideur",
        ),
        (
            "Paul Neuf",
            [{"value": "paul@neuf.fr", "label": "home", "primary": True}],
            [{"value": "+33 6 00 00 00 01", "label": "mobile", "primary": True}],
            None,
        ),
    ],
    "deals": [
        ("31", "Fournil neuf", ["Chaud", "Prioritaire"]),
        ("32", "Pétrin", ["Froid"]),
    ],
    "products": [("FM-1", 450000, "EUR"), ("PT-2", 120000, "USD")],
}


def test_pipedrive_labels_and_prices_import_without_mapping(run_import, admin, stages):
    _import_samples(run_import)
    assert _state() == EXPECTED
    # Chaud, Tiède and Froid are the default labels: only Prioritaire is new.
    assert sorted(Lookup.objects.filter(kind="label").values_list("name", flat=True)) == [
        "Chaud",
        "Froid",
        "Prioritaire",
        "Tiède",
    ]


def test_labels_survive_export_then_import(run_import, admin, stages, tmp_path):
    _import_samples(run_import)
    export_all(tmp_path / "export")
    for model in (Deal, Person, Organization, Product):
        model.objects.all().delete()
    reports = import_all(directory=tmp_path / "export", user=admin)
    assert all(r["status"] == "done" for r in reports.values() if isinstance(r, dict)), reports
    assert _state() == EXPECTED


def test_rerun_updates_deal_labels_and_undo_restores_them(run_import, admin, stages):
    from ruche.transfer.undo import undo_import

    _import_samples(run_import)
    run, report = run_import("deals", "Deal - ID,Deal - Label\n31,Froid\n", name="again.csv")
    assert (report.status, report.updated) == ("done", 1)
    assert [x.name for x in Deal.objects.get(external_id="31").labels.all()] == ["Froid"]
    undo_import(run=run, user=admin)
    labels = Deal.objects.get(external_id="31").labels.order_by("name")
    assert [x.name for x in labels] == ["Chaud", "Prioritaire"]
