"""The embedded default: SQLite, in-memory channel layer, eager Celery, fake model, dev sign-in."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-dev-only-not-secret-" + "x" * 40)
OFFICE_AI_DEV_SIGNIN = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Plain static files (no manifest to build); the other aliases (audit digests, attachments) as in base.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
