"""A deal's recurring contract from a CSV: the monthly amount (in the deal's currency), the term
in months and the start date, under French or English headers; bad cells refused with their
column and line and nothing written; an update goes through deal_update, so the MRR tally
follows."""

import datetime as dt

from ruche.core.models import ChangeRecord
from ruche.forecasting.models import MrrTally
from ruche.forecasting.mrr_tallies import MEASURES
from ruche.pipelines.models import Deal
from ruche.transfer.mapping import propose
from ruche.transfer.models import ImportRun
from ruche.transfer.undo import undo_import

CONTRACTS = (
    "Réf;Titre;Gagné le;Type de revenu;Mensualité;Durée (mois);Date de début\n"
    "R1;Maintenance;2024-05-02 10:00;récurrent;150,50 €;12;01/06/2024\n"
    "R2;Hébergement;2024-05-20 10:00;abonnement;99;;\n"
    "R3;Installation;2024-05-21 10:00;ponctuel;;;\n"
)
MAY_2024, JUNE_2024 = 2024 * 12 + 4, 2024 * 12 + 5


def _mrr() -> list[tuple]:
    return sorted(MrrTally.objects.values_list("month", "currency", *MEASURES))


def _contracts() -> dict[str, tuple]:
    return {
        d.external_id: (
            d.status,
            d.currency,
            d.revenue_type,
            d.recurring_monthly_minor,
            d.recurring_term_months,
            d.recurring_start_date,
        )
        for d in Deal.objects.all()
    }


def test_headers_are_proposed_in_french_and_english():
    headers = ["Mensualité", "Durée (mois)", "Date de début", "Type de revenu"]
    assert propose("deals", headers) == {
        "Mensualité": "recurring_monthly",
        "Durée (mois)": "recurring_term_months",
        "Date de début": "recurring_start_date",
        "Type de revenu": "revenue_type",
    }
    english = ["MRR", "Term (months)", "Start date", "Revenue type"]
    assert list(propose("deals", english).values()) == [
        "recurring_monthly",
        "recurring_term_months",
        "recurring_start_date",
        "revenue_type",
    ]
    assert propose("deals", ["Montant mensuel"]) == {"Montant mensuel": "recurring_monthly"}
    # Pipedrive's MRR is computed from a deal's products: left out, as before.
    assert propose("deals", ["Deal - Title", "Deal - MRR"]) == {"Deal - Title": "title"}


def test_contracts_are_imported_with_exact_values_and_tallied(run_import, stages):
    _, report = run_import("deals", CONTRACTS)
    assert (report.status, report.errors, report.created) == ("done", [], 3)
    assert _contracts() == {
        "R1": ("won", "EUR", "recurring", 15050, 12, dt.date(2024, 6, 1)),
        "R2": ("won", "EUR", "recurring", 9900, None, None),
        "R3": ("won", "EUR", "one_off", None, None, None),
    }
    created = ChangeRecord.objects.get(
        entity="deal", entity_id=Deal.objects.get(external_id="R1").pk, event="created"
    )
    assert created.new_value["recurring_monthly_minor"] == 15050
    # R2 from the month it was won, without end; R1 from its start date, for 12 months.
    assert _mrr() == [
        (MAY_2024, "EUR", 9900, 9900, 0, 0, 0),
        (JUNE_2024, "EUR", 15050, 15050, 0, 0, 0),
        (JUNE_2024 + 12, "EUR", -15050, 0, 0, 0, 15050),
    ]


def test_monthly_amount_in_the_deals_currency(run_import, stages):
    _, report = run_import(
        "deals",
        "Titre;Devise;Type de revenu;MRR\nA;JPY;recurring;1 500\nB;;recurring;20 USD\n",
    )
    assert (report.status, report.errors) == ("done", [])
    deals = {d.title: (d.currency, d.recurring_monthly_minor) for d in Deal.objects.all()}
    assert deals == {"A": ("JPY", 1500), "B": ("USD", 2000)}


def test_bad_cells_are_refused_with_their_column_and_nothing_is_written(run_import, stages):
    _, report = run_import(
        "deals",
        "Titre;Devise;Type de revenu;Mensualité;Durée (mois);Date de début\n"
        "A;EUR;recurring;abc;12;\n"
        "B;EUR;recurring;100;-3;\n"
        "C;EUR;recurring;100 $;1;\n"
        "D;EUR;recurring;-5;;\n"
        "E;EUR;recurring;10;douze;\n"
        "F;JPY;recurring;10,5;;\n"
        "G;EUR;recurring;10;;32/13/2024\n"
        "H;EUR;annuel;10;;\n"
        "I;EUR;recurring;10;0;\n"
        "J;EUR;recurring;10;12 mois;01/06/2024\n",
    )
    assert report.status == "invalid"
    assert [(e["line"], e["column"], e["reason"]) for e in report.errors] == [
        (2, "Mensualité", "'abc' is not an amount."),
        (3, "Durée (mois)", "A term is 1 to 600 months, not '-3'."),
        (4, "Mensualité", "The monthly amount is in USD and the deal in EUR."),
        (5, "Mensualité", "A monthly amount cannot be negative."),
        (6, "Durée (mois)", "'douze' is not a number of months."),
        (7, "Mensualité", "JPY amounts have at most 0 decimals."),
        (8, "Date de début", "'32/13/2024' is not a date: there is no month 13."),
        (9, "Type de revenu", "Unknown revenue type 'annuel': one_off, recurring or services."),
        (10, "Durée (mois)", "A term is 1 to 600 months, not '0'."),
    ]
    deal_history = ChangeRecord.objects.filter(entity="deal")
    assert (Deal.objects.count(), deal_history.count(), _mrr()) == (0, 0, [])


def test_an_update_goes_through_deal_update_and_the_mrr_tally_follows(run_import, admin, stages):
    run_import("deals", CONTRACTS)
    run, report = run_import(
        "deals", "Réf;Mensualité;Durée (mois)\nR1;200;24\nR3;;\n", name="update.csv"
    )
    assert (report.status, report.errors, report.updated) == ("done", [], 2)
    contracts = _contracts()
    assert contracts["R1"] == ("won", "EUR", "recurring", 20000, 24, dt.date(2024, 6, 1))
    assert contracts["R3"] == ("won", "EUR", "one_off", None, None, None)  # empty cells: kept
    deal = Deal.objects.get(external_id="R1")
    changed = ChangeRecord.objects.filter(
        entity="deal", entity_id=deal.pk, actor_label=f"import #{run.pk}"
    )
    assert sorted(changed.values_list("field", "old_value", "new_value")) == [
        ("recurring_monthly_minor", 15050, 20000),
        ("recurring_term_months", 12, 24),
    ]
    assert _mrr() == [
        (MAY_2024, "EUR", 9900, 9900, 0, 0, 0),
        (JUNE_2024, "EUR", 20000, 20000, 0, 0, 0),
        (JUNE_2024 + 24, "EUR", -20000, 0, 0, 0, 20000),
    ]
    undo_import(run=ImportRun.objects.get(pk=run.pk), user=admin)
    assert _contracts()["R1"] == ("won", "EUR", "recurring", 15050, 12, dt.date(2024, 6, 1))
    assert _mrr()[1:] == [
        (JUNE_2024, "EUR", 15050, 15050, 0, 0, 0),
        (JUNE_2024 + 12, "EUR", -15050, 0, 0, 0, 15050),
    ]


def test_a_bad_row_after_an_update_leaves_the_updated_deal_as_it_was(run_import, stages):
    run_import("deals", CONTRACTS)
    before, tally = _contracts(), _mrr()
    _, report = run_import(
        "deals", "Réf;Mensualité;Durée (mois)\nR1;300;36\nR2;50;-1\n", name="update.csv"
    )
    assert report.status == "invalid"
    assert [(e["line"], e["column"]) for e in report.errors] == [(3, "Durée (mois)")]
    assert (_contracts(), _mrr()) == (before, tally)
