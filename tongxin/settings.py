"""Tongxin settings.

Everything a deployment changes comes from environment variables, so one codebase
serves the embedded SQLite default and a PostgreSQL production install:

- ``DATABASE_URL``: e.g. ``postgres://tongxin@127.0.0.1:5432/tongxin``. Unset: SQLite
  (WAL mode) at ``$TONGXIN_DATA_DIR/tongxin.sqlite3``.
- ``TONGXIN_DATA_DIR``: where the SQLite database and uploads live (default ``./data``).
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``DJANGO_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TONGXIN_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The key from the environment, else one kept in the data folder (made once)."""
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "treebeard",
    "axes",
    "csp",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    # django-ninja: the JSON API; listed so its bundled Swagger UI is served from our
    # own static files (no CDN on an offline intranet).
    "ninja",
    "tongxin.core",
    "tongxin.accounts",
    "tongxin.areas",
    "tongxin.party",
    "tongxin.people",
    "tongxin.audit",
    "tongxin.workcal",
    "tongxin.demands",
    "tongxin.board",
    "tongxin.dashboards",
    "tongxin.api",
    "tongxin.open311",
    "tongxin.demo",
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
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it watches the authentication result.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tongxin.urls"
WSGI_APPLICATION = "tongxin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tongxin.core.context_processors.navigation",
            ],
        },
    },
]

# Widgets drawn by Jinja2, Django's own templates for them (tongxin.core.forms).
FORM_RENDERER = "tongxin.core.forms.FormRenderer"

# --- Database -------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "tongxin.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SQLITE_PATH}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if _env_bool("TONGXIN_SQLITE_WRITER_QUEUE", True):
        # Django's backend with the writers queued on a lock file (tongxin.core.sqlite).
        DATABASES["default"]["ENGINE"] = "tongxin.core.sqlite"
        # Tests in memory, as Django's own SQLite backend has them (pytest-django knows
        # that backend by its name only).
        DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")
    # WAL lets readers and one writer work at once; IMMEDIATE makes a writing
    # transaction take the lock at BEGIN, so two writers queue instead of failing
    # with "database is locked" half-way through. The connection is kept between
    # requests (conn_max_age above), as on PostgreSQL: a new one runs these PRAGMAs and
    # reads the whole schema again before its first query, about a millisecond a request.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=20000;"
        ),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _env_bool(
    "TONGXIN_PG_PREPARED", True
):
    # PostgreSQL: parameters bound by the server, so that a statement a connection runs
    # again and again (the session, the user, a page's queries) is prepared after its
    # fifth run and then no longer parsed and planned each time. Set
    # TONGXIN_PG_PREPARED=0 behind a pooler that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "tongxin.accounts.backends.AccountBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lockout: five failures for one username from one address lock it for 30 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("TONGXIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
SESSION_ENGINE = "tongxin.accounts.sessions"  # Django's database sessions, read faster
SESSION_COOKIE_AGE = 60 * 60 * 10  # one working day
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# --- i18n -----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploads ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
TONGXIN_IMPORT_MAX_BYTES = 20 * 1024 * 1024
# The ledger's background exports (tongxin.demands.exports): full of residents' data, so
# kept apart from MEDIA_ROOT, never served as static files, and deleted when they expire.
TONGXIN_EXPORT_DIR = DATA_DIR / "exports"

# --- Background work (django-tasks, the API Django 6 took in) --------------------
# Two queues: "default" for the short work every minute depends on (the deadline
# sweep, hot topics, message delivery), "long" for what takes minutes (resident imports,
# large ledger exports), each with its own worker, so a long export never holds back an
# escalation or a message (tongxin.sh start; docs/install.md).
TASK_QUEUES = ["default", "long"]
TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "TONGXIN_TASKS_BACKEND", "tongxin.core.task_backend.DatabaseBackend"
        ),
        "QUEUES": TASK_QUEUES,
    }
}

# --- Security headers -----------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = _env_bool("TONGXIN_HTTPS", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TONGXIN_LOG_LEVEL", "INFO")},
}
TONGXIN_TRUSTED_PROXY = _env_bool("TONGXIN_TRUSTED_PROXY", False)
if TONGXIN_TRUSTED_PROXY:
    # Behind the office's reverse proxy: believe its Host and scheme, so absolute links
    # (the QR codes people scan) carry the public address, not the internal one.
    USE_X_FORWARDED_HOST = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
AXES_VERBOSE = False
LOGGING["loggers"] = {"axes": {"level": "WARNING"}}
FORMAT_MODULE_PATH = ["tongxin.formats"]

# --- Cache (Open311's rate limits, the rollup's sums, the boards, kept pages) ----
# A table in the database by default (``manage.py createcachetable`` makes it), Redis
# when one is configured: several web workers share it either way. (The API's rate
# counts are rows of their own, api.RateCount: one atomic upsert per request.)
if REDIS_URL := os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "tongxin_cache",
        }
    }

# Pieces of page drawn once per server process and kept in its memory: every page's
# top bar, which depends only on the user, the language, the section and the unread
# count (all part of its key), and the links to the static files. Nothing in them
# needs to be shared between processes or to outlive one.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "tongxin-fragments",
    "OPTIONS": {"MAX_ENTRIES": 2000},
}

# --- JSON API (docs/api.md) -----------------------------------------------------
# Requests a minute: per client address without a key, per key with one.
TONGXIN_API_RATE_ANONYMOUS = int(os.environ.get("TONGXIN_API_RATE_ANONYMOUS", "60"))
TONGXIN_API_RATE_KEY = int(os.environ.get("TONGXIN_API_RATE_KEY", "600"))
TONGXIN_API_MAX_BODY = 1024 * 1024  # bytes; larger bodies get 413 before parsing
