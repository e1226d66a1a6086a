"""Settings per mode, checked in fresh interpreters so each module is imported as a real process would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60 + "-not-a-real-secret-but-long-and-random-enough-9f8e7d",
    "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "ai.example.com",
    "FIELD_ENCRYPTION_KEYS": "x6MhEZFkHvdl5tPRT0a2kXyyV9dO1OBWVZ8F1aY8x0c=",
    "AUDIT_HMAC_KEYS": "k1:" + "not-a-real-key-" * 3,
    "AUDIT_DIGEST_KEY": "1WcLkF0gx+S7H7Q1u0XcM3Bjq5xQq2l4o9X1hS1oWJQ=",
}


def run(code: str, settings: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in (*PROD_ENV, "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": settings, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SETUP = "import django; django.setup(); from django.conf import settings\n"


@pytest.mark.parametrize("missing", sorted(PROD_ENV))
def test_production_refuses_to_start_without(missing: str) -> None:
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = run(SETUP, "config.settings.production", env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


@pytest.mark.parametrize(("name", "value"), [("AUDIT_HMAC_KEYS", "k1:short"), ("AUDIT_DIGEST_KEY", "bm90IDMyIGJ5dGVz")])
def test_production_refuses_malformed_audit_keys(name: str, value: str) -> None:
    result = run(SETUP, "config.settings.production", {**PROD_ENV, name: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}" in result.stderr


def test_production_settings_are_hardened() -> None:
    code = SETUP + (
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS > 0,"
        " settings.DATABASES['default']['CONN_MAX_AGE'], settings.OFFICE_AI_DEV_SIGNIN,"
        " settings.CHANNEL_LAYERS['default']['BACKEND'], settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = run(code, "config.settings.production", {**PROD_ENV, "OFFICE_AI_DEV_SIGNIN": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "0",
        "False",
        "channels_redis.core.RedisChannelLayer",
        "False",
    ]


def test_dev_signin_is_unreachable_under_production() -> None:
    code = SETUP + (
        "from django.urls import NoReverseMatch, Resolver404, resolve, reverse\n"
        "try:\n    reverse('dev_signin'); print('routed')\nexcept NoReverseMatch:\n    print('no-route')\n"
        "try:\n    resolve('/accounts/dev-signin/'); print('resolved')\nexcept Resolver404:\n    print('404')\n"
        "print(settings.OFFICE_AI_DEV_SIGNIN)\n"
    )
    # Even an environment that asks for it does not turn it on.
    result = run(code, "config.settings.production", {**PROD_ENV, "OFFICE_AI_DEV_SIGNIN": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["no-route", "404", "False"]


def test_check_deploy_is_clean_under_production() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", **PROD_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_with_dev_signin_on() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", **PROD_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "officeai.E001" in result.stderr + result.stdout


def test_embedded_default_needs_no_services() -> None:
    code = SETUP + (
        "print(settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND'],"
        " settings.CELERY_TASK_ALWAYS_EAGER, settings.OFFICE_AI_DEV_SIGNIN)"
    )
    env = {"REDIS_URL": "", "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    result = run(code, "config.settings.local", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "True",
        "True",
    ]


def test_redis_url_selects_redis_layer_and_broker() -> None:
    code = SETUP + (
        "print(settings.CHANNEL_LAYERS['default']['BACKEND'], settings.CELERY_BROKER_URL,"
        " settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = run(code, "config.settings.local", {"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["channels_redis.core.RedisChannelLayer", "redis://127.0.0.1:6379/3", "False"]
