from django.utils import timezone

from ruche.accounts.models import ApiToken, hash_token

# Writing last_used_at on every request would make every read a write; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60


def user_for_token(raw: str):
    """The active user a raw API token belongs to, or None; notes when the token was used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > (
        LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
