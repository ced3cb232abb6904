"""Ways in and proofs of identity: mailed links, forgot-password requests, server-side
sessions, the sign-in throttle of unknown identifiers, and API keys."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow
from .people import User


class ResetToken(BaseModel):
    """A mailed link. Only the SHA-256 of the token is stored."""

    id = pw.AutoField()
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    token_hash = pw.CharField(max_length=64, unique=True)
    # reset | invite (password links), confirm_email | confirm_backup (an address to
    # confirm, in ``data``), not_me_reset | not_me_lock ("this wasn't me", portal/links.py)
    purpose = pw.CharField(max_length=16, default="reset")
    stamp = pw.CharField(max_length=32)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)
    data = pw.CharField(max_length=254, default="")
    reminded_at = pw.DateTimeField(null=True)  # invitation reminder sent (migration 0010)


class RecoveryRequest(BaseModel):
    """A forgot-password request, resolved by the mail worker.

    The web request only stores what was typed, so its work and timing are the same
    whether or not an account matches.
    """

    id = pw.AutoField()
    identifier = pw.CharField(max_length=254)
    provider = pw.CharField(max_length=16, default="identity")
    language = pw.CharField(max_length=8, default="en")
    ip = pw.CharField(max_length=64, default="")
    user_agent = pw.CharField(max_length=255, default="")
    created_at = pw.DateTimeField(default=utcnow)
    processed_at = pw.DateTimeField(null=True, index=True)


class UserSession(BaseModel):
    """Server-side session record. The cookie holds a random id; only its hash is stored."""

    id_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    authenticated_at = pw.DateTimeField(default=utcnow)  # last password entry (step-up)
    ip = pw.CharField(max_length=64, default="")
    user_agent = pw.CharField(max_length=255, default="")


class LoginThrottle(BaseModel):
    """Throttle state for identifiers that match no account (same rules as a User)."""

    key = pw.CharField(max_length=64, primary_key=True)
    failed_count = pw.IntegerField(default=0)
    last_failed_at = pw.DateTimeField(null=True)
    locked_until = pw.DateTimeField(null=True)
    hard_locked = pw.BooleanField(default=False)


class ApiKey(BaseModel):
    """A key another system uses to call ``POST /api/passcode/verify``. Only the SHA-256 of
    the 256-bit key is stored; ``prefix`` (its first characters) helps tell keys apart."""

    id = pw.AutoField()
    name = pw.CharField(max_length=64)
    key_hash = pw.CharField(max_length=64, unique=True)
    prefix = pw.CharField(max_length=12)
    scope = pw.CharField(max_length=32, default="passcode.verify")
    created_by = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)
