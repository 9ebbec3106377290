import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone

from ruche.core.models import Visibility


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = "admin"
        MANAGER = "manager"
        REP = "rep"

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    locale = models.CharField(max_length=8, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """Only the SHA-256 of the token is stored; the raw value is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def generate_raw() -> str:
        return secrets.token_hex(20)


class Company(models.Model):
    """The single company this Ruche instance serves, and its company-wide settings."""

    name = models.CharField(max_length=255, default="Ma société")
    currency = models.CharField(max_length=3, default="EUR")
    default_visibility = models.PositiveSmallIntegerField(
        choices=Visibility.choices, default=Visibility.EVERYONE
    )
    default_close_days = models.PositiveIntegerField(default=42)
    loss_reason_required = models.BooleanField(default=True)
    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    address = models.TextField(blank=True)
    siren = models.CharField(max_length=14, blank=True)
    vat_number = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name_plural = "company"

    @classmethod
    def current(cls) -> "Company":
        company, _ = cls.objects.get_or_create(pk=1)
        return company


class CalendarFeed(models.Model):
    """A user's iCalendar subscription. The token is the whole credential of a read-only URL
    that calendar apps poll, so it is kept as is (the page shows the URL again); regenerating
    it makes the old URL a 404."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    @staticmethod
    def generate_token() -> str:
        return secrets.token_urlsafe(32)
