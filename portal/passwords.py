"""Password hashing.

bcrypt sees at most 72 bytes, so every password is first reduced with
HMAC-SHA-384 (keyed with a pepper derived from the secret key) and base64-encoded
(64 ASCII bytes): long and non-ASCII passwords are verified in full, never truncated,
and bcrypt never raises on length (OWASP Password Storage cheat sheet, "pre-hashing").
The stored value stays a plain ``$2b$`` bcrypt hash so the cost can be read and raised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

import bcrypt

from . import settings
from .policy import normalize

_dummy_lock = threading.Lock()
_dummy_hashes: dict[int, bytes] = {}

# Unambiguous characters for temporary passwords that are read aloud or typed from paper:
# no 0/O/o, 1/l/I, 5/S, 2/Z, 8/B.
TEMP_ALPHABET = "ACDEFGHJKMNPQRTUVWXYabcdefghijkmnpqrstuvwxyz34679"


def _pepper() -> bytes:
    key = settings.get("SECRET_KEY")
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"passgate password pepper v1", hashlib.sha256).digest()


def _prehash(password: str) -> bytes:
    digest = hmac.new(
        _pepper(), normalize(password).encode("utf-8", "surrogatepass"), hashlib.sha384
    ).digest()
    return base64.b64encode(digest)


def _rounds() -> int:
    return int(settings.get("BCRYPT_ROUNDS"))


def hash_password(password: str) -> str:
    """Return a bcrypt hash of the (pre-hashed) password at the configured cost."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(_rounds())).decode("ascii")


def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password. With no hash, spend the same time on a dummy hash and fail."""
    if not hashed:
        bcrypt.checkpw(_prehash(password), _dummy_hash())
        return False
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:
        return False


def needs_rehash(hashed: str) -> bool:
    """True when the stored cost differs from the configured one."""
    try:
        return int(hashed.split("$")[2]) != _rounds()
    except (IndexError, ValueError):
        return True


def _dummy_hash() -> bytes:
    """A hash at the configured cost, made once, so unknown users cost one real bcrypt."""
    rounds = _rounds()
    with _dummy_lock:
        if rounds not in _dummy_hashes:
            _dummy_hashes[rounds] = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))
        return _dummy_hashes[rounds]


def generate_temporary(length: int = 20) -> str:
    """A random password grouped in fours for reading aloud, e.g. ``Kq7d-Xm3a-…``.

    20 characters from a 49-symbol alphabet is about 112 bits.
    """
    chars = "".join(secrets.choice(TEMP_ALPHABET) for _ in range(length))
    return "-".join(chars[i : i + 4] for i in range(0, length, 4))
