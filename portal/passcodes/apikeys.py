"""API keys for ``POST /api/passcode/verify``: created by an administrator in Settings,
shown once, stored as the SHA-256 of a 256-bit random key, revocable, scoped to that one
call. Every creation, revocation and refused key is audited (never the key itself)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from .. import audit
from ..db import write
from ..models import ApiKey, User, utcnow

SCOPE = "passcode.verify"
PREFIX = "pgk_"  # recognisable in a config file or a leaked log ("passgate key")
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write a minute per busy key


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create(actor: User, name: str) -> tuple[ApiKey, str]:
    """A new key; the raw value is returned once and never stored."""
    raw = PREFIX + secrets.token_urlsafe(32)
    with write():
        key = ApiKey.create(
            name=name.strip(),
            key_hash=digest(raw),
            prefix=raw[:12],
            scope=SCOPE,
            created_by=actor.id,
        )
        audit.record(
            "apikey.create",
            actor=actor,
            detail={"key": key.name, "id": key.id, "prefix": key.prefix},
        )
    return key, raw


def listing() -> list[ApiKey]:
    return list(ApiKey.select().order_by(ApiKey.revoked_at.is_null(False), ApiKey.id.desc()))


def revoke(actor: User, key_id: int) -> ApiKey | None:
    """Revoke a key (at once, for every instance); None when unknown or already revoked."""
    with write():
        done = (
            ApiKey.update(revoked_at=utcnow())
            .where((ApiKey.id == key_id) & ApiKey.revoked_at.is_null())
            .execute()
        )
        if not done:
            return None
        key = ApiKey.get_by_id(key_id)
        audit.record(
            "apikey.revoke",
            actor=actor,
            detail={"key": key.name, "id": key.id, "prefix": key.prefix},
        )
    return key


def bearer(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header."""
    scheme, _sep, value = (header or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 256:
        return None
    return value


def authenticate(raw: str | None, scope: str = SCOPE) -> ApiKey | None:
    """The active key ``raw`` for ``scope`` (its last use recorded), or None."""
    if not raw:
        return None
    key = ApiKey.get_or_none(ApiKey.key_hash == digest(raw))
    if key is None or key.revoked_at is not None or key.scope != scope:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        with write():
            ApiKey.update(last_used_at=now).where(ApiKey.id == key.id).execute()
        key.last_used_at = now
    return key
