"""Quorum settings. Everything that differs between machines comes from the environment.

- no ``DATABASE_URL``: SQLite file ``db.sqlite3`` (WAL, IMMEDIATE transactions), with persistent
  connections under WSGI (gunicorn) only (``QUORUM_SQLITE_CONN_MAX_AGE``, which ``quorum/wsgi.py``
  sets to 600 s);
  ``DATABASE_URL=postgres://…``: PostgreSQL through psycopg 3 with Django's connection pool.
- no ``REDIS_URL``: in-memory channel layer, and background tasks (project-wide re-estimation,
  large imports) in the database through django-tasks-db, run by ``manage.py db_worker``, a
  separate process that ``make run`` starts beside the server and stops with it: no request
  waits for them. Without a worker running they wait in the table ``django_tasks_db_dbtaskresult``.
  ``QUORUM_TASKS=immediate`` runs them inside the request that enqueues them instead (the test
  suite does this through a fixture);
  ``REDIS_URL=redis://…``: channels-redis and RQ workers through django-tasks-rq.
"""

import datetime as dt
import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("QUORUM_DEBUG", False)
SECRET_KEY = os.environ.get(
    "QUORUM_SECRET_KEY", "insecure-local-only-set-QUORUM_SECRET_KEY-in-production"
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("QUORUM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "testserver", "::1", "[::1]"}
if SECRET_KEY.startswith("insecure-local-only") and set(ALLOWED_HOSTS) - _LOCAL_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "Quorum is served beyond this machine (QUORUM_ALLOWED_HOSTS) with the development secret key: "
        "set QUORUM_SECRET_KEY to a long random value."
    )
if _env_bool("QUORUM_HTTPS", False):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("QUORUM_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks",
    "django_tasks_db",  # the embedded default's task queue (its table exists with Redis too)
    "django_rq",
    "annotation",
    "consensus",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Turns a login that django-axes refused into the lockout page (after the view, before the guard).
    "axes.middleware.AxesMiddleware",
    "annotation.middleware.StreamGuardMiddleware",  # last: see its docstring
]

ROOT_URLCONF = "quorum.urls"
ASGI_APPLICATION = "quorum.asgi.application"
WSGI_APPLICATION = "quorum.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- database ---------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI each sync request runs on a fresh thread: without a pool every request
        # reconnects (~25 ms). See docs/performance.md.
        _db.setdefault("OPTIONS", {})
        if _env_bool("QUORUM_DB_POOL", True):
            _db["OPTIONS"]["pool"] = {
                "min_size": 2,
                "max_size": int(os.environ.get("QUORUM_DB_POOL_SIZE", 20)),
                "timeout": 10,
            }
        else:
            _db["CONN_MAX_AGE"] = 60
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("QUORUM_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Persistent connections only where Django supports them: a WSGI worker thread serves
            # request after request on one connection (quorum/wsgi.py asks for 600 s). Under ASGI
            # (daphne, make run) each request has a new thread context, so a kept connection is never
            # reused, only left open until garbage-collected; Django's docs say to disable them there.
            "CONN_MAX_AGE": int(os.environ.get("QUORUM_SQLITE_CONN_MAX_AGE", 0)),
            "OPTIONS": {
                # Writers take the lock up front so concurrent writers queue instead of failing
                # with "database is locked" halfway through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                ),
            },
            # Tests use a file too: an in-memory database shared between the live server's
            # threads fails concurrent requests at once instead of waiting like WAL does.
            "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"quorum-test-{os.getpid()}.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channels and background work --------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout: channels-redis waits on Redis for 5 s at a time, and redis-py 8's
            # default 5 s timeout would otherwise close an idle WebSocket now and then (code 1011).
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Tasks wait in the database for `manage.py db_worker` (make run starts it), so a vote that
    # asks for a re-estimation (~120 ms per 200 votes) answers without running it. The worker is
    # its own process: the events it publishes (consensus.updated, import.progress) cross
    # processes only through Redis, so without it open pages catch up on their next event or poll.
    _TASK_BACKENDS = {
        "database": "django_tasks_db.DatabaseBackend",
        "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    }
    _tasks = os.environ.get("QUORUM_TASKS", "database")
    if _tasks not in _TASK_BACKENDS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"QUORUM_TASKS={_tasks!r}: 'database' (the default) or 'immediate'")
    TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_tasks]}}
    RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 3600}}

# Re-estimate annotator reliabilities project-wide after this many new votes (and on demand).
QUORUM_MAX_VOTES_FILE_BYTES = int(os.environ.get("QUORUM_MAX_VOTES_FILE_BYTES", 200 * 1024 * 1024))
QUORUM_REESTIMATE_EVERY = int(os.environ.get("QUORUM_REESTIMATE_EVERY", 200))

# --- auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins (the login page, /admin/ and POST /api/auth/token/) are counted by django-axes
# in the database, so every process sees them: QUORUM_LOGIN_FAILURE_LIMIT failures on one account
# (from anywhere) or from one address (on any accounts) pause logging in there for
# QUORUM_LOGIN_COOLOFF_MINUTES after the last one. Failures while paused do not extend the pause,
# so the time the page names holds.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("QUORUM_LOGIN_FAILURE_LIMIT", 10))
AXES_COOLOFF_TIME = dt.timedelta(minutes=float(os.environ.get("QUORUM_LOGIN_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "annotation.views.projects.login_locked_out"
AXES_VERBOSE = False
# Behind a reverse proxy every request comes from the proxy's address: say how many proxies
# there are (QUORUM_PROXY_COUNT) and the client's address is read from X-Forwarded-For.
if int(os.environ.get("QUORUM_PROXY_COUNT", 0)):
    AXES_IPWARE_PROXY_COUNT = int(os.environ["QUORUM_PROXY_COUNT"])
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
# API tokens expire this many days after they are issued (0: never); DELETE /api/auth/token/ revokes.
QUORUM_TOKEN_TTL_DAYS = float(os.environ.get("QUORUM_TOKEN_TTL_DAYS", 30))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call is answered 401 with a WWW-Authenticate header.
        "annotation.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "annotation.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Bodies are JSON; only the upload endpoints (imports, votes import, the token login form) take
    # multipart or form data, and say so themselves. A malformed multipart body would otherwise
    # parse as an empty one and a PATCH with it would answer 200 having changed nothing.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": (
        "Projects, members, rulebooks and item import for Quorum. Authenticate with a token "
        "(`Authorization: Token <key>`, from `POST /api/auth/token/`) or a browser session."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI from the drf-spectacular-sidecar package: the docs page loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ItemKindEnum": "annotation.projects.models.ItemKind",
        "VoteKindEnum": "annotation.labeling.services.models.VoteKind",
    },
}

# --- Content-Security-Policy ---------------------------------------------------------------------
# Pages load scripts, styles and images from this origin only; no inline script or style="" (label
# colours come in one <style> carrying the request's nonce); the WebSocket is same-origin.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- i18n, static and media ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source folders too, so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("QUORUM_MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"  # never served publicly: item files go through permission-checked views

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- import limits ----------------------------------------------------------------------------
QUORUM_MAX_UPLOAD_BYTES = int(os.environ.get("QUORUM_MAX_UPLOAD_BYTES", 2 * 1024**3))
QUORUM_MAX_IMAGE_BYTES = int(os.environ.get("QUORUM_MAX_IMAGE_BYTES", 25 * 1024**2))
QUORUM_MAX_IMAGE_PIXELS = int(os.environ.get("QUORUM_MAX_IMAGE_PIXELS", 50_000_000))
QUORUM_MAX_ZIP_ENTRIES = int(os.environ.get("QUORUM_MAX_ZIP_ENTRIES", 200_000))
QUORUM_MAX_ZIP_TOTAL_BYTES = int(os.environ.get("QUORUM_MAX_ZIP_TOTAL_BYTES", 20 * 1024**3))
# Uploads are read as if written to hurt (each limit fails one row or one file, never the import):
# one line of JSONL or text, or one CSV row, is read in pieces and refused past this many bytes
# without being held (an embedded data: image must fit in it; larger images go in the zip as files);
QUORUM_MAX_LINE_BYTES = int(os.environ.get("QUORUM_MAX_LINE_BYTES", 8 * 1024**2))
# a CSV header has at most this many columns;
QUORUM_MAX_CSV_COLUMNS = int(os.environ.get("QUORUM_MAX_CSV_COLUMNS", 1_000))
# a row's metadata or gold nests objects and lists at most this deep;
QUORUM_MAX_JSON_DEPTH = int(os.environ.get("QUORUM_MAX_JSON_DEPTH", 32))
# a JSONL, CSV or text file — uploaded, or inside a zip or folder — is at most this large uncompressed.
QUORUM_MAX_MANIFEST_BYTES = int(os.environ.get("QUORUM_MAX_MANIFEST_BYTES", 1024**3))
QUORUM_THUMBNAIL_SIZE = 256
# Threads that check, measure and thumbnail images during an import (one per core pays off:
# the work is in Pillow, numpy and compiled code, which release the GIL).
QUORUM_IMPORT_THREADS = int(os.environ.get("QUORUM_IMPORT_THREADS", min(4, os.cpu_count() or 1)))
# Imports that read more bytes than this (a zip: uncompressed) run as a background task; smaller
# ones finish in the request.
QUORUM_IMPORT_INLINE_BYTES = int(os.environ.get("QUORUM_IMPORT_INLINE_BYTES", 2 * 1024**2))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("QUORUM_LOG_LEVEL", "WARNING")},
}
