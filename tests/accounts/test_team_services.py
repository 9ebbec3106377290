"""Users, teams and roles through the accounts services: history in the same transaction, and
refusals that change nothing (the last admin stays an active admin)."""

import pytest

from ruche.accounts.models import CalendarFeed, Team, User
from ruche.accounts.services import (
    calendar_feed_for,
    calendar_feed_regenerate,
    team_create,
    team_rename,
    user_deactivate,
    user_invite,
    user_reactivate,
    user_update,
)
from ruche.core.exceptions import NotFound, PermissionDenied, ValidationError
from ruche.core.models import ChangeRecord


def history(entity, entity_id):
    return list(
        ChangeRecord.objects.filter(entity=entity, entity_id=entity_id).values_list(
            "event", "field", "old_value", "new_value", "actor_user_id"
        )
    )


def test_invite_a_user_without_password(admin, admin_actor, nord):
    user = user_invite(
        actor=admin_actor, email=" Lea@Example.FR ", name=" Léa ", role="manager", team_id=nord.pk
    )
    assert (user.email, user.name, user.role, user.team, user.is_staff) == (
        "lea@example.fr",
        "Léa",
        "manager",
        nord,
        False,
    )
    assert not user.has_usable_password()
    assert history("user", user.pk) == [
        (
            "created",
            "",
            None,
            {"email": "lea@example.fr", "name": "Léa", "role": "manager", "team": nord.pk},
            admin.pk,
        )
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "pas-un-email"}, "email"),
        ({"email": "REP@ruche.test"}, "email"),
        ({"role": "boss"}, "role"),
        ({"team_id": 999999}, "team_id"),
        ({"team_id": "1"}, "team_id"),
        ({"name": "x" * 256}, "name"),
    ],
)
def test_invite_refusals_change_nothing(admin_actor, rep, data, field):
    users, records = User.objects.count(), ChangeRecord.objects.count()
    with pytest.raises(ValidationError) as error:
        user_invite(actor=admin_actor, **({"email": "new@example.fr", "role": "rep"} | data))
    assert list(error.value.field_errors) == [field]
    assert (User.objects.count(), ChangeRecord.objects.count()) == (users, records)


def test_only_an_admin_changes_users_and_teams(manager_actor, rep, nord, unchanged):
    with unchanged(rep, nord), pytest.raises(PermissionDenied):
        user_update(actor=manager_actor, user_id=rep.pk, data={"role": "admin"})
    with unchanged(rep, nord), pytest.raises(PermissionDenied):
        team_rename(actor=manager_actor, team_id=nord.pk, name="Grand Nord")
    with pytest.raises(PermissionDenied):
        team_create(actor=manager_actor, name="Est")
    with pytest.raises(PermissionDenied):
        user_invite(actor=manager_actor, email="x@example.fr", role="rep")
    assert not Team.objects.filter(name="Est").exists()
    assert not User.objects.filter(email="x@example.fr").exists()


def test_change_role_team_and_name_with_history(admin, admin_actor, rep, nord, sud):
    user_update(
        actor=admin_actor,
        user_id=rep.pk,
        data={"role": "admin", "team_id": sud.pk, "name": "Rémi Sud"},
    )
    rep.refresh_from_db()
    assert (rep.role, rep.team, rep.name, rep.is_staff, rep.is_superuser) == (
        "admin",
        sud,
        "Rémi Sud",
        True,
        True,
    )
    assert history("user", rep.pk) == [
        ("updated", "name", "Rémi Nord", "Rémi Sud", admin.pk),
        ("updated", "role", "rep", "admin", admin.pk),
        ("updated", "team", nord.pk, sud.pk, admin.pk),
    ]
    user_update(actor=admin_actor, user_id=rep.pk, data={"role": "rep", "team_id": None})
    rep.refresh_from_db()
    assert (rep.role, rep.team, rep.is_staff) == ("rep", None, False)


def test_an_unchanged_user_writes_no_history(admin_actor, rep, nord):
    user_update(actor=admin_actor, user_id=rep.pk, data={"role": "rep", "team_id": nord.pk})
    assert history("user", rep.pk) == []


def test_deactivate_and_reactivate(admin, admin_actor, rep):
    user_deactivate(actor=admin_actor, user_id=rep.pk)
    rep.refresh_from_db()
    assert rep.is_active is False
    user_reactivate(actor=admin_actor, user_id=rep.pk)
    rep.refresh_from_db()
    assert rep.is_active is True
    assert history("user", rep.pk) == [
        ("updated", "is_active", True, False, admin.pk),
        ("updated", "is_active", False, True, admin.pk),
    ]


@pytest.mark.parametrize(
    ("data", "field"), [({"role": "manager"}, "role"), ({"is_active": False}, "is_active")]
)
def test_the_last_admin_can_be_neither_demoted_nor_deactivated(
    admin, admin_actor, unchanged, data, field
):
    with unchanged(admin), pytest.raises(ValidationError) as error:
        user_update(actor=admin_actor, user_id=admin.pk, data=data)
    assert error.value.field_errors == {field: "The last active admin must stay an active admin."}


def test_with_another_active_admin_one_can_be_demoted(admin, admin_actor):
    other = User.objects.create_user("second@ruche.test", role="admin", is_active=False)
    with pytest.raises(ValidationError):  # an inactive admin does not count
        user_deactivate(actor=admin_actor, user_id=admin.pk)
    user_reactivate(actor=admin_actor, user_id=other.pk)
    user_update(actor=admin_actor, user_id=admin.pk, data={"role": "rep"})
    admin.refresh_from_db()
    assert admin.role == "rep"


def test_update_refusals(admin_actor, rep, unchanged):
    with unchanged(rep), pytest.raises(NotFound):
        user_update(actor=admin_actor, user_id=999999, data={"role": "rep"})
    with unchanged(rep), pytest.raises(ValidationError) as error:
        user_update(actor=admin_actor, user_id=rep.pk, data={"is_active": "no"})
    assert list(error.value.field_errors) == ["is_active"]


def test_teams_add_and_rename_with_history(admin, admin_actor, nord):
    team = team_create(actor=admin_actor, name="  Est ")
    assert team.name == "Est"
    team_rename(actor=admin_actor, team_id=team.pk, name="Grand Est")
    team.refresh_from_db()
    assert team.name == "Grand Est"
    assert history("team", team.pk) == [
        ("created", "", None, {"name": "Est"}, admin.pk),
        ("updated", "name", "Est", "Grand Est", admin.pk),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A name is required."),
        ("   ", "A name is required."),
        ("nord", "A team with this name already exists."),
        ("x" * 121, "At most 120 characters."),
    ],
)
def test_team_name_refusals(admin_actor, nord, sud, unchanged, name, message):
    with unchanged(sud), pytest.raises(ValidationError) as error:
        team_rename(actor=admin_actor, team_id=sud.pk, name=name)
    assert error.value.field_errors == {"name": message}
    teams = Team.objects.count()
    with pytest.raises(ValidationError):
        team_create(actor=admin_actor, name=name)
    assert Team.objects.count() == teams


def test_calendar_feed_regenerate(rep, rep_actor):
    first = calendar_feed_for(rep).token
    assert calendar_feed_for(rep).token == first
    second = calendar_feed_regenerate(actor=rep_actor, user=rep).token
    assert second != first and len(second) >= 43
    assert CalendarFeed.objects.filter(user=rep).count() == 1
    # The secret never reaches the history.
    assert history("user", rep.pk) == [
        ("updated", "calendar_feed", None, None, rep.pk),
        ("updated", "calendar_feed", None, None, rep.pk),
    ]
