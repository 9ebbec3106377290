"""`ruche user create EMAIL --role admin|manager|rep [--team NAME] [--password P]`."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from ruche.accounts.models import User
from ruche.accounts.services import user_create
from ruche.core.exceptions import RucheError


class Command(BaseCommand):
    help = "Manage users."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Create a user.")
        create.add_argument("email")
        create.add_argument("--role", required=True, help=f"One of {', '.join(User.Role.values)}.")
        create.add_argument("--team", help="Team name; the team is created if it is new.")
        create.add_argument("--name", default="", help="Display name.")
        create.add_argument(
            "--password",
            help="Without one, the user cannot sign in with a password until "
            "`ruche changepassword EMAIL` sets one (API tokens still work).",
        )

    def handle(self, *args, action, **options):
        if action == "create":
            self.create(**options)

    def create(self, *, email, role, team, name, password, **options):
        try:
            validate_email(email)
        except DjangoValidationError:
            raise CommandError(f"Not an email address: {email!r}.") from None
        if password is not None:
            try:
                validate_password(password)
            except DjangoValidationError as error:
                raise CommandError("Password refused: " + " ".join(error.messages)) from None
        try:
            user = user_create(email=email, role=role, password=password, team_name=team, name=name)
        except RucheError as error:
            raise CommandError(error.message) from None
        team_text = f" in team {user.team.name}" if user.team else ""
        self.stdout.write(f"Created {user.role} {user.email}{team_text} (id {user.pk}).")
        if password is None:
            self.stdout.write(
                f"No password set: `ruche changepassword {user.email}` sets one, "
                f"`ruche token create {user.email}` makes an API token."
            )
