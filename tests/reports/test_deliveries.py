"""Scheduled report emails and alerts against a real SMTP server (aiosmtpd): one email per due
schedule and recipient however often the job runs, the recipient's own figures, and nothing
for an alert whose condition does not hold."""

import datetime as dt

import pytest
from django.core.management import call_command

from ruche.core.currency import exchange_rate_set
from ruche.forecasting.services import quota_set
from ruche.pipelines.models import Stage
from ruche.reports import services
from ruche.reports.deliveries import send_due_deliveries
from ruche.reports.models import Delivery
from ruche.reports.tasks import next_run_time
from tests.reports.conftest import at, set_times

WEDNESDAY = dt.date(2026, 11, 25)


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def subjects(inbox, address):
    return [message["Subject"] for message in inbox.to(address)]


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def go(day: dt.date, hour: int = 8):
        with django_capture_on_commit_callbacks(execute=True):
            return send_due_deliveries(day, at(day.isoformat(), hour))

    return go


@pytest.fixture
def shared_report(make_deal, rep, other_rep, admin, admin_actor, usd_rates):
    make_deal(rep, "1000", status="won", won="2026-01-15")
    make_deal(rep, "333.33", currency_code="USD", status="won", won="2026-02-10")
    make_deal(other_rep, "250.55", currency_code="USD", status="won", won="2026-03-05")
    make_deal(other_rep, "40.01", status="won", won="2026-04-02", visible_to=1)
    return services.report_create(
        actor=admin_actor,
        data={
            "name": "CA par commercial",
            "kind": "revenue",
            "grouping": "owner",
            "period": "custom",
            "date_from": "2026-01-01",
            "date_to": "2026-12-31",
            "shared": True,
        },
    )


@pytest.fixture
def schedules(shared_report, admin_actor, rep, admin, manager):
    return {
        frequency: services.schedule_create(
            actor=admin_actor,
            report_id=shared_report.pk,
            frequency=frequency,
            recipient_ids=[person.pk],
        )
        for frequency, person in (("daily", rep), ("weekly", admin), ("monthly", manager))
    }


def test_two_runs_the_same_day_send_one_email_per_due_schedule(schedules, smtp, run, rep):
    assert run(WEDNESDAY) == {"reports": 3, "alerts": 0, "errors": 0, "retried": 0}
    assert run(WEDNESDAY) == {"reports": 0, "alerts": 0, "errors": 0, "retried": 0}
    assert len(smtp.messages) == 3
    for address in ("rep@ruche.test", "admin@ruche.test", "manager@ruche.test"):
        assert subjects(smtp, address) == ["Rapport : CA par commercial"]
    assert Delivery.objects.filter(status="sent").count() == 3

    run(WEDNESDAY + dt.timedelta(days=1))  # Thursday: the daily one only
    assert len(smtp.to("rep@ruche.test")) == 2 and len(smtp.messages) == 4
    run(dt.date(2026, 11, 30))  # Monday: a new week
    run(dt.date(2026, 11, 30))
    assert len(smtp.to("admin@ruche.test")) == 2 and len(smtp.messages) == 6
    run(dt.date(2026, 12, 1))  # a new month, same week
    assert len(smtp.to("manager@ruche.test")) == 2
    assert len(smtp.to("admin@ruche.test")) == 2
    assert len(smtp.messages) == 8
    periods = set(Delivery.objects.values_list("period", flat=True))
    assert periods == {
        "2026-11-25",
        "2026-11-26",
        "2026-11-30",
        "2026-12-01",
        "2026-W48",
        "2026-W49",
        "2026-11",
        "2026-12",
    }


def test_each_recipient_gets_the_figures_he_may_see(schedules, smtp, run):
    run(WEDNESDAY)
    (to_rep,) = smtp.to("rep@ruche.test")
    (to_admin,) = smtp.to("admin@ruche.test")
    rep_body, admin_body = plain(to_rep.get_content()), plain(to_admin.get_content())
    assert "Rémi Nord | 2 | 1 300,00 €" in rep_body
    assert "Sarah Sud | 1 | 200,44 €" in rep_body  # not the private 40.01 EUR deal
    assert "Sarah Sud | 2 | 240,45 €" in admin_body


def test_a_report_made_private_is_no_longer_sent_to_others(
    schedules, shared_report, admin_actor, smtp, run
):
    services.report_update(actor=admin_actor, report_id=shared_report.pk, data={"shared": False})
    run(WEDNESDAY)
    assert [rcpt for rcpt, _ in smtp.messages] == [["admin@ruche.test"]]


def test_the_command_runs_the_same_job(schedules, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reports_deliver", "--date", "2026-11-25")
        call_command("reports_deliver", "--date", "2026-11-25")
    assert len(smtp.messages) == 3


def test_a_failed_send_is_kept_and_retried_once_smtp_is_back(schedules, smtp, settings, run):
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there
    assert run(WEDNESDAY)["reports"] == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    settings.EMAIL_PORT = port
    assert run(WEDNESDAY) == {"reports": 0, "alerts": 0, "errors": 0, "retried": 3}
    assert len(smtp.messages) == 3


def test_the_daily_run_is_tomorrow_morning():
    now = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)  # 23:30 in Paris
    assert next_run_time(now).isoformat() == "2026-11-26T07:00:00+01:00"


# Alerts -----------------------------------------------------------------------------------------


@pytest.fixture
def quarter_quota(make_deal, rep, admin_actor):
    """Q4 2026: a 10 000 EUR quota, 1 000 won, 5 000 open expected to close in it: the gap is
    9 000 and the coverage 5 000 / 9 000 = 0.56."""
    quota_set(
        actor=admin_actor,
        period="quarter",
        period_start="2026-10-01",
        amount="10000",
        currency="EUR",
        user_id=rep.pk,
    )
    make_deal(rep, "1000", status="won", won="2026-11-02")
    make_deal(rep, "5000", expected_close_date="2026-12-15")


def alert(actor, **data):
    return services.alert_create(actor=actor, data={"name": "Alerte", **data})


def test_coverage_below_the_ratio_alerts_once_and_above_it_sends_nothing(
    quarter_quota, manager_actor, rep, smtp, run
):
    low = alert(
        manager_actor,
        name="Couverture < 3",
        kind="pipeline_coverage",
        target_user_id=rep.pk,
        min_ratio="3",
    )
    alert(
        manager_actor,
        name="Couverture < 0,5",
        kind="pipeline_coverage",
        target_user_id=rep.pk,
        min_ratio="0.5",
    )
    assert run(WEDNESDAY)["alerts"] == 1
    assert run(WEDNESDAY)["alerts"] == 0
    (message,) = smtp.messages
    assert message[0] == ["manager@ruche.test"]
    assert message[1]["Subject"] == "Alerte : Couverture < 3"
    assert (
        "La couverture du pipeline de Rémi Nord pour FY2026-Q4 est de 0,56, sous 3 : "
        "5 000,00 € d\u2019affaires en cours pour un écart de 9 000,00 €."
    ) in plain(message[1].get_content())
    assert list(Delivery.objects.values_list("alert_id", "period")) == [(low.pk, "2026-11-25")]


def test_rotting_deals_alert_lists_them(make_deal, rep, rep_actor, stages, smtp, run):
    Stage.objects.filter(pk=stages[0].pk).update(days_to_rotten=10)
    stale = make_deal(rep, "10", title="Vieille affaire")
    set_times(stale, stage_change_time=at("2026-11-10"))
    fresh = make_deal(rep, "10", title="Affaire récente")
    set_times(fresh, stage_change_time=at("2026-11-20"))
    alert(rep_actor, name="Affaires qui pourrissent", kind="rotting_deals")
    alert(rep_actor, name="Au moins deux", kind="rotting_deals", min_count=2)
    assert run(WEDNESDAY)["alerts"] == 1
    (message,) = smtp.to("rep@ruche.test")
    body = message.get_content()
    assert "- Vieille affaire" in body and "Affaire récente" not in body
    assert run(WEDNESDAY)["alerts"] == 0


def test_quota_gap_alerts_on_its_day_only_once(quarter_quota, manager_actor, rep, smtp, run):
    alert(
        manager_actor,
        name="Écart au 26/11",
        kind="quota_gap",
        target_user_id=rep.pk,
        on_date="2026-11-26",
        max_gap="8999.99",
    )
    alert(
        manager_actor,
        name="Écart toléré",
        kind="quota_gap",
        target_user_id=rep.pk,
        on_date="2026-11-26",
        max_gap="9000",
    )
    assert run(WEDNESDAY)["alerts"] == 0  # not yet its day
    assert run(dt.date(2026, 11, 26))["alerts"] == 1
    assert run(dt.date(2026, 11, 27))["alerts"] == 0
    (message,) = smtp.messages
    assert message[1]["Subject"] == "Alerte : Écart au 26/11"
    assert "un écart de 9 000,00 €" in plain(message[1].get_content())


def test_an_alert_that_does_not_trigger_sends_nothing(make_deal, rep, rep_actor, smtp, run):
    alert(rep_actor, kind="rotting_deals")  # no stage rots
    alert(rep_actor, kind="pipeline_coverage", target_user_id=rep.pk, min_ratio="2")  # no quota
    assert run(WEDNESDAY) == {"reports": 0, "alerts": 0, "errors": 0, "retried": 0}
    assert smtp.messages == [] and Delivery.objects.count() == 0


def test_an_email_is_in_the_recipients_language(schedules, rep, smtp, run):
    rep.locale = "en"
    rep.save(update_fields=["locale"])
    run(WEDNESDAY)
    (message,) = smtp.to("rep@ruche.test")
    assert message["Subject"] == "Report: CA par commercial"
    body = plain(message.get_content())
    assert "Owner | Deals won | Won revenue" in body
    assert "Rémi Nord | 2 | €1,300.00" in body


def test_a_report_without_a_rate_is_counted_and_sent_once_the_rate_exists(
    schedules, make_deal, rep, admin_actor, smtp, run
):
    make_deal(rep, "10", currency_code="GBP", status="won", won="2026-06-01")
    assert run(WEDNESDAY) == {"reports": 0, "alerts": 0, "errors": 3, "retried": 0}
    assert smtp.messages == [] and Delivery.objects.count() == 0
    exchange_rate_set(actor=admin_actor, currency="GBP", valid_from="2026-01-01", rate="1.15")
    assert run(WEDNESDAY)["reports"] == 3
    assert "Rémi Nord | 3 | 1 311,50 €" in plain(smtp.to("rep@ruche.test")[0].get_content())
