import datetime as dt

from django.core.management import call_command

from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.models import ChangeRecord, CustomField
from ruche.forecasting.models import MrrTally, StageEntryTally, StageStayTally
from ruche.forecasting.mrr_tallies import MEASURES as MRR_MEASURES
from ruche.forecasting.stage_tallies import ENTRY_MEASURES, STAY_MEASURES
from ruche.forecasting.stage_tallies import KEYS as TALLY_KEYS
from ruche.pipelines.models import Activity, Deal, DealLine, Note, StageEntry
from ruche.transfer.exporters import export_all, import_all
from ruche.transfer.importers import Importer
from ruche.transfer.models import ImportRun
from ruche.transfer.tasks import request_cancel
from ruche.transfer.tasks import run_import as run_import_task

PIPEDRIVE_ORGS = (
    "Organization - ID,Organization - Name,Organization - Address,Organization - Owner,"
    "Organization - Nombre de fours\n"
    '11,Boulangerie Martin,"3 rue des Lilas, Lyon",Rémi Nord,3\n'
)
PIPEDRIVE_PERSONS = (
    "Person - ID,Person - Name,Person - Email - Work,Person - Phone - Work,Person - Organization\n"
    "21,Claire Martin,claire@martin.fr,+33 4 78 00 00 00,Boulangerie Martin\n"
)
PIPEDRIVE_DEALS = (
    "Deal - ID,Deal - Title,Deal - Value,Deal - Currency,Deal - Stage,Deal - Status,"
    "Deal - Owner,Deal - Won time,Deal - Lost time,Deal - Lost reason,Organization - Name,"
    "Person - Name,Person - Email,Deal - Deal created,Deal - Budget validé\n"
    "31,Fournil neuf,15000,EUR,Negotiation,Won,Rémi Nord,2024-05-02 10:00:00,,,"
    "Boulangerie Martin,Claire Martin,claire@martin.fr,2024-03-01 09:00:00,oui\n"
    "32,Four à pain,8000.5,EUR,Meeting,Lost,Rémi Nord,,2024-06-10 16:30:00,Parti chez un "
    "concurrent,Boulangerie Martin,Claire Martin,claire@martin.fr,2024-04-01 09:00:00,non\n"
    "33,Entretien,1200,EUR,Lead,Open,Rémi Nord,,,,Boulangerie Martin,,,2024-04-05 09:00:00,\n"
)
PIPEDRIVE_PRODUCTS = (
    "Product - Name,Product - Product code,Product - Unit,Product - Tax,Product - Price\n"
    "Four mixte,FM-1,pièce,20,4500\n"
)
PIPEDRIVE_ACTIVITIES = (
    "Activity - Subject,Activity - Type,Activity - Due date,Activity - Due time,"
    "Activity - Duration,Activity - Done,Activity - Deal,Activity - Assigned to user\n"
    "Démo,Meeting,2024-03-10,14:00,01:00,Done,Fournil neuf,Rémi Nord\n"
)
PIPEDRIVE_NOTES = "Note - Content,Note - Deal,Note - Add time\nTrès chaud,Fournil neuf,2024-03-02\n"


def test_pipedrive_exports_import_without_mapping(run_import, admin, rep, stages):
    for entity, content in (
        ("organizations", PIPEDRIVE_ORGS),
        ("persons", PIPEDRIVE_PERSONS),
        ("deals", PIPEDRIVE_DEALS),
        ("products", PIPEDRIVE_PRODUCTS),
        ("activities", PIPEDRIVE_ACTIVITIES),
        ("notes", PIPEDRIVE_NOTES),
    ):
        _, report = run_import(entity, content, name=f"{entity}.csv", custom_fields="create")
        assert (report.status, report.errors) == ("done", []), entity
        assert report.created == report.rows, entity
    org = Organization.objects.get()
    sector = CustomField.objects.get(entity="organization")
    assert (org.name, org.external_id, org.owner, org.custom_fields) == (
        "Boulangerie Martin",
        "11",
        rep,
        {sector.key: "3"},
    )
    person = Person.objects.get()
    assert (person.org, person.external_id, person.phones[0]["value"]) == (
        org,
        "21",
        "+33 4 78 00 00 00",
    )
    deals = {d.external_id: d for d in Deal.objects.all()}
    budget = CustomField.objects.get(entity="deal", name="Budget validé")
    won, lost, open_ = deals["31"], deals["32"], deals["33"]
    paris = dt.timezone(dt.timedelta(hours=2))
    assert (won.status, won.won_time, won.value_minor, won.org, won.person) == (
        "won",
        dt.datetime(2024, 5, 2, 10, tzinfo=paris),
        1500000,
        org,
        person,
    )
    assert won.custom_fields == {budget.key: "oui"}
    assert (lost.status, lost.lost_reason.name, lost.value_minor) == (
        "lost",
        "Parti chez un concurrent",
        800050,
    )
    assert lost.lost_time == dt.datetime(2024, 6, 10, 16, 30, tzinfo=paris)
    assert (open_.status, open_.person) == ("open", None)
    product = Product.objects.get()
    assert (product.code, product.unit_price_minor, product.vat_rate) == ("FM-1", 450000, 20)
    activity = Activity.objects.get()
    assert (activity.deal, activity.done, activity.duration_minutes, activity.type) == (
        won,
        True,
        60,
        "meeting",
    )
    assert Note.objects.get().deal == won


def _snapshot():
    def rows(model, fields):
        return sorted(model.objects.values_list(*fields))

    return {
        "orgs": rows(
            Organization,
            ["name", "city", "siren", "external_id", "owner__email", "visible_to", "add_time"],
        ),
        "persons": rows(Person, ["name", "emails", "org__name", "owner__email", "external_id"]),
        "deals": rows(
            Deal,
            [
                "title",
                "value_minor",
                "currency",
                "stage__name",
                "status",
                "owner__email",
                "org__name",
                "person__name",
                "expected_close_date",
                "probability",
                "lost_reason__name",
                "add_time",
                "won_time",
                "lost_time",
                "close_time",
                "stage_change_time",
                "external_id",
                "custom_fields",
                "revenue_type",
                "recurring_monthly_minor",
                "recurring_term_months",
                "recurring_start_date",
            ],
        ),
        "lines": rows(
            DealLine,
            [
                "deal__title",
                "product__code",
                "name",
                "quantity",
                "unit_price_minor",
                "total_minor",
                "vat_minor",
            ],
        ),
        "entries": rows(
            StageEntry, ["deal__title", "stage__name", "from_stage__name", "entered_at", "left_at"]
        ),
        "activities": rows(
            Activity,
            ["subject", "deal__title", "done", "due_date", "duration_minutes", "owner__email"],
        ),
        "notes": rows(Note, ["content", "deal__title", "add_time"]),
        "products": rows(Product, ["name", "code", "unit_price_minor", "vat_rate"]),
        "total": sum(Deal.objects.values_list("value_minor", flat=True)),
    }


def _tallies() -> tuple[list, list, list]:
    return (
        sorted(StageEntryTally.objects.values_list(*TALLY_KEYS, "prev_day", *ENTRY_MEASURES)),
        sorted(StageStayTally.objects.values_list(*TALLY_KEYS, *STAY_MEASURES)),
        sorted(MrrTally.objects.values_list("month", "currency", *MRR_MEASURES)),
    )


def test_export_then_import_gives_the_same_records(
    run_import, admin, rep, stages, tmp_path, django_db_blocker
):
    for entity, content in (
        ("organizations", PIPEDRIVE_ORGS),
        ("persons", PIPEDRIVE_PERSONS),
        ("deals", PIPEDRIVE_DEALS),
        ("products", PIPEDRIVE_PRODUCTS),
        ("activities", PIPEDRIVE_ACTIVITIES),
        ("notes", PIPEDRIVE_NOTES),
    ):
        run_import(entity, content, name=f"{entity}.csv", custom_fields="create")
    from ruche.core.history import Actor
    from ruche.pipelines.services import deal_line_add, deal_update

    deal = Deal.objects.get(external_id="33")
    deal_line_add(
        actor=Actor.for_user(admin),
        deal_id=deal.pk,
        data={"product_id": Product.objects.get().pk, "quantity": "2"},
    )
    # The won deal is a recurring contract: 150.00 a month for a year from June 2024.
    deal_update(
        actor=Actor.for_user(admin),
        deal_id=Deal.objects.get(external_id="31").pk,
        data={
            "revenue_type": "recurring",
            "recurring_monthly": "150.00",
            "recurring_term_months": 12,
            "recurring_start_date": dt.date(2024, 6, 1),
        },
    )
    before = _snapshot()
    assert ("recurring", 15000, 12, dt.date(2024, 6, 1)) in [d[-4:] for d in before["deals"]]
    won = Deal.objects.get(external_id="31")
    won_history = list(
        ChangeRecord.objects.filter(entity="deal", entity_id=won.pk).values_list(
            "event", "field", "new_value", "actor_label", "time"
        )
    )
    counts = export_all(tmp_path / "export")
    assert counts["deals"] == 3 and counts["deal_lines"] == 1
    tallies = _tallies()
    assert tallies[0], "the imported deals' stage entries are tallied"
    june_2024, june_2025 = 2024 * 12 + 5, 2025 * 12 + 5
    assert tallies[2] == [
        (june_2024, "EUR", 15000, 15000, 0, 0, 0),
        (june_2025, "EUR", -15000, 0, 0, 0, 15000),
    ], "the contract's MRR is tallied: new in its first month, churned after its term"
    for model in (Note, Activity, DealLine, StageEntry, Deal, Person, Organization, Product):
        model.objects.all().delete()
    for model in (StageEntryTally, StageStayTally, MrrTally):
        model.objects.all().delete()
    reports = import_all(directory=tmp_path / "export", user=admin)
    assert {k: r["status"] for k, r in reports.items() if isinstance(r, dict)} == {
        k: "done"
        for k in (
            "organizations",
            "persons",
            "products",
            "deals",
            "deal_lines",
            "activities",
            "notes",
        )
    }, reports
    assert _snapshot() == before
    # The stage tallies too, once: the deals were tallied without entries, then with them;
    # and the MRR tally, the contract read back with its monthly amount, term and start.
    assert _tallies() == tallies
    # The history comes back too, attached to the new ids (after the entries of the import
    # that read the export back).
    new_won = Deal.objects.get(external_id="31")
    labels = {label for *_, label, _ in won_history}
    restored = list(
        ChangeRecord.objects.filter(
            entity="deal", entity_id=new_won.pk, actor_label__in=labels
        ).values_list("event", "field", "new_value", "actor_label", "time")
    )
    assert restored == won_history


def test_background_task_and_cancel(admin, stages, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("Titre\nA\nB\n")
    run = ImportRun.objects.create(
        user=admin, entity="deals", file_path=str(path), mapping={"entity": "deals"}
    )
    result = run_import_task.call(run.pk)
    run.refresh_from_db()
    assert (run.status, run.rows_total, run.rows_done, result["created"]) == ("done", 2, 2, 2)
    assert run_import_task.call(run.pk) == run.report  # running twice changes nothing
    other = ImportRun.objects.create(
        user=admin, entity="deals", file_path=str(path), mapping={"entity": "deals"}
    )
    request_cancel(other)
    run_import_task.call(other.pk)
    other.refresh_from_db()
    assert (other.status, Deal.objects.count()) == ("cancelled", 2)


def test_cli_export_import_all(admin, stages, tmp_path, capsys):
    call_command("export", "all", str(tmp_path / "x"), "--json")
    assert '"deals": 0' in capsys.readouterr().out
    call_command("import", "all", str(tmp_path / "x"), "--json")
    assert Importer is not None
