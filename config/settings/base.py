"""Settings shared by every mode. Everything that differs between machines comes from the environment."""

from pathlib import Path
from typing import Any

import django_stubs_ext
import environ

# Lets ModelAdmin[Model], QuerySet[Model] etc. be subscripted at run time, as django-stubs types them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    # The OS environment wins over the file.
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -------------------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SITE_ID = 1

# --- Database ---------------------------------------------------------------------------------------------------
# The embedded default is SQLite next to manage.py; production points DATABASE_URL at PostgreSQL.
# An empty DATABASE_URL counts as unset.
DATABASES = {
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
# Under ASGI every request may run on a different thread: persistent connections would leak (Django async docs).
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (daphne, Celery eager) write at once in the embedded mode; wait rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Without a pool, CONN_MAX_AGE = 0 opens a PostgreSQL session for every database_sync_to_async call. With
    # Django's psycopg pool each call borrows a connection and returns it when the call closes it (CONN_MAX_AGE
    # must stay 0). Borrowers in one daphne process: the one thread every consumer's thread-sensitive call shares,
    # one thread per HTTP request in flight, the loop's default executor (min(32, CPUs + 4) threads) and eager
    # Celery. Ten covers that on a few CPUs; more borrowers wait (pool timeout 30 s) rather than crowd PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
    }

# --- Applications -----------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",  # must come first: its runserver serves HTTP and websockets
    "config.apps.OfficeAdminConfig",  # replaces django.contrib.admin with the tenant-aware site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "tenants",
    "audit",
    "llm",
    "usage",
    "attachments",
    "chat",
    "slack",
    "ops",
]

MIDDLEWARE = [
    "ops.logs.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "config.middleware.BrowserTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

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
                "tenants.context_processors.office",
            ],
        },
    },
]

# --- Users, sign-in ---------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "tenants.backends.TenantModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# People sign in with Google only: no local signup, no password form (allauth SOCIALACCOUNT_ONLY).
SOCIALACCOUNT_ONLY = True
ACCOUNT_EMAIL_VERIFICATION = "none"  # required by SOCIALACCOUNT_ONLY; Google's email_verified is enforced instead
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "tenants.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "tenants.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False  # the Google button POSTs (CSRF-protected)
# A user an admin created before their first sign-in is linked by the verified Google email. The adapter has
# already checked that the email's domain belongs to the user's tenant, so this cannot cross tenants.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False
GOOGLE_CLIENT_ID = env("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env("GOOGLE_CLIENT_SECRET", default="")
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}]
        if GOOGLE_CLIENT_ID
        else [],
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online", "prompt": "select_account"},
        "OAUTH_PKCE_ENABLED": True,
        "FETCH_USERINFO": False,
    }
}

# Dev sign-in (sign in as a seeded user without Google) exists only in the embedded local mode.
# production.py forces it off and a system check refuses to deploy with it on.
OFFICE_AI_DEV_SIGNIN = False

# --- Internationalisation ---------------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]  # each name in its own language
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Tokyo")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # whitenoise's compressed, hashed storage; also rewrites the chat page's ES module imports (config/storage.py).
    "staticfiles": {"BACKEND": "config.storage.StaticModulesStorage"},
}

# --- Redis: channel layer, Celery broker, cache -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Every Redis key of this installation starts with this (channel layer, cache, reply buffers): two installations,
# or two test runs, can share one Redis without seeing each other's messages.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="officeai")
if REDIS_URL:
    # Read timeout well above channels_redis's 5 s BZPOPMIN: redis-py 8's 5 s default races it (channels_redis#422).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,  # TCP keepalive finds a vanished Redis host between commands
                        "health_check_interval": 30,  # PING a pooled connection idle this long before reusing it
                    }
                ],
                "prefix": f"{REDIS_KEY_PREFIX}:ws",
            },
        }
    }
    # The cache sends only request/response commands (no blocking reads), so redis-py's 5 s read timeout cannot
    # race anything here: it stays a fail-fast bound. Same for the Celery broker below (kombu's BRPOP waits 1 s).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------------------------
# Embedded mode never connects to a broker (eager); kombu still parses the URL, and warns when it names no host.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or env("CELERY_BROKER_URL", default=""))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
    # Every broker key (the queue, kombu's bindings and unacked sets) under this installation's prefix, like the
    # channel layer and the cache: two installations or two test runs on one Redis never share a queue.
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = f"{REDIS_KEY_PREFIX}:celery:"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE

# --- Security defaults (production.py tightens further) ---------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14

ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")

# --- Logging ----------------------------------------------------------------------------------------------------
LOG_FORMAT = env("LOG_FORMAT", default="plain")  # "json": one object per line, for a log collector
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "filters": {
        "context": {"()": "ops.logs.ContextFilter"},
        "client_errors_short": {"()": "ops.logs.ClientErrorWithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "client_errors_short"],
        }
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Through root only: Django's own console handler (DEBUG) would print each line a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # daphne's runserver prints each request itself; do not log it a second time through root.
        "django.channels.server": {"propagate": False},
    },
}

# --- Audit trail --------------------------------------------------------------------------------------------------
# Keys held outside the database (docs/audit.md, "Threat model"). Empty: derived from SECRET_KEY (embedded and test
# modes; production requires the first two).
# Seals every entry (HMAC-SHA256): "<id>:<secret>" pairs, newest first; old ids stay to verify old entries.
AUDIT_HMAC_KEYS: list[str] = env.list("AUDIT_HMAC_KEYS", default=[])
# Signs the chain-head digests and export manifests (Ed25519 seed, 32 bytes in base64; manage.py audit_keys --new).
AUDIT_DIGEST_KEY = env("AUDIT_DIGEST_KEY", default="")
# Public keys (base64) of digest keys rotated out: their digests still verify.
AUDIT_DIGEST_RETIRED_PUBLIC_KEYS: list[str] = env.list("AUDIT_DIGEST_RETIRED_PUBLIC_KEYS", default=[])
# Where digests are written: keep it where the database's users cannot write (write-once storage in production).
AUDIT_DIGEST_DIR = env.path("AUDIT_DIGEST_DIR", default=BASE_DIR / "var" / "audit-digests")
# Files attached in the chat, encrypted per company (attachments.crypto) before they are written. Production may
# point this alias at S3-compatible storage with django-storages (docs/attachments.md).
ATTACHMENT_DIR = env.path("ATTACHMENT_DIR", default=BASE_DIR / "var" / "attachments")
STORAGES["attachments"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(ATTACHMENT_DIR), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
}
if ATTACHMENT_S3_BUCKET := env("ATTACHMENT_S3_BUCKET", default=""):
    # S3 or any S3-compatible store (MinIO, Ceph, Wasabi): private objects, never overwritten, no public URLs.
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENT_S3_BUCKET,
            "endpoint_url": env("ATTACHMENT_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("ATTACHMENT_S3_REGION", default="") or None,
            "access_key": env("ATTACHMENT_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("ATTACHMENT_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env("ATTACHMENT_S3_PREFIX", default="attachments"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }

STORAGES["audit_digests"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(AUDIT_DIGEST_DIR), "file_permissions_mode": 0o440, "directory_permissions_mode": 0o750},
}
# Seconds between digests (beat): what was chained since the newest digest is sealed, but not yet vouched for.
AUDIT_DIGEST_INTERVAL = env.int("AUDIT_DIGEST_INTERVAL", default=300)
# Signs retention checkpoints; defaults to a key derived from SECRET_KEY.
AUDIT_SIGNING_KEY = env("AUDIT_SIGNING_KEY", default="")
# Exports above this many rows run as a Celery job with progress instead of streaming in the request.
AUDIT_EXPORT_INLINE_MAX_ROWS = env.int("AUDIT_EXPORT_INLINE_MAX_ROWS", default=50_000)
AUDIT_EXPORT_DIR = env.path("AUDIT_EXPORT_DIR", default=BASE_DIR / "var" / "exports")
AUDIT_EXPORT_TTL_DAYS = env.int("AUDIT_EXPORT_TTL_DAYS", default=7)  # prepared export files are deleted after
# Publishing must fail fast when the broker is down: the outbox row is committed and the sweep chains it.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS.update(
    {
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        # Give up dialling a dead broker within about a second (kombu's connection failover options).
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
)
CELERY_BEAT_SCHEDULE = {
    # every minute
    "audit-pending-sweep": {"task": "audit.tasks.audit_pending_sweep_task", "schedule": 60.0},
    # daily
    "audit-retention": {"task": "audit.tasks.audit_retention_task", "schedule": 24 * 60 * 60.0},
    # every minute: answers whose process died mid-reply are closed and audited
    "chat-stale-replies": {"task": "chat.tasks.chat_stale_replies_task", "schedule": 60.0},
    # hourly
    "audit-export-cleanup": {"task": "audit.tasks.audit_export_cleanup_task", "schedule": 60 * 60.0},
    # signed digests of every chain head that moved, out of the database
    "audit-digests": {"task": "audit.tasks.audit_digests_task", "schedule": float(AUDIT_DIGEST_INTERVAL)},
    # daily: every chain re-verified, the result recorded and shown on the reviewer pages
    "audit-verify": {"task": "audit.tasks.audit_verify_task", "schedule": 24 * 60 * 60.0},
    # Attached files past their company's retention (Tenant.attachment_retention_days).
    "attachments-expire": {"task": "attachments.tasks.attachments_expire_task", "schedule": 24 * 60 * 60.0},
}

# --- Operations ---------------------------------------------------------------------------------------------------
# /metrics answers these addresses (CIDRs allowed), or any request with "Authorization: Bearer <METRICS_TOKEN>".
METRICS_ALLOWED_IPS: list[str] = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# Live deployment checks (admin save, "Test connection", health page, llm_health) give up after this many seconds,
# whatever the deployment's own timeouts.
LLM_ADMIN_CHECK_TIMEOUT = env.float("LLM_ADMIN_CHECK_TIMEOUT", default=10.0)
# Every model call goes through this HTTP(S) proxy unless its deployment names its own (or "direct"): a fixed
# egress address that the Azure resources' network rules admit (docs/deploy.md).
LLM_EGRESS_PROXY = env("LLM_EGRESS_PROXY", default="")

# --- Chat ---------------------------------------------------------------------------------------------------------
# After the first answer of a web conversation, the same model names it (a small audited call, chat/titles.py);
# off: conversations keep the first words of their question as their title.
CHAT_MODEL_TITLES = env.bool("CHAT_MODEL_TITLES", default=True)
# Seconds the title call may take, all deployments together; then the first words stay.
CHAT_TITLE_TIMEOUT = env.float("CHAT_TITLE_TIMEOUT", default=20.0)

# --- Secrets at rest ----------------------------------------------------------------------------------------------
# Fernet keys, newest first. Empty: derived from SECRET_KEY (production requires explicit keys).
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Usage and budgets --------------------------------------------------------------------------------------------
# Currency of new prices and budgets (ISO 4217).
USAGE_DEFAULT_CURRENCY = env("USAGE_DEFAULT_CURRENCY", default="USD")
# every 5 minutes: the Redis budget counters are reset to the database's rollup (the truth)
CELERY_BEAT_SCHEDULE["usage-reconcile"] = {"task": "chat.tasks.chat_usage_reconcile_task", "schedule": 300.0}

# --- Slack --------------------------------------------------------------------------------------------------------
# The Web API base URL: a local fake Slack in tests and staging (docs/slack.md).
SLACK_API_BASE_URL = env("SLACK_API_BASE_URL", default="https://slack.com/api/")
# Where people open the web chat; Slack links to it where it sends people to the web UI (files). Empty: no link.
OFFICE_AI_URL = env("OFFICE_AI_URL", default="")
# Seconds a Slack answer may stream before it is cut off and posted with a warning: the model client's own overall
# limit (600 s per answer). The Slack task's Celery time limits sit above it (slack.tasks), so the person always
# gets a final message in the thread, never a frozen placeholder.
SLACK_REPLY_BUDGET = env.float("SLACK_REPLY_BUDGET", default=600.0)
# every minute: events whose enqueue was lost (broker down at commit) are queued again
CELERY_BEAT_SCHEDULE["slack-stranded-events"] = {"task": "slack.tasks.slack_stranded_requeue_task", "schedule": 60.0}
