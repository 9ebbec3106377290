import pytest
from django.core.management import CommandError, call_command

from ruche.accounts.models import Team, User


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_user_with_team_and_password():
    output = run(
        "user",
        "create",
        "Lea.Martin@Example.fr",
        "--role",
        "manager",
        "--team",
        "Nord",
        "--password",
        "une-phrase-solide-42",
        "--name",
        "Léa Martin",
    )

    user = User.objects.get()
    assert user.email == "lea.martin@example.fr"
    assert (user.role, user.team.name, user.name) == ("manager", "Nord", "Léa Martin")
    assert user.check_password("une-phrase-solide-42")
    assert not user.is_staff
    assert output.startswith("Created manager lea.martin@example.fr in team Nord")


@pytest.mark.django_db
def test_admin_is_staff_and_no_password_means_unusable():
    output = run("user", "create", "boss@example.fr", "--role", "admin")

    user = User.objects.get()
    assert (user.role, user.is_staff, user.is_superuser) == ("admin", True, True)
    assert not user.has_usable_password()
    assert "ruche changepassword boss@example.fr" in output


@pytest.mark.django_db
def test_duplicate_email_is_refused_and_nothing_is_created():
    run("user", "create", "rep@example.fr", "--role", "rep")

    with pytest.raises(CommandError, match="already exists"):
        run("user", "create", "REP@example.fr", "--role", "manager", "--team", "Nouvelle")

    assert list(User.objects.values_list("email", "role")) == [("rep@example.fr", "rep")]
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_bad_role_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match="One of admin, manager, rep, not 'boss'"):
        run("user", "create", "x@example.fr", "--role", "boss", "--team", "Sud")

    assert not User.objects.exists()
    assert not Team.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email", "--role", "rep"], "Not an email address"),
        (["a@example.fr", "--role", "rep", "--password", "123"], "Password refused"),
    ],
)
def test_invalid_input_is_refused(args, message):
    with pytest.raises(CommandError, match=message):
        run("user", "create", *args)

    assert not User.objects.exists()
