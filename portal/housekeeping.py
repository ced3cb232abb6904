"""Periodic clean-up run by the mail worker: nothing sensitive or dead lingers forever."""

from __future__ import annotations

import time
from datetime import timedelta

from . import settings, throttle
from .models import RecoveryRequest, ResetToken, UserSession, utcnow

EVERY_SECONDS = 600
_last_run = 0.0


def run(force: bool = False) -> dict:
    """Delete expired sessions, spent links, old requests and stale throttle rows."""
    global _last_run
    if not force and time.monotonic() - _last_run < EVERY_SECONDS:
        return {}
    _last_run = time.monotonic()
    now = utcnow()
    idle = now - timedelta(minutes=settings.get("SESSION_IDLE_MINUTES"))
    absolute = now - timedelta(hours=settings.get("SESSION_ABSOLUTE_HOURS"))
    month = now - timedelta(days=30)
    return {
        "sessions": UserSession.delete()
        .where((UserSession.last_seen_at < idle) | (UserSession.created_at < absolute))
        .execute(),
        # Spent links are kept a day for the per-account mail limit, then go.
        "tokens": ResetToken.delete()
        .where(ResetToken.expires_at < now - timedelta(days=1))
        .execute(),
        "requests": RecoveryRequest.delete().where(RecoveryRequest.processed_at < month).execute(),
        "throttle": throttle.purge_stale(throttle.Rules.current()),
    }
