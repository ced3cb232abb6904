"""Encryption at rest of what must not sit in the database in clear (queued mail that
carries a link or a password, bulk-reset results): Fernet with a key derived from the
secret key and a purpose label, so each use has its own key."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

from . import settings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def fernet(purpose: bytes) -> Fernet:
    # Imported here, not at the top: ``cryptography`` adds about 8 MB to every server
    # process (OpenSSL bindings) and only mail carrying a secret or a bulk reset need it.
    from cryptography.fernet import Fernet

    key = settings.get("SECRET_KEY")
    key = key.encode() if isinstance(key, str) else key
    derived = hmac.new(key, purpose, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(purpose: bytes, text: str) -> str:
    return fernet(purpose).encrypt(text.encode()).decode()


def decrypt(purpose: bytes, token: str) -> str | None:
    """The text, or None when it cannot be read (the secret key changed since)."""
    # Imported here for the same reason as in fernet().
    from cryptography.fernet import InvalidToken

    try:
        return fernet(purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
