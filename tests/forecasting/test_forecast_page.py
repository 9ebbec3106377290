"""The forecast & quota page (/forecasts/): exact figures per rep and team for a period,
forecasts with every revision kept, managers' adjustments hidden from reps, filters, exports
and a bounded number of queries.

Q1 2026 (fiscal year from January). Quotas: rep 10 000 €, other rep 5 000 €, team Nord
15 000 € (its members' quotas add up to 10 000 €: a mismatch), team Sud 5 000 €.
Deals: the rep won 1 000 € (10 Feb) and 2 500,50 $ (5 Mar, x 0,8 = 2 000,40 €) and has 4 000 €
open in stage 2 closing 15 Mar, in Commit; the other rep won 7 000 € (1 Feb) and has 600 €
open closing 1 Feb, in Best case.
"""

# ruff: noqa: F811 (fixtures imported from other test modules are used as parameters)

import csv
import html
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from ruche.core.models import ChangeRecord, Lookup
from ruche.forecasting import services
from ruche.forecasting.models import ForecastAdjustment, ForecastSubmission
from ruche.web import formatting
from tests.web.conftest import web_as  # noqa: F401

pytestmark = pytest.mark.django_db

Q1 = {"period": "quarter", "period_start": "2026-01-01"}
URL = "/forecasts/"


def category(name):
    return Lookup.objects.get(kind=Lookup.Kind.FORECAST_CATEGORY, name=name)


@pytest.fixture
def book(make_deal, usd_rates, admin_actor, rep, other_rep, nord, sud, stages):
    services.quota_set(actor=admin_actor, user_id=rep.pk, amount="10000", **Q1)
    services.quota_set(actor=admin_actor, user_id=other_rep.pk, amount="5000", **Q1)
    services.quota_set(actor=admin_actor, team_id=nord.pk, amount="15000", **Q1)
    services.quota_set(actor=admin_actor, team_id=sud.pk, amount="5000", **Q1)
    make_deal(rep, "1000", status="won", won="2026-02-10")
    make_deal(rep, "2500.50", currency_code="USD", status="won", won="2026-03-05")
    make_deal(
        rep,
        "4000",
        stage=stages[1],
        expected_close_date="2026-03-15",
        forecast_category_id=category("Commit").pk,
    )
    make_deal(other_rep, "7000", status="won", won="2026-02-01")
    make_deal(
        other_rep,
        "600",
        stage=stages[1],
        expected_close_date="2026-02-01",
        forecast_category_id=category("Best case").pk,
    )


def plain(text: str) -> str:
    return html.unescape(text).replace("\u202f", " ").replace("\xa0", " ").strip()


def cells(page: str, kind: str, pk: int) -> dict[str, str]:
    row = re.search(rf'<tr data-{kind}="{pk}">(.*?)</tr>', page, re.S)
    assert row, (kind, pk)
    found = re.findall(r'<td class="num" (data-[a-z-]+)>([^<]*)</td>', row.group(1))
    values: dict[str, str] = {}
    for name, text in found:
        key = name.removeprefix("data-")
        values[key] = f"{values[key]} | {plain(text)}" if key in values else plain(text)
    return values


def euros(amount: str) -> str:
    return plain(formatting.major_money(Decimal(amount), "EUR")) if amount else ""


def weighted(value: int, stage) -> str:
    with_fr = Decimal(value * stage.deal_probability) / 100
    return euros(str(with_fr.quantize(Decimal("0.01"))))


def test_each_rep_and_team_shows_quota_won_gap_pipeline_and_categories(
    book, web_as, admin, rep, other_rep, nord, sud, stages
):
    page = web_as(admin).get(URL, Q1).content.decode()
    assert cells(page, "user", rep.pk) == {
        "quota": "10 000,00 €",
        "won": "3 000,40 €",
        "gap": "6 999,60 €",
        "pipeline": "4 000,00 €",
        "weighted": weighted(4000, stages[1]),
        # Pipeline, Best case, Commit, Omitted (the categories in their order).
        "category": "0,00 € | 0,00 € | 4 000,00 € | 0,00 €",
        "commit": "—",
        "best-case": "—",
        "revisions": "0",
        "adjustment": "—",
        "final": "—",
    }
    other = cells(page, "user", other_rep.pk)
    assert (other["won"], other["gap"], other["pipeline"]) == (
        "7 000,00 €",
        "-2 000,00 €",
        "600,00 €",
    )
    assert other["category"] == "0,00 € | 600,00 € | 0,00 € | 0,00 €"
    team = cells(page, "team", nord.pk)
    assert (team["quota"], team["members"], team["won"], team["gap"]) == (
        "15 000,00 €",
        "10 000,00 €",
        "3 000,40 €",
        "11 999,60 €",
    )
    nord_row = re.search(rf'<tr data-team="{nord.pk}">.*?</tr>', page, re.S).group(0)
    assert "data-mismatch" in nord_row
    sud_row = re.search(rf'<tr data-team="{sud.pk}">.*?</tr>', page, re.S).group(0)
    assert "data-mismatch" not in sud_row


def test_a_rep_submits_and_revises_every_revision_kept(book, web_as, rep):
    client = web_as(rep)
    first = client.post("/forecasts/submit/", Q1 | {"commit": "9 000", "best_case": ""})
    assert (
        first.status_code == 302
        and first["Location"] == f"{URL}?period=quarter&period_start=2026-01-01"
    )
    client.post(
        "/forecasts/submit/",
        Q1 | {"commit": "9 500,00", "best_case": "12000", "note": "Deux signatures"},
    )
    revisions = ForecastSubmission.objects.filter(user=rep).order_by("revision")
    assert [(r.revision, r.commit_minor, r.best_case_minor) for r in revisions] == [
        (1, 900_000, None),
        (2, 950_000, 1_200_000),
    ]
    page = client.get(URL, Q1).content.decode()
    mine = cells(page, "user", rep.pk)
    assert (mine["commit"], mine["best-case"], mine["revisions"]) == (
        "9 500,00 €",
        "12 000,00 €",
        "2",
    )
    assert page.count('<tr data-revision="') == 2
    assert "Deux signatures" in page


def test_a_refused_forecast_names_the_field_and_writes_nothing(book, web_as, rep):
    before = ChangeRecord.objects.count()
    response = web_as(rep).post("/forecasts/submit/", Q1 | {"commit": "5000", "best_case": "100"})
    assert response.status_code == 422
    assert "The best case cannot be below the commit." in response.content.decode()
    response = web_as(rep).post("/forecasts/submit/", Q1 | {"commit": "beaucoup"})
    assert response.status_code == 422 and "commit" in response.content.decode()
    response = web_as(rep).post("/forecasts/submit/", {"period": "week", "commit": "5"})
    assert response.status_code == 400
    assert "Période : un mois, un trimestre ou une année." in response.content.decode()
    assert not ForecastSubmission.objects.exists() and ChangeRecord.objects.count() == before


def test_a_manager_adjusts_and_only_managers_see_it(book, web_as, manager, rep):
    web_as(rep).post("/forecasts/submit/", Q1 | {"commit": "9000"})
    response = web_as(manager).post(
        "/forecasts/adjust/", Q1 | {"user": rep.pk, "amount": "8 000", "note": "Prudence"}
    )
    assert response.status_code == 302
    adjustment = ForecastAdjustment.objects.get()
    assert (adjustment.user_id, adjustment.amount_minor, adjustment.adjusted_by_id) == (
        rep.pk,
        800_000,
        manager.pk,
    )
    page = web_as(manager).get(URL, Q1).content.decode()
    row = cells(page, "user", rep.pk)
    assert (row["commit"], row["adjustment"], row["final"]) == (
        "9 000,00 €",
        "8 000,00 €",
        "8 000,00 €",
    )
    assert plain(re.search(r"data-total-adjusted>([^<]*)<", page).group(1)) == "8 000,00 €"
    assert plain(re.search(r"data-total-commit>([^<]*)<", page).group(1)) == "9 000,00 €"
    # The rep sees their own forecast, never the adjustment.
    page = web_as(rep).get(URL, Q1).content.decode()
    row = cells(page, "user", rep.pk)
    assert row["commit"] == "9 000,00 €" and "adjustment" not in row and "final" not in row
    assert "8 000,00" not in plain(page) and "Prudence" not in page
    assert "data-total-adjusted" not in page and 'action="/forecasts/adjust/"' not in page


def test_a_rep_cannot_adjust_and_nothing_is_written(book, web_as, rep, other_rep):
    response = web_as(rep).post("/forecasts/adjust/", Q1 | {"user": other_rep.pk, "amount": "1"})
    assert response.status_code == 403
    assert not ForecastAdjustment.objects.exists()


def test_a_manager_sees_only_their_team(book, web_as, manager, rep, other_rep, nord, sud):
    page = web_as(manager).get(URL, Q1).content.decode()
    assert f'data-user="{rep.pk}"' in page and f'data-user="{other_rep.pk}"' not in page
    assert f'data-team="{nord.pk}"' in page and f'data-team="{sud.pk}"' not in page


def test_filters_team_and_currency(book, web_as, admin, rep, other_rep, nord):
    page = web_as(admin).get(URL, Q1 | {"team": nord.pk}).content.decode()
    assert f'data-user="{rep.pk}"' in page and f'data-user="{other_rep.pk}"' not in page
    # In USD: only the USD deal, unconverted; quotas set in euros are left out.
    page = web_as(admin).get(URL, Q1 | {"currency": "usd"}).content.decode()
    row = cells(page, "user", rep.pk)
    assert (row["quota"], row["won"], row["pipeline"]) == ("—", "2 500,50 $US", "0,00 $US")
    response = web_as(admin).get(URL, Q1 | {"currency": "EURO"})
    assert response.status_code == 400
    assert "Devise : un code ISO de trois lettres, comme EUR." in response.content.decode()
    response = web_as(admin).get(URL, {"period_start": "2026-02-30"})
    assert response.status_code == 400
    assert "Début de période : saisissez une date valide (AAAA-MM-JJ)." in response.content.decode()


def test_any_day_of_the_period_names_it(book, web_as, admin, rep):
    page = (
        web_as(admin).get(URL, {"period": "quarter", "period_start": "2026-02-17"}).content.decode()
    )
    assert cells(page, "user", rep.pk)["won"] == "3 000,40 €"
    page = (
        web_as(admin).get(URL, {"period": "month", "period_start": "2026-03-31"}).content.decode()
    )
    assert cells(page, "user", rep.pk)["won"] == "2 000,40 €"


def test_exports_csv_and_xlsx(book, web_as, admin, rep, nord, stages):
    web_as(rep).post("/forecasts/submit/", Q1 | {"commit": "9000", "best_case": "9500"})
    response = web_as(admin).get(URL, Q1 | {"team": nord.pk, "format": "csv"})
    assert response.status_code == 200
    assert (
        response["Content-Disposition"] == 'attachment; filename="forecast-quarter-2026-01-01.csv"'
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Type", "Nom", "Quota", "Gagnées", "Écart", "Pipeline", "Pipeline pondéré",
        "Pipeline", "Best case", "Commit", "Omitted",
        "Prévision (engagement)", "Meilleur cas", "Chiffre du manager",
        "Écart d\u2019objectif", "Devise",
    ]  # fmt: skip
    weighted_value = str(
        (Decimal(4000 * stages[1].deal_probability) / 100).quantize(Decimal("0.01"))
    )
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name[rep.name] == [
        "Commercial", rep.name, "10000.00", "3000.40", "6999.60", "4000.00", weighted_value,
        "0.00", "0.00", "4000.00", "0.00", "9000.00", "9500.00", "9000.00", "", "EUR",
    ]  # fmt: skip
    assert by_name[nord.name][0] == "Équipe" and by_name[nord.name][14] == "Oui"
    response = web_as(admin).get(URL, Q1 | {"team": nord.pk, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Type", "Nom", "Quota"]
    rep_row = next(row for row in values if row[1] == rep.name)
    assert rep_row[2:5] == [10000, 3000.4, 6999.6]


def test_a_rep_export_has_no_manager_column(book, web_as, rep):
    response = web_as(rep).get(URL, Q1 | {"format": "csv"})
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert "Chiffre du manager" not in header


def test_queries_do_not_grow_with_rows(
    book, make_deal, web_as, admin, rep, other_rep, stages, django_assert_max_num_queries
):
    client = web_as(admin)
    client.get(URL, Q1)
    # Session, user, company, teams and users, quotas, two GROUP BYs per rep and per team (and
    # the USD rates), latest forecasts, their counts and adjustments, categories, revisions.
    with django_assert_max_num_queries(22) as few:
        assert client.get(URL, Q1).status_code == 200
    for i in range(15):
        make_deal(rep, str(100 + i), status="won", won="2026-02-02")
        make_deal(other_rep, "50", stage=stages[i % 3], expected_close_date="2026-03-01")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(URL, Q1).status_code == 200
