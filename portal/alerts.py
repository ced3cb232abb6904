"""TEMPORARY STUB (branch acct): replaced by the real module from branch ``care``
(commit "ALERTS: ..."), which mails every administrator. Same signature."""

from __future__ import annotations

from datetime import datetime

from .models import User


def notify_admins(event: str, subject: User, *, actor: User | None = None,
                  ip: str | None = None, when: datetime | None = None) -> int:
    """Alert the administrators about ``event`` concerning ``subject``; how many."""
    return 0
