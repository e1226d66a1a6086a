"""Tests: fast hasher, locmem email. DATABASE_URL/REDIS_URL from the environment select Postgres/Redis (CI)."""

import os
import uuid

# One prefix per test run, inherited by the daphne processes the tests start: concurrent runs sharing a Redis
# (developers, CI) never read each other's reply buffers, groups or cache keys.
os.environ.setdefault("REDIS_KEY_PREFIX", f"officeai-test-{uuid.uuid4().hex[:8]}")

from .base import *  # noqa: F403
from .base import STORAGES as BASE_STORAGES
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-not-secret-" + "y" * 40)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Browser tests sign in with the dev sign-in, exactly as a person does in the embedded mode.
OFFICE_AI_DEV_SIGNIN = True
GOOGLE_CLIENT_ID = "test-client-id.apps.googleusercontent.com"
SOCIALACCOUNT_PROVIDERS["google"]["APPS"] = [{"client_id": GOOGLE_CLIENT_ID, "secret": "test-secret", "key": ""}]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Each test gets its own folder (tests/conftest.py): digests must not outlive the rows they vouch for.
    "audit_digests": BASE_STORAGES["audit_digests"],
    "attachments": BASE_STORAGES["attachments"],  # tests/attachments point it at a folder of their own
}
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", ".example.test"]
# Off unless a test turns it on (tests/chat/test_sidebar.py): the title call is one more upstream request and one
# more llm.chat entry after every first answer, which tests counting those do not expect.
CHAT_MODEL_TITLES = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: threads (consumers, concurrent audit writers) then get real locking with
    # the busy timeout instead of "database table is locked".
    # TEST_SQLITE_NAME: a file of its own for a second test run on the same checkout.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_SQLITE_NAME", default=str(BASE_DIR / "var" / "test-db.sqlite3"))}
    (BASE_DIR / "var").mkdir(exist_ok=True)

# daphne started by tests serves static files from the source folders (no collectstatic needed; DEBUG is off).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
