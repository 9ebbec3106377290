"""Ruche settings: every value comes from the environment, with defaults that make `make run`
work on a fresh machine (SQLite under ./var/, console email, database task queue)."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RUCHE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("RUCHE_DEBUG", False)
SECRET_KEY = os.environ.get("RUCHE_SECRET_KEY", "insecure-dev-key-change-me-in-production")
ALLOWED_HOSTS = os.environ.get("RUCHE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("RUCHE_CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ruche.core",
    "ruche.accounts",
    "ruche.contacts",
    "ruche.catalog",
    "ruche.pipelines",
    "ruche.forecasting",
    "ruche.reports",
    "ruche.billing",
    "ruche.transfer",
    "ruche.integrations",
    "ruche.web",
    "ruche.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ruche.api.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'ruche.sqlite3'}",
        conn_max_age=int(os.environ.get("RUCHE_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and one writer work at once; IMMEDIATE avoids "database is locked"
    # upgrades when two requests write concurrently.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # The indicators hash about a hundred thousand won deals on a million (by industry, by
    # product): PostgreSQL's default 4 MB of work memory per sort or hash spills them to disk.
    # JIT compilation costs more than it saves on these sub-second queries (0.4 s of a 0.6 s
    # activities report at a million deals), so it is off. DATABASE_URL's own options
    # (`?options=-c work_mem=...`) come after these, so they win.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"-c work_mem=16MB -c jit=off {options.get('options', '')}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = os.environ.get("RUCHE_LANGUAGE", "fr")
LANGUAGES = [("fr", "Français"), ("en", "English")]
TIME_ZONE = os.environ.get("RUCHE_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)

CACHES = {
    "default": {
        "BACKEND": os.environ.get(
            "RUCHE_CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"
        ),
        "LOCATION": os.environ.get("RUCHE_CACHE_LOCATION", "ruche"),
    }
}

EMAIL_BACKEND = os.environ.get(
    "RUCHE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
# With RUCHE_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend:
EMAIL_HOST = os.environ.get("RUCHE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("RUCHE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("RUCHE_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("RUCHE_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("RUCHE_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("RUCHE_DEFAULT_FROM_EMAIL", "ruche@localhost")

# Stripe signs the events it posts to /api/v2/webhooks/stripe with this secret.
RUCHE_STRIPE_WEBHOOK_SECRET = os.environ.get("RUCHE_STRIPE_WEBHOOK_SECRET", "")

TASKS = {
    "default": {
        "BACKEND": os.environ.get("RUCHE_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# API: requests per token per window, Pipedrive-style x-ratelimit-* headers.
RUCHE_API_RATE_LIMIT = int(os.environ.get("RUCHE_API_RATE_LIMIT", "600"))
RUCHE_API_RATE_WINDOW_SECONDS = int(os.environ.get("RUCHE_API_RATE_WINDOW_SECONDS", "2"))
# Large enough that an oversized field is refused by name (422), not as an oversized body.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("RUCHE_MAX_BODY_BYTES", str(16 * 1024 * 1024)))
# Idempotency keys are remembered this long.
RUCHE_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("RUCHE_IDEMPOTENCY_TTL_HOURS", "24"))
