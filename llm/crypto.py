"""Encryption at rest for secrets in the database (API keys, Slack tokens).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first: rotation = prepend a new key,
re-save, drop the old one). Without it (embedded and test modes only) a key is derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(b"officeai-field-key:" + secret_key.encode()).digest())
        keys = (derived.decode(),)
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be Fernet keys (Fernet.generate_key())") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def key_material() -> tuple[bytes, ...]:
    """The raw bytes of the project's Fernet keys, newest first (the derived key in embedded and test modes): for
    keys of a narrower purpose derived from them (attachments.crypto)."""
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        return (hashlib.sha256(b"officeai-field-key:" + settings.SECRET_KEY.encode()).digest(),)
    return tuple(base64.urlsafe_b64decode(k.encode()) for k in keys)


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("cannot decrypt a stored secret: FIELD_ENCRYPTION_KEYS changed?") from exc


class EncryptedTextField(models.TextField):
    """Plain text in Python, Fernet ciphertext in the database. Never searchable, never shown."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
