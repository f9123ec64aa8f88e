"""dockerweb settings: every value comes from the environment (see README "Configuration")."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from dockerweb.env import env_address, env_bool, env_float, env_int, env_list, env_str

# Lets runtime code subscript generic Django classes (ModelAdmin[Host]) as the type stubs do.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = Path(env_str("DOCKERWEB_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The configured key, or one generated once into the data dir so restarts keep sessions and secrets."""
    configured = env_str("DOCKERWEB_SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise ImproperlyConfigured("DOCKERWEB_SECRET_KEY must be at least 32 characters long")
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Field encryption (TLS keys, registry passwords): comma-separated keys, the first encrypts, all decrypt,
# so a key can be rotated. Derived from the secret key when unset.
ENCRYPTION_KEYS = env_list("DOCKERWEB_ENCRYPTION_KEY", []) or [SECRET_KEY]

DEBUG = env_bool("DOCKERWEB_DEBUG", False)
ALLOWED_HOSTS = env_list("DOCKERWEB_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DOCKERWEB_CSRF_TRUSTED_ORIGINS", [])

HTTP_ADDRESS = env_address("DOCKERWEB_HTTP", "127.0.0.1:8000")
GATEWAY_ADDRESS = env_address("DOCKERWEB_GATEWAY", "127.0.0.1:2375")
# The Docker-protocol gateway: concurrent requests/streams one token may hold (more get 429), connections
# held at once, keep-alive idle close (streams exempt), time for a request head and between body reads.
GATEWAY_MAX_STREAMS_PER_TOKEN = env_int("DOCKERWEB_GATEWAY_MAX_STREAMS_PER_TOKEN", 64, minimum=1)
GATEWAY_MAX_CONNECTIONS = env_int("DOCKERWEB_GATEWAY_MAX_CONNECTIONS", 2048, minimum=1)
GATEWAY_IDLE_TIMEOUT = env_float("DOCKERWEB_GATEWAY_IDLE_TIMEOUT", 120.0, minimum=1.0)
GATEWAY_REQUEST_TIMEOUT = env_float("DOCKERWEB_GATEWAY_REQUEST_TIMEOUT", 60.0, minimum=1.0)
# Seconds a verified token and a host row are reused: a revoked token stops within this time (0: not reused).
GATEWAY_AUTH_CACHE_SECONDS = env_float("DOCKERWEB_GATEWAY_AUTH_CACHE_SECONDS", 2.0, minimum=0.0)
GATEWAY_DB_THREADS = env_int("DOCKERWEB_GATEWAY_DB_THREADS", 8, minimum=1)
# Before authentication: seconds for a whole request head (from the connection's start for its first request,
# from the first byte for the next ones), and connections one client address may hold (more get 503).
GATEWAY_HEAD_TIMEOUT = env_float("DOCKERWEB_GATEWAY_HEAD_TIMEOUT", 10.0, minimum=0.5)
GATEWAY_MAX_CONNECTIONS_PER_ADDRESS = env_int("DOCKERWEB_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", 64, minimum=1)
# Seconds between re-checks of open websockets and gateway streams: a revoked token, a deactivated user or a
# removed grant ends them within this time (plus GATEWAY_AUTH_CACHE_SECONDS for gateway streams).
ACCESS_RECHECK_SECONDS = env_float("DOCKERWEB_ACCESS_RECHECK_SECONDS", 2.0, minimum=0.1)
# Largest list response (containers, networks, volumes) buffered to filter it for a non-admin.
GATEWAY_MAX_FILTERED_BYTES = env_int("DOCKERWEB_GATEWAY_MAX_FILTERED_BYTES", 64 << 20, minimum=1 << 16)
# TLS towards clients (PEM files); with a client CA, client certificates are verified.
GATEWAY_TLS_CERT = env_str("DOCKERWEB_GATEWAY_TLS_CERT")
GATEWAY_TLS_KEY = env_str("DOCKERWEB_GATEWAY_TLS_KEY")
GATEWAY_TLS_CLIENT_CA = env_str("DOCKERWEB_GATEWAY_TLS_CLIENT_CA")

# Engine connections: a dead host must answer "down" quickly, never hang a worker.
ENGINE_CONNECT_TIMEOUT = env_float("DOCKERWEB_ENGINE_CONNECT_TIMEOUT", 2.0, minimum=0.1)
ENGINE_READ_TIMEOUT = env_float("DOCKERWEB_ENGINE_READ_TIMEOUT", 10.0, minimum=0.1)
HOST_REFRESH_INTERVAL = env_int("DOCKERWEB_HOST_REFRESH_INTERVAL", 30, minimum=1)

# Image jobs (pull, build, push, commit); images/conf.py has the rest of their knobs and defaults.
IMAGES_JOBS_PER_HOST = env_int("DOCKERWEB_JOBS_PER_HOST", 2, minimum=1)
IMAGES_JOB_TIME_LIMIT = env_float("DOCKERWEB_JOB_TIME_LIMIT", 3600.0, minimum=1.0)
IMAGES_JOB_STALE_AFTER = env_float("DOCKERWEB_JOB_STALE_AFTER", 60.0, minimum=15.0)
IMAGES_MAX_UPLOAD_BYTES = env_int("DOCKERWEB_MAX_UPLOAD_MB", 2048, minimum=1) * 1024 * 1024
# Build contexts wait here for a worker: workers on other machines need it shared (a volume).
IMAGES_UPLOAD_DIR = env_str("DOCKERWEB_UPLOAD_DIR", str(DATA_DIR / "build-contexts"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "hosts",
    "containers",
    "images",
    "frontend",
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
]

ROOT_URLCONF = "dockerweb.urls"
ASGI_APPLICATION = "dockerweb.asgi.application"
WSGI_APPLICATION = None

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


def _database() -> dict[str, Any]:
    url = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The web server, workers and beat write concurrently: WAL and immediate transactions keep SQLite
        # from failing with "database is locked". The test database is a file so a real worker can share it.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, channel layer and cache. Unset means the embedded Redis that `make run` starts.
REDIS_EMBEDDED = not env_str("REDIS_URL")
REDIS_URL = env_str("REDIS_URL") or f"unix://{DATA_DIR / 'redis.sock'}"
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis://, rediss:// or unix://")


def _celery_url(redis_url: str) -> str:
    # Kombu spells a unix socket "redis+socket://"; redis-py and channels-redis spell it "unix://".
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env_str("DOCKERWEB_CELERY_QUEUE", "dockerweb")
CELERY_BEAT_SCHEDULE = {
    "refresh-all-hosts": {
        "task": "hosts.refresh_all_hosts",
        "schedule": float(HOST_REFRESH_INTERVAL),
        # A refresh older than one interval is obsolete: the next one is already on its way.
        "options": {"expires": float(HOST_REFRESH_INTERVAL)},
    },
    # Jobs whose worker died are failed (or run again), jobs that waited long for a slot are enqueued.
    "images-detect-stale-jobs": {
        "task": "images.detect_stale_jobs",
        "schedule": 30.0,
        "options": {"expires": 30.0},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout and channels-redis blocks 5 s waiting for messages:
        # without a longer timeout every consumer waiting on the layer dies after 5 idle seconds.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "dockerweb",
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request until collectstatic has run
# The dashboard (frontend/): Vite builds it into frontend/dist; dist/index.html is served by frontend.views
# at every dashboard route, its assets (dist/dashboard/*) are static files at STATIC_URL + "dashboard/".
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = (
    [("dashboard", FRONTEND_DIST / "dashboard")] if (FRONTEND_DIST / "dashboard").is_dir() else []
)
# Serve what the finders find too, so a fresh build is served before collectstatic runs (tests, development).
WHITENOISE_USE_FINDERS = True
# Vite puts a content hash in every asset name: browsers may keep them forever.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/dashboard/.+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?|svg|png)$"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hosts.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "dockerweb.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dockerweb.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "dockerweb.api.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "dockerweb API",
    "DESCRIPTION": "Team REST API for Docker hosts. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: dockerweb must work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DOCKERWEB_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # urllib3 and httpx log request lines at DEBUG; keep engine traffic out of logs.
        "urllib3": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "index"
