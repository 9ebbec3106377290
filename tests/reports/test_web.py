"""The report pages: list, form (errors on the field), report with chart and table, exports,
schedules and alerts; refusals change nothing; a bounded number of queries per page."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from openpyxl import load_workbook

from ruche.core.history import Actor
from ruche.core.models import Visibility
from ruche.pipelines.services import activity_create
from ruche.reports.models import Alert, Report, Schedule
from tests.factories import UserFactory

CUSTOM_2026 = {"period": "custom", "date_from": "2026-01-01", "date_to": "2026-12-31"}


def state(report: Report) -> dict:
    fresh = Report.objects.get(pk=report.pk)
    return model_to_dict(fresh) | {"version": fresh.version, "deleted": fresh.is_deleted}


@pytest.fixture
def won(make_deal, rep, other_rep, usd_rates):
    make_deal(rep, "1000", status="won", won="2026-01-15")
    make_deal(rep, "333.33", currency_code="USD", status="won", won="2026-02-10")
    make_deal(other_rep, "250.55", currency_code="USD", status="won", won="2026-03-05")
    make_deal(other_rep, "40.01", status="won", won="2026-04-02", visible_to=Visibility.OWNER)


@pytest.fixture
def shared(won, admin, make_report):
    return make_report(
        admin, name="CA par commercial", grouping="owner", shared=True, **CUSTOM_2026
    )


def test_the_list_shows_mine_and_the_shared_ones(web_as, rep, admin, make_report, shared):
    mine = make_report(rep, name="Le mien")
    make_report(admin, name="Privé de l'admin")
    page = web_as(rep).get("/reports/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-report="{mine.pk}"' in html and f'data-report="{shared.pk}"' in html
    assert "Privé de l" not in html
    assert "Mes rapports" in html and "Partagé avec tout le monde" in html


def test_the_list_costs_the_same_queries_for_more_reports(
    web_as, rep, make_report, django_assert_max_num_queries
):
    client = web_as(rep)
    make_report(rep, name="Un")
    with django_assert_max_num_queries(6) as few:
        client.get("/reports/")
    for number in range(10):
        make_report(UserFactory(), name=f"Partagé {number}", shared=True)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/reports/").status_code == 200


def test_create_then_read_the_report(web_as, rep, won):
    client = web_as(rep)
    response = client.post(
        "/reports/new/",
        {
            "name": "Gains par mois",
            "kind": "revenue",
            "grouping": "month",
            "chart": "line",
            **CUSTOM_2026,
        },
    )
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
    assert (report.owner, report.grouping, report.chart, report.shared) == (
        rep,
        "month",
        "line",
        False,
    )
    page = client.get(f"/reports/{report.pk}/")
    html = page.content.decode().replace("\u202f", " ").replace("\xa0", " ")
    assert '<th scope="row">2026-02</th><td class="num">1</td><td class="num">300,00 €</td>' in html
    chart = json.loads(
        html.split('id="report-chart-data" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["type"] == "line" and chart["datasets"][0]["data"][:4] == [
        1000.0,
        300.0,
        200.44,
        0.0,
    ]
    assert "vendor/chart.umd.min.js" in html and "reports/report.js" in html


def test_a_bad_form_names_the_field_and_saves_nothing(web_as, rep):
    response = web_as(rep).post(
        "/reports/new/",
        {
            "name": "Entonnoir",
            "kind": "funnel",
            "grouping": "month",
            "chart": "bar",
            "period": "this_year",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-field="grouping">Regroupement : Ce regroupement n\u2019est pas proposé' in html
    response = web_as(rep).post(
        "/reports/new/",
        {"name": "", "kind": "revenue", "grouping": "month", "chart": "bar", "period": "custom"},
    )
    assert response.status_code == 422
    assert 'data-field="name">Nom' in response.content.decode()
    assert Report.objects.count() == 0


def test_custom_dates_are_required_by_name(web_as, rep):
    response = web_as(rep).post(
        "/reports/new/",
        {"name": "A", "kind": "revenue", "grouping": "month", "chart": "bar", "period": "custom"},
    )
    assert response.status_code == 422
    assert (
        'data-field="date_from">Du : Une date (AAAA-MM-JJ) est requise' in response.content.decode()
    )


def test_the_report_page_shows_the_reader_his_own_figures(web_as, rep, shared):
    html = web_as(rep).get(f"/reports/{shared.pk}/").content.decode()
    html = html.replace("\u202f", " ").replace("\xa0", " ")
    assert (
        '<th scope="row">Sarah Sud</th><td class="num">1</td><td class="num">200,44 €</td>' in html
    )
    assert f"/reports/{shared.pk}/edit/" not in html  # not his to edit


@pytest.mark.parametrize(
    ("kind", "grouping"), [("revenue", "owner"), ("win_loss", "month"), ("activities", "owner")]
)
def test_the_report_page_costs_the_same_queries_for_more_rows(
    web_as, admin, make_deal, make_report, django_assert_max_num_queries, kind, grouping
):
    report = make_report(admin, kind=kind, grouping=grouping, **CUSTOM_2026)
    client = web_as(admin)

    def add(month: int):
        owner = UserFactory()
        deal = make_deal(owner, "10", status="won", won=f"2026-{month:02d}-05")
        activity_create(
            actor=Actor.for_user(owner),
            data={"subject": "Appel", "type": "call", "deal_id": deal.pk},
        )

    add(1)
    with django_assert_max_num_queries(25) as few:
        assert client.get(f"/reports/{report.pk}/").status_code == 200
    for month in range(2, 10):
        add(month)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/reports/{report.pk}/")
    assert page.status_code == 200
    assert page.content.decode().count('<th scope="row">') == (12 if grouping == "month" else 9)


def test_a_rep_cannot_edit_or_delete_someone_elses_shared_report(web_as, rep, shared):
    before = state(shared)
    client = web_as(rep)
    assert client.get(f"/reports/{shared.pk}/edit/").status_code == 403
    response = client.post(
        f"/reports/{shared.pk}/edit/",
        {
            "name": "À moi",
            "kind": "revenue",
            "grouping": "month",
            "chart": "bar",
            "period": "this_year",
        },
    )
    assert response.status_code == 403
    assert client.post(f"/reports/{shared.pk}/delete/").status_code == 403
    assert state(shared) == before


def test_a_private_report_is_not_found_by_others(web_as, rep, admin, make_report):
    private = make_report(admin, name="Privé")
    before = state(private)
    client = web_as(rep)
    for url in ("/", "/edit/", "/export.csv"):
        assert client.get(f"/reports/{private.pk}{url}").status_code == 404
    assert client.post(f"/reports/{private.pk}/delete/").status_code == 404
    assert state(private) == before


def test_the_owner_edits_and_deletes(web_as, admin, shared):
    client = web_as(admin)
    response = client.post(
        f"/reports/{shared.pk}/edit/",
        {
            "name": "CA 2026",
            "kind": "win_loss",
            "grouping": "competitor",
            "chart": "table",
            **CUSTOM_2026,
        },
    )
    assert response.status_code == 302
    shared.refresh_from_db()
    assert (shared.name, shared.kind, shared.grouping, shared.shared) == (
        "CA 2026",
        "win_loss",
        "competitor",
        False,  # an unticked box unshares it
    )
    assert client.post(f"/reports/{shared.pk}/delete/").status_code == 302
    assert Report.objects.get(pk=shared.pk).is_deleted


def test_csv_and_xlsx_exports_hold_the_readers_figures(web_as, rep, shared):
    client = web_as(rep)
    response = client.get(f"/reports/{shared.pk}/export.csv")
    assert response["Content-Disposition"] == 'attachment; filename="ca-par-commercial.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["Propriétaire", "Affaires gagnées", "Chiffre d\u2019affaires gagné (EUR)"],
        ["Rémi Nord", "2", "1300.00"],
        ["Sarah Sud", "1", "200.44"],
    ]
    response = client.get(f"/reports/{shared.pk}/export.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [
        ["Propriétaire", "Affaires gagnées", "Chiffre d\u2019affaires gagné (EUR)"],
        ["Rémi Nord", 2, 1300],
        ["Sarah Sud", 1, 200.44],
    ]
    assert client.get(f"/reports/{shared.pk}/export.pdf").status_code == 404


def test_schedule_a_report_from_its_page(web_as, rep, shared):
    client = web_as(rep)
    response = client.post(f"/reports/{shared.pk}/schedules/", {"frequency": "weekly"})
    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert (schedule.owner, schedule.frequency, list(schedule.recipients.all())) == (
        rep,
        "weekly",
        [rep],
    )
    page = client.get(f"/reports/{shared.pk}/").content.decode()
    assert f'data-schedule="{schedule.pk}">Hebdomadaire' in page
    client.post(f"/reports/schedules/{schedule.pk}/remove/")
    assert not Schedule.objects.exists()


def test_alerts_page_saves_and_names_the_missing_field(web_as, manager, rep):
    client = web_as(manager)
    response = client.post(
        "/reports/alerts/",
        {
            "name": "Couverture",
            "kind": "pipeline_coverage",
            "frequency": "weekly",
            "period": "quarter",
        },
    )
    assert response.status_code == 422
    assert (
        'data-field="target_user_id">Commercial : Choisissez un commercial'
        in response.content.decode()
    )
    response = client.post(
        "/reports/alerts/",
        {
            "name": "Couverture",
            "kind": "pipeline_coverage",
            "frequency": "weekly",
            "period": "quarter",
            "target_user_id": rep.pk,
            "min_ratio": "3",
        },
    )
    assert response.status_code == 302
    alert = Alert.objects.get()
    assert (alert.min_ratio, alert.target_user, list(alert.recipients.all())) == (
        Decimal("3.00"),
        rep,
        [manager],
    )
    assert f'data-alert="{alert.pk}"' in client.get("/reports/alerts/").content.decode()
    assert web_as(rep).post(f"/reports/alerts/{alert.pk}/remove/").status_code == 404
    assert client.post(f"/reports/alerts/{alert.pk}/remove/").status_code == 302
    assert not Alert.objects.exists()


def test_a_missing_rate_is_said_not_a_server_error(web_as, admin, make_deal, make_report):
    make_deal(admin, "10", currency_code="GBP", status="won", won="2026-02-02")
    report = make_report(admin, grouping="month", **CUSTOM_2026)
    client = web_as(admin)
    page = client.get(f"/reports/{report.pk}/")
    assert page.status_code == 400
    assert "No exchange rate GBP→EUR on or before 2026-02-02." in page.content.decode()
    response = client.get(f"/reports/{report.pk}/export.csv")
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
