"""Trainyard settings, read from the environment with embedded defaults.

Modes (see README):
- embedded (nothing set): a SQLite file and an embedded Redis on a unix socket under the data folder;
- services: DATABASE_URL (PostgreSQL) and REDIS_URL point at running servers;
- deployment: the same, plus SECRET_KEY, ALLOWED_HOSTS and shared storage paths.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import plotly
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from webapp.env import (
    check_redis_url,
    env_bool,
    env_float,
    env_gpu_class,
    env_gpu_classes,
    env_int,
    env_list,
    env_path,
    env_str,
    redis_url_for_celery,
    s3_storage,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("TRAINYARD_DATA_DIR", BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = check_redis_url("REDIS_URL", env_str("REDIS_URL") or f"unix://{DATA_DIR / 'redis.sock'}")
EMBEDDED_REDIS = env_str("REDIS_URL") is None
# The embedded mode: a SQLite file on one machine. Only there may a demo superuser exist.
EMBEDDED = DATABASE_URL is None

DEBUG = env_bool("DEBUG", False)
# Demo mode creates the demo dataset and a demo login; on by default only in the embedded mode.
TRAINYARD_DEMO = env_bool("TRAINYARD_DEMO", DATABASE_URL is None)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if DATABASE_URL is not None and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set outside the embedded mode (DATABASE_URL is set)")
    # Embedded mode: a random key made once and kept in the data folder, never a fixed one.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "axes",
    "webapp.core",
    "webapp.teams",
    "webapp.datasets",
    "webapp.experiments",
    "webapp.sweeps",
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
    # Last, as django-axes asks: it locks out a burst of failed logins (login page and admin).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = None

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
                "webapp.core.context_processors.trainyard",
            ],
        },
    },
]

if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, 0))}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "trainyard.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: wait for the lock, take it early.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file, not memory: worker processes started by the tests must see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # Named explicitly: Channels' live-server process derives it from NAME, which the test run has
    # already switched to the test database's name.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one
# plotly.js comes from the plotly package's own files (no CDN): static/vendor/plotly/plotly.min.js
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", Path(plotly.__file__).parent / "package_data")]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = env_path("MEDIA_ROOT", DATA_DIR / "media")
MEDIA_URL = "media/"
# Where workers write checkpoints: with object storage (below) a local work folder of this host, whose
# files are uploaded; without, the one place they are kept.
CHECKPOINT_ROOT = env_path("TRAINYARD_CHECKPOINT_DIR", DATA_DIR / "checkpoints")
# Local cache of extracted datasets on a worker.
DATASET_CACHE_DIR = env_path("TRAINYARD_DATASET_CACHE_DIR", DATA_DIR / "dataset-cache")

# Object storage (S3-compatible: SeaweedFS, MinIO, AWS) for datasets, checkpoints, models and exports, so
# that any worker on any host can run or resume any experiment (docs/storage.md). Without a bucket,
# Django's default storage is MEDIA_ROOT on the local file system (the embedded mode).
TRAINYARD_S3_BUCKET = env_str("TRAINYARD_S3_BUCKET", "") or ""
TRAINYARD_S3_ENDPOINT_URL = env_str("TRAINYARD_S3_ENDPOINT_URL", "") or ""
TRAINYARD_S3_REGION = env_str("TRAINYARD_S3_REGION", "") or "us-east-1"
# The checkpoint is uploaded after every N-th epoch (and always when a run stops or ends).
TRAINYARD_CHECKPOINT_UPLOAD_EVERY = env_int("TRAINYARD_CHECKPOINT_UPLOAD_EVERY", 1, 1)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if TRAINYARD_S3_BUCKET:
    STORAGES["default"] = s3_storage(
        TRAINYARD_S3_BUCKET,
        TRAINYARD_S3_ENDPOINT_URL,
        env_str("TRAINYARD_S3_ACCESS_KEY_ID", ""),
        env_str("TRAINYARD_S3_SECRET_ACCESS_KEY", ""),
        TRAINYARD_S3_REGION,
    )

# Redis: Celery's broker and the Channels layer.
# Broker queue names are this prefix + "gpu"/"cpu"; test sessions sharing one Redis use their own.
TRAINYARD_QUEUE_PREFIX = env_str("TRAINYARD_QUEUE_PREFIX", "")
CELERY_BROKER_URL = redis_url_for_celery(REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = TRAINYARD_QUEUE_PREFIX + "cpu"
# A worker holds only the experiment it runs, so a later high-priority one is not stuck behind a
# prefetched low-priority one. A crashed worker's run is resumed by the lease reaper (below), not by
# Celery's redelivery: the visibility timeout stays far longer than any lease, and a redelivered or
# duplicate message finds the run claimed (live lease: it does nothing) or finished.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 7 * 24 * 3600,
    "queue_order_strategy": "priority",
    "priority_steps": list(range(10)),
    "sep": ":",
}
# Leases: a running experiment's worker renews `lease_expires_at` on its row every HEARTBEAT seconds;
# a lease not renewed for LEASE seconds has expired, and the reaper (every REAPER seconds on each
# worker, and once when `up` starts) resumes that run from its checkpoint, at most MAX_RESTARTS times.
TRAINYARD_HEARTBEAT_SECONDS = env_float("TRAINYARD_HEARTBEAT_SECONDS", 10.0, 0.05)
TRAINYARD_LEASE_SECONDS = env_float("TRAINYARD_LEASE_SECONDS", 60.0, 0.1)
if TRAINYARD_LEASE_SECONDS < 2 * TRAINYARD_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("TRAINYARD_LEASE_SECONDS must be at least twice TRAINYARD_HEARTBEAT_SECONDS")
TRAINYARD_REAPER_SECONDS = env_float("TRAINYARD_REAPER_SECONDS", 30.0, 0.05)
TRAINYARD_MAX_RESTARTS = env_int("TRAINYARD_MAX_RESTARTS", 3, 0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CHANNEL_LAYERS = {
    "default": {
        # Redis pub/sub: a group message is published once and each server process hands it to its own
        # sockets in the group (the list-based layer queued one copy per socket, popped one by one: a run
        # watched by a hundred viewers cost a hundred Redis round trips per message). Live messages are
        # best-effort either way: a page that missed some backfills from the database.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env_str("TRAINYARD_CHANNEL_PREFIX", "trainyard"),
        },
    }
}

# The REST API (/api/): session auth with CSRF for the pages, token auth for scripts
# (`manage.py drf_create_token USER`); errors are JSON (webapp/core/api_errors.py); lists are paginated.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Session first: an anonymous request gets 403 (Token first would answer 401 with WWW-Authenticate).
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "webapp.core.api_pages.Pages",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "webapp.core.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trainyard API",
    "DESCRIPTION": "Datasets, experiments and teams. Authenticate with a session (and CSRF token) or "
    "`Authorization: Token <key>` (`manage.py drf_create_token USER`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.core.api_schema.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ExperimentStatusEnum": "webapp.experiments.states.Status.choices",
        "DatasetStatusEnum": "webapp.datasets.api.STATES",
    },
}

# At most this many experiments of one team run at once (0: no limit), so one team cannot hold every
# worker; a worker that takes one more leaves it queued and looks again after the retry delay (seconds).
TRAINYARD_TEAM_MAX_RUNNING = env_int("TRAINYARD_TEAM_MAX_RUNNING", 0, 0)
TRAINYARD_TEAM_RETRY_SECONDS = env_int("TRAINYARD_TEAM_RETRY_SECONDS", 30, 1)

# Queue for experiments whose device is "auto": "gpu" where GPU workers serve this site.
TRAINYARD_AUTO_QUEUE = env_str("TRAINYARD_AUTO_QUEUE", "cpu")
if TRAINYARD_AUTO_QUEUE not in {"cpu", "gpu"}:
    raise ImproperlyConfigured(f"TRAINYARD_AUTO_QUEUE={TRAINYARD_AUTO_QUEUE!r} must be cpu or gpu")
# GPU classes: a worker started with TRAINYARD_GPU_CLASS=a100 serves the queue gpu-a100 besides gpu, and
# an experiment may ask for a class. The form offers these and the classes of workers seen lately.
TRAINYARD_GPU_CLASSES = env_gpu_classes("TRAINYARD_GPU_CLASSES", [])
TRAINYARD_GPU_CLASS = env_gpu_class("TRAINYARD_GPU_CLASS")

SESSION_COOKIE_HTTPONLY = True
# Scripts never read the CSRF cookie: they send the token the page holds (csrfmiddlewaretoken).
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind the deployment's reverse proxy, which ends TLS and says so in X-Forwarded-Proto (docker-compose.yml
# sets HTTPS=true). Never in the embedded mode or with DEBUG: those are served over plain HTTP.
HTTPS = env_bool("HTTPS", False) and not DEBUG
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Content Security Policy (django-csp): every script and style sheet comes from this site's static files.
# Plotly sets style attributes on its SVG elements (d3's attr("style")) and adds its rules to a <style>
# element it makes, so inline styles stay allowed; scripts never are (no inline script, no eval).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "worker-src": [SELF, "blob:"],  # Redoc (the API reference) runs its search in a worker it builds
        "connect-src": [SELF],  # 'self' covers the page's own websocket (ws:/wss: on the same host)
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# django-axes: a burst of failed logins from one address for one username locks them out for a while
# (the login page and the admin both go through Django's authenticate()).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("TRAINYARD_LOGIN_FAILURE_LIMIT", 5, 1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("TRAINYARD_LOGIN_COOLOFF_MINUTES", 15, 1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address as the server saw it; never a header a client could write itself (behind nginx,
# `daphne --proxy-headers` puts the address nginx saw here).
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# Datasets (issue 4). Caps on what an upload may hold, so an archive or an image cannot exhaust the
# disk or the memory of a worker (zip bombs, decompression bombs); every one is named in the message
# that rejects an upload.
DATASET_MAX_ENTRIES = env_int("TRAINYARD_DATASET_MAX_ENTRIES", 200_000, 1)  # files in an archive
DATASET_MAX_BYTES = env_int("TRAINYARD_DATASET_MAX_BYTES", 8 * 2**30, 1)  # unpacked size of an archive, bytes
# Unpacked/packed size of one entry; applies to entries over 1 MiB (tiny files' ratios mean nothing).
DATASET_MAX_RATIO = env_int("TRAINYARD_DATASET_MAX_RATIO", 200, 1)
DATASET_MAX_PIXELS = env_int("TRAINYARD_DATASET_MAX_PIXELS", 40_000_000, 1)  # width x height of one image
DATASET_MIN_IMAGES_PER_CLASS = env_int("TRAINYARD_DATASET_MIN_IMAGES_PER_CLASS", 5, 1)
# Folders under which an admin may register a server folder as a dataset (shared storage mounts).
DATASET_FOLDER_ROOTS = [
    Path(p).expanduser() for p in env_list("TRAINYARD_DATASET_FOLDER_ROOTS", [str(DATA_DIR / "server-datasets")])
]
for _root in DATASET_FOLDER_ROOTS:
    if not _root.is_absolute():
        raise ImproperlyConfigured(f"TRAINYARD_DATASET_FOLDER_ROOTS: {str(_root)!r} must be an absolute path")
# Where torchvision's original files (MNIST, Fashion-MNIST, CIFAR-10) are looked for, and downloaded to
# when TRAINYARD_DATASET_DOWNLOADS allows it and the machine has internet.
DATASET_TORCHVISION_DIR = env_path("TRAINYARD_TORCHVISION_DIR", DATA_DIR / "torchvision")
DATASET_DOWNLOADS = env_bool("TRAINYARD_DATASET_DOWNLOADS", True)
# Chunked, resumable uploads (webapp/datasets/chunked.py): each open upload keeps its bytes in a folder of
# its own here; one request carries at most UPLOAD_CHUNK_MAX bytes (so the proxy's body limit can stay
# small); a user has at most UPLOAD_MAX_OPEN open uploads; one without a chunk for UPLOAD_EXPIRY_SECONDS
# is removed with its bytes.
UPLOAD_DIR = env_path("TRAINYARD_UPLOAD_DIR", DATA_DIR / "uploads")
UPLOAD_CHUNK_MAX = env_int("TRAINYARD_UPLOAD_CHUNK_MAX", 16 * 2**20, 1)
UPLOAD_CHUNK_BYTES = env_int("TRAINYARD_UPLOAD_CHUNK_BYTES", 8 * 2**20, 1)  # what the upload page sends
UPLOAD_MAX_OPEN = env_int("TRAINYARD_UPLOAD_MAX_OPEN", 3, 1)
UPLOAD_EXPIRY_SECONDS = env_int("TRAINYARD_UPLOAD_EXPIRY_SECONDS", 24 * 3600, 1)
# A rejected upload leaves no row; its message waits here (Redis) for the page or the admin to show it.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "datasets": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "trainyard:" + TRAINYARD_QUEUE_PREFIX,
        # JSON, never pickle: whoever can write to Redis must not be able to run code in the web process.
        "OPTIONS": {"serializer": "webapp.core.cache.JSONSerializer"},
    },
}
