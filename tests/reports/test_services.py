"""Saving reports, schedules and alerts: each bad input refused by the field it names, refused
changes leave everything as it was, and only the owner changes a report."""

import datetime as dt

import pytest
from django.forms.models import model_to_dict

from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.models import ChangeRecord
from ruche.reports import services
from ruche.reports.models import Alert, Report, Schedule


def state(report: Report) -> dict:
    fresh = Report.objects.get(pk=report.pk)
    return model_to_dict(fresh) | {"version": fresh.version, "deleted": fresh.is_deleted}


@pytest.fixture
def shared(admin, make_report):
    return make_report(admin, name="Partagé", grouping="owner", shared=True)


def test_create_records_the_values_and_defaults(rep, rep_actor):
    report = services.report_create(actor=rep_actor, data={"name": "  CA  ", "kind": "funnel"})
    assert (report.name, report.grouping, report.chart, report.period) == (
        "CA",
        "stage",
        "bar",
        "this_month",
    )
    assert (report.owner, report.shared, report.version) == (rep, False, 1)
    (created,) = ChangeRecord.objects.filter(entity="report", entity_id=report.pk)
    assert created.event == "created" and created.new_value["name"] == "CA"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "kind": "revenue"}, "name"),
        ({"name": "x" * 121, "kind": "revenue"}, "name"),
        ({"name": "A", "kind": "sales"}, "kind"),
        ({"name": "A", "kind": "revenue", "grouping": "type"}, "grouping"),
        ({"name": "A", "kind": "funnel", "grouping": "month"}, "grouping"),
        ({"name": "A", "kind": "revenue", "chart": "donut"}, "chart"),
        ({"name": "A", "kind": "revenue", "period": "forever"}, "period"),
        ({"name": "A", "kind": "revenue", "period": "custom"}, "date_from"),
        (
            {"name": "A", "kind": "revenue", "period": "custom", "date_from": "2026-13-01"},
            "date_from",
        ),
        (
            {
                "name": "A",
                "kind": "revenue",
                "period": "custom",
                "date_from": "2026-02-01",
                "date_to": "2026-01-31",
            },
            "date_to",
        ),
        ({"name": "A", "kind": "revenue", "shared": "yes"}, "shared"),
        ({"name": "A", "kind": "revenue", "filter_owner_id": 999999}, "filter_owner_id"),
        ({"name": "A", "kind": "revenue", "filter_team_id": 999999}, "filter_team_id"),
        ({"name": "A", "kind": "revenue", "filter_pipeline_id": "1"}, "filter_pipeline_id"),
    ],
)
def test_bad_input_is_refused_by_field_and_creates_nothing(rep_actor, data, field):
    with pytest.raises(ValidationError) as refused:
        services.report_create(actor=rep_actor, data=data)
    assert list(refused.value.field_errors) == [field]
    assert Report.objects.count() == 0 and ChangeRecord.objects.filter(entity="report").count() == 0


def test_the_owner_updates_with_history_and_a_version(admin_actor, shared):
    services.report_update(
        actor=admin_actor,
        report_id=shared.pk,
        data={"kind": "win_loss", "grouping": "competitor", "chart": "pie"},
        expected_version=1,
    )
    shared.refresh_from_db()
    assert (shared.kind, shared.grouping, shared.chart, shared.version) == (
        "win_loss",
        "competitor",
        "pie",
        2,
    )
    changes = ChangeRecord.objects.filter(entity="report", event="updated")
    assert sorted(changes.values_list("field", flat=True)) == ["chart", "grouping", "kind"]


def test_changing_the_kind_keeps_a_grouping_it_offers(admin_actor, shared):
    services.report_update(actor=admin_actor, report_id=shared.pk, data={"kind": "funnel"})
    shared.refresh_from_db()
    assert shared.grouping == "stage"  # "owner" is not a funnel grouping


def test_a_rep_cannot_change_or_delete_someone_elses_shared_report(rep_actor, shared):
    before = state(shared)
    history = ChangeRecord.objects.count()
    with pytest.raises(PermissionDenied):
        services.report_update(actor=rep_actor, report_id=shared.pk, data={"name": "À moi"})
    with pytest.raises(PermissionDenied):
        services.report_delete(actor=rep_actor, report_id=shared.pk)
    assert state(shared) == before and ChangeRecord.objects.count() == history


def test_a_private_report_is_not_found_by_anyone_else(admin_actor, rep, make_report):
    private = make_report(rep, name="Privé")
    before = state(private)
    with pytest.raises(NotFound):
        services.report_update(actor=admin_actor, report_id=private.pk, data={"name": "X"})
    with pytest.raises(NotFound):
        services.report_delete(actor=admin_actor, report_id=private.pk)
    assert state(private) == before


def test_delete_is_soft_and_recorded(admin_actor, shared):
    services.report_delete(actor=admin_actor, report_id=shared.pk)
    assert Report.objects.get(pk=shared.pk).is_deleted
    assert ChangeRecord.objects.filter(entity="report", event="deleted").count() == 1
    with pytest.raises(NotFound):
        services.report_update(actor=admin_actor, report_id=shared.pk, data={"name": "X"})


# Schedules and alerts ---------------------------------------------------------------------------


def test_a_schedule_goes_to_its_creator_by_default(rep, rep_actor, shared):
    schedule = services.schedule_create(actor=rep_actor, report_id=shared.pk, frequency="weekly")
    assert list(schedule.recipients.all()) == [rep]


def test_schedule_recipients_are_checked(
    rep, rep_actor, manager, manager_actor, other_rep, make_report, shared
):
    with pytest.raises(ValidationError) as refused:  # a rep sends only to himself
        services.schedule_create(
            actor=rep_actor, report_id=shared.pk, frequency="daily", recipient_ids=[manager.pk]
        )
    assert list(refused.value.field_errors) == ["recipient_ids"]
    with pytest.raises(ValidationError):  # a manager only to his team
        services.schedule_create(
            actor=manager_actor,
            report_id=shared.pk,
            frequency="daily",
            recipient_ids=[other_rep.pk],
        )
    private = make_report(manager, name="Privé")
    with pytest.raises(ValidationError) as refused:  # a private report only to its owner
        services.schedule_create(
            actor=manager_actor, report_id=private.pk, frequency="daily", recipient_ids=[rep.pk]
        )
    assert refused.value.field_errors == {
        "recipient_ids": "A private report can only be sent to its owner."
    }
    with pytest.raises(ValidationError) as refused:
        services.schedule_create(actor=rep_actor, report_id=shared.pk, frequency="hourly")
    assert list(refused.value.field_errors) == ["frequency"]
    assert Schedule.objects.count() == 0


def test_only_its_creator_removes_a_schedule(rep_actor, other_rep_actor, shared):
    schedule = services.schedule_create(actor=rep_actor, report_id=shared.pk, frequency="daily")
    with pytest.raises(PermissionDenied):
        services.schedule_delete(actor=other_rep_actor, schedule_id=schedule.pk)
    assert Schedule.objects.filter(pk=schedule.pk).exists()
    services.schedule_delete(actor=rep_actor, schedule_id=schedule.pk)
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "weather"}, "kind"),
        ({"kind": "pipeline_coverage", "min_ratio": "3"}, "target_user_id"),
        ({"kind": "pipeline_coverage", "target_user_id": "me", "min_ratio": "3"}, "target_user_id"),
        ({"kind": "pipeline_coverage", "target_user_id": "rep", "min_ratio": "0"}, "min_ratio"),
        ({"kind": "pipeline_coverage", "target_user_id": "rep", "min_ratio": "x"}, "min_ratio"),
        ({"kind": "rotting_deals", "min_count": 0}, "min_count"),
        ({"kind": "rotting_deals", "frequency": "hourly"}, "frequency"),
        ({"kind": "quota_gap", "target_user_id": "rep"}, "on_date"),
        (
            {
                "kind": "quota_gap",
                "target_user_id": "rep",
                "on_date": "2026-11-26",
                "max_gap": "-1",
            },
            "max_gap",
        ),
        ({"kind": "quota_gap", "target_team_id": "sud", "on_date": "2026-11-26"}, "target_team_id"),
    ],
)
def test_bad_alerts_are_refused_by_field(manager_actor, rep, sud, data, field):
    ids = {"rep": rep.pk, "sud": sud.pk}
    data = {k: ids.get(v, v) if k.endswith("_id") else v for k, v in data.items()}
    with pytest.raises(ValidationError) as refused:
        services.alert_create(actor=manager_actor, data={"name": "Alerte", **data})
    assert list(refused.value.field_errors) == [field]
    assert Alert.objects.count() == 0


def test_a_quota_gap_alert_keeps_its_limit_in_minor_units(manager_actor, rep):
    alert = services.alert_create(
        actor=manager_actor,
        data={
            "name": "Écart",
            "kind": "quota_gap",
            "target_user_id": rep.pk,
            "on_date": "2026-12-15",
            "max_gap": "1234.56",
            "period": "month",
        },
    )
    assert (alert.max_gap_minor, alert.on_date, alert.period) == (
        123456,
        dt.date(2026, 12, 15),
        "month",
    )
