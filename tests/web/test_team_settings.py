"""Settings → Users, teams and roles, and the default visibility (admins only)."""

import re

import pytest
from django.core import mail

from ruche.accounts.models import Company, Team, User
from ruche.core.models import ChangeRecord, Visibility

URL = "/settings/team/"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", URL),
        ("post", "/settings/team/users/invite/"),
        ("post", "/settings/team/teams/add/"),
        ("post", "/settings/team/visibility/"),
    ],
)
def test_only_admins(web_as, client, manager, rep, method, url):
    records = ChangeRecord.objects.count()
    for user in (manager, rep):
        data = {"email": "x@example.fr", "role": "admin", "name": "Est", "default_visibility": 1}
        response = getattr(web_as(user), method)(url, data)
        assert response.status_code == 403
    assert getattr(client, method)(url).status_code == 302  # to the sign-in page
    assert ChangeRecord.objects.count() == records
    assert not User.objects.filter(email="x@example.fr").exists()


def test_a_rep_cannot_promote_themself(web_as, rep, unchanged):
    client = web_as(rep)  # signing in writes last_login
    with unchanged(rep):
        response = client.post(f"/settings/team/users/{rep.pk}/", {"role": "admin"})
    assert response.status_code == 403


def test_page_lists_users_and_teams(web_as, admin, rep, other_rep, nord, sud):
    response = web_as(admin).get(URL)
    assert response.status_code == 200
    assert [u.email for u in response.context["users"]] == [
        "admin@ruche.test",
        "rep@ruche.test",
        "other@ruche.test",
    ]
    assert [t.name for t in response.context["teams"]] == ["Nord", "Sud"]
    assert 'aria-current="page">Utilisateurs et équipes<' in response.content.decode()


def test_invite_sends_a_link_to_choose_a_password(
    web_as, client, admin, nord, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = web_as(admin).post(
            "/settings/team/users/invite/",
            {"email": "lea@example.fr", "name": "Léa", "role": "manager", "team_id": str(nord.pk)},
        )
    assert (response.status_code, response["Location"]) == (302, URL)
    user = User.objects.get(email="lea@example.fr")
    assert (user.name, user.role, user.team, user.has_usable_password()) == (
        "Léa",
        "manager",
        nord,
        False,
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.to, message.subject) == (
        ["lea@example.fr"],
        "Invitation à Ruche par Ma société",
    )
    link = re.search(r"http://testserver(/password-reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": "Un mot de passe sûr 42", "new_password2": "Un mot de passe sûr 42"},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Un mot de passe sûr 42")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "rep@ruche.test"}, "email: Un utilisateur avec cette adresse existe déjà."),
        ({"email": "pas-un-email"}, "email: Saisissez une adresse e-mail valide."),
        ({"role": "boss"}, "role: Choisissez un rôle dans la liste."),
        ({"team_id": "abc"}, "team_id: Choisissez une équipe dans la liste."),
        ({"team_id": "999999"}, "team_id: Cette équipe n\u2019existe pas."),
    ],
)
def test_bad_invitation_names_the_field_and_changes_nothing(web_as, admin, rep, data, message):
    users, records = User.objects.count(), ChangeRecord.objects.count()
    response = web_as(admin).post(
        "/settings/team/users/invite/", {"email": "new@example.fr", "role": "rep"} | data
    )
    assert response.status_code == 422
    assert response.context["error"] == message
    if "team_id" in data:  # what was typed stays in the form
        assert (
            'name="email" required maxlength="254" autocomplete="off" value="new@example.fr"'
            in (response.content.decode())
        )
    assert (User.objects.count(), ChangeRecord.objects.count(), len(mail.outbox)) == (
        users,
        records,
        0,
    )


def test_change_role_and_team(web_as, admin, rep, sud):
    response = web_as(admin).post(
        f"/settings/team/users/{rep.pk}/",
        {"name": "Rémi", "role": "manager", "team_id": str(sud.pk)},
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert (rep.name, rep.role, rep.team) == ("Rémi", "manager", sud)
    fields = ChangeRecord.objects.filter(entity="user", entity_id=rep.pk).values_list(
        "field", "actor_user_id"
    )
    assert sorted(fields) == [("name", admin.pk), ("role", admin.pk), ("team", admin.pk)]


def test_deactivate_then_reactivate(web_as, admin, rep):
    client = web_as(admin)
    reps_session = web_as(rep)
    client.post(f"/settings/team/users/{rep.pk}/", {"is_active": "0"})
    rep.refresh_from_db()
    assert rep.is_active is False
    # Signed out at once: their open session no longer works.
    assert reps_session.get("/my-activities/").status_code == 302
    page = client.get(URL).content.decode()
    assert f'<tr id="user-{rep.pk}" class="inactive">' in page
    client.post(f"/settings/team/users/{rep.pk}/", {"is_active": "1"})
    rep.refresh_from_db()
    assert rep.is_active is True


def test_the_last_admin_is_refused_and_nothing_changes(web_as, admin, unchanged):
    client = web_as(admin)
    with unchanged(admin):
        demote = client.post(f"/settings/team/users/{admin.pk}/", {"role": "rep", "name": "A"})
        leave = client.post(f"/settings/team/users/{admin.pk}/", {"is_active": "0"})
    assert (demote.status_code, demote.context["error"]) == (
        422,
        "role: Le dernier administrateur actif doit rester un administrateur actif.",
    )
    assert (leave.status_code, leave.context["error"]) == (
        422,
        "is_active: Le dernier administrateur actif doit rester un administrateur actif.",
    )


def test_an_unknown_user_or_team_is_404(web_as, admin):
    client = web_as(admin)
    assert client.post("/settings/team/users/999999/", {"role": "rep"}).status_code == 404
    assert client.post("/settings/team/teams/999999/rename/", {"name": "X"}).status_code == 404


def test_add_and_rename_a_team(web_as, admin, nord):
    client = web_as(admin)
    assert client.post("/settings/team/teams/add/", {"name": "Est"}).status_code == 302
    team = Team.objects.get(name="Est")
    client.post(f"/settings/team/teams/{team.pk}/rename/", {"name": "Grand Est"})
    team.refresh_from_db()
    assert team.name == "Grand Est"
    refused = client.post(f"/settings/team/teams/{team.pk}/rename/", {"name": "NORD"})
    assert (refused.status_code, refused.context["error"]) == (
        422,
        "name: Une équipe porte déjà ce nom.",
    )
    team.refresh_from_db()
    assert team.name == "Grand Est"
    empty = client.post("/settings/team/teams/add/", {"name": " "})
    assert (empty.status_code, empty.context["error"]) == (422, "name: Un nom est requis.")


def test_default_visibility(web_as, admin, company):
    client = web_as(admin)
    response = client.post("/settings/team/visibility/", {"default_visibility": "3"})
    assert response.status_code == 302
    assert Company.current().default_visibility == Visibility.TEAM
    record = ChangeRecord.objects.get(entity="company", field="default_visibility")
    assert (record.old_value, record.new_value, record.actor_user_id) == (7, 3, admin.pk)
    for bad in ("2", "tous", ""):
        refused = client.post("/settings/team/visibility/", {"default_visibility": bad})
        assert (refused.status_code, refused.context["error"]) == (
            422,
            "default_visibility: Choisissez une visibilité dans la liste.",
        )
    assert Company.current().default_visibility == Visibility.TEAM


def test_query_count_does_not_grow_with_users(web_as, admin, django_assert_max_num_queries):
    client = web_as(admin)
    with django_assert_max_num_queries(10) as few:
        client.get(URL)
    for n in range(15):
        User.objects.create_user(f"u{n}@ruche.test", team=Team.objects.create(name=f"T{n}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert len(response.context["users"]) == 16
