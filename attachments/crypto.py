"""Files at rest: each company's files are encrypted with keys of its own, derived (HKDF-SHA256) from the project's
Fernet keys (``FIELD_ENCRYPTION_KEYS``, newest first). Rotating those keys rotates every company's: a file written
under an older key still decrypts until that key is dropped."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured

from llm.crypto import key_material


@cache
def _tenant_fernet(tenant_id: int, keys: tuple[bytes, ...]) -> MultiFernet:
    derived = []
    for key in keys:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"officeai-attachments:{tenant_id}".encode())
        derived.append(Fernet(base64.urlsafe_b64encode(hkdf.derive(key))))
    return MultiFernet(derived)


def tenant_fernet(tenant_id: int) -> MultiFernet:
    return _tenant_fernet(tenant_id, key_material())


def encrypt_for(tenant_id: int, data: bytes) -> bytes:
    return tenant_fernet(tenant_id).encrypt(data)


def decrypt_for(tenant_id: int, token: bytes) -> bytes:
    try:
        return tenant_fernet(tenant_id).decrypt(token)
    except InvalidToken as exc:
        raise ImproperlyConfigured("cannot decrypt an attachment: FIELD_ENCRYPTION_KEYS changed?") from exc
