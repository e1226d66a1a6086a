"""Production: every secret and address must come from the environment; missing ones stop the start."""

from .base import *  # noqa: F403
from .base import CHANNEL_LAYERS, DATABASES, env

DEBUG = False
# env(...) without a default raises ImproperlyConfigured: the process refuses to start.
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Required. base.py has already built DATABASES (with the psycopg pool), CHANNEL_LAYERS and CACHES from these
# variables; reading them here only makes a missing one stop the start.
env.db("DATABASE_URL")
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = False

# The layer and the pool must be the production ones, not the embedded defaults.
assert CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
assert DATABASES["default"]["CONN_MAX_AGE"] == 0

OFFICE_AI_DEV_SIGNIN = False  # never, whatever the environment says
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")  # API keys and tokens at rest; required
# The audit trail's keys: required, and never derived from SECRET_KEY (rotating that must not break verification).
AUDIT_HMAC_KEYS = env.list("AUDIT_HMAC_KEYS")
AUDIT_DIGEST_KEY = env("AUDIT_DIGEST_KEY")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "__Secure-csrftoken"
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
