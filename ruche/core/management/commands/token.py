"""`ruche token create EMAIL [--name N]`: the new token is printed once, alone on the last
line; only its SHA-256 is stored. `ruche token list EMAIL`, `ruche token revoke EMAIL ID`."""

from django.core.management.base import BaseCommand, CommandError

from ruche.accounts.models import User
from ruche.accounts.services import token_create, token_revoke
from ruche.core.exceptions import RucheError


class Command(BaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Create a token; it is shown once.")
        create.add_argument("email")
        create.add_argument("--name", default="", help="What the token is for.")
        listing = actions.add_parser("list", help="List a user's tokens (never their value).")
        listing.add_argument("email")
        revoke = actions.add_parser("revoke", help="Revoke a token by id.")
        revoke.add_argument("email")
        revoke.add_argument("token_id", type=int)

    def _user(self, email: str) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email}.")
        if not user.is_active:
            raise CommandError(f"User {user.email} is inactive.")
        return user

    def handle(self, *args, action, email, **options):
        user = self._user(email)
        if action == "create":
            token, raw = token_create(user=user, name=options["name"])
            label = f" ({token.name})" if token.name else ""
            self.stdout.write(
                f"Token {token.pk}{label} created for {user.email}. Copy it now: it is not "
                "stored and cannot be shown again."
            )
            self.stdout.write(raw)
        elif action == "list":
            for token in user.api_tokens.order_by("pk"):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(
                    f"{token.pk}\t{token.prefix}…\t{token.name or '-'}\t{state}\tlast used {used}"
                )
        elif action == "revoke":
            try:
                token_revoke(token_id=options["token_id"], user=user)
            except RucheError as error:
                raise CommandError(error.message) from None
            self.stdout.write(f"Token {options['token_id']} revoked.")
