"""Encryption at rest for secrets stored in the database (TLS keys, registry passwords).

Fernet (AES-128-CBC + HMAC-SHA256) keys are derived with HKDF from `settings.ENCRYPTION_KEYS`; the first key
encrypts and every key decrypts, so a key can be rotated without losing data.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class DecryptionError(Exception):
    """Stored ciphertext that none of the configured keys can open."""


def _derive(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"dockerweb", info=b"field-encryption").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(key) for key in keys])


def _current() -> MultiFernet:
    return _cipher(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted: DOCKERWEB_ENCRYPTION_KEY (or the secret key) changed. "
            "Put the old key after the new one in DOCKERWEB_ENCRYPTION_KEY to rotate."
        ) from exc
