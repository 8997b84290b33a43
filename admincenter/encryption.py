"""Encryption at rest for the few secrets the database must hold (an OIDC client secret).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) does the work; nothing here
is hand-made crypto. The key comes from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet
keys, the first encrypts, all decrypt, so a key can be rotated) or, when unset, is derived
from ``SECRET_KEY`` with HKDF so a laptop needs no extra setting. Rotating ``SECRET_KEY``
without setting ``FIELD_ENCRYPTION_KEYS`` makes stored secrets unreadable: the connection
then asks for its secret again (``decrypt`` raises ``SecretUnreadable``).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"optiid field encryption").derive(
        secret_key.encode()
    )
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _current() -> MultiFernet:
    return _fernet(tuple(getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) or ()), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    """The Fernet token of ``plaintext`` (empty stays empty)."""
    if not plaintext:
        return ""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("The stored secret cannot be decrypted with the configured keys.") from None
