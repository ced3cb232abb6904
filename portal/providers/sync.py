"""``passgate sync-directory``: bring the directory's people into the user list.

New entries get a local row, changed ones are brought up to date (names, email, team,
must-change), and local directory accounts whose entry has gone are disabled (sessions
end, links die) — nothing is ever written to or deleted from the directory. The mail
worker runs it every ``EVERY_SECONDS`` when a directory is configured.
"""

from __future__ import annotations

import logging
import time

from .. import accounts, audit, sessions
from ..db import database
from ..models import User, fold
from . import directory_enabled, get
from .base import DirectoryUnavailable

log = logging.getLogger("passgate")

EVERY_SECONDS = 900
_last_run = time.monotonic()  # the first periodic run comes one interval after start


def sync(actor: User | None = None) -> dict:
    """One full pass. Raises DirectoryUnavailable (nothing changed locally then)."""
    from . import directory  # loaded only with a directory configured (see get())

    provider = get("sso")
    entries = provider.directory.all_entries("sync")  # network first, no transaction open
    counts = {"created": 0, "updated": 0, "unchanged": 0, "disabled": 0, "conflicts": 0}
    seen = set()
    for entry in entries:
        with database.atomic():
            user = directory.upsert(entry.profile, entry.state, actor=actor, counts=counts)
        if user is not None:
            seen.add(user.username_key)
        elif entry.profile.username:
            seen.add(fold(entry.profile.username))
    local = (
        User.select(User.id, User.username_key)
        .where((User.provider == "sso") & (User.disabled == False))
        .tuples()
    )
    for user_id, key in list(local):
        if key not in seen:
            _disable_vanished(User.get_by_id(user_id), actor)
            counts["disabled"] += 1
    return counts


def _disable_vanished(user: User, actor: User | None) -> None:
    with database.atomic():
        User.update(disabled=True, security_stamp=accounts.new_stamp()).where(
            User.id == user.id
        ).execute()
        sessions.end_all(user)
        audit.record(
            "directory.vanished", actor=actor, target=user, ip="", detail={"action": "disabled"}
        )


def run_if_due() -> dict:
    """The worker's periodic pass; a down directory is logged and audited, never raised."""
    global _last_run
    if not directory_enabled() or time.monotonic() - _last_run < EVERY_SECONDS:
        return {}
    _last_run = time.monotonic()
    try:
        return sync()
    except DirectoryUnavailable as exc:
        log.warning("directory sync skipped: %s", exc.reason)
        audit.record(
            "directory.unavailable",
            outcome="failure",
            ip="",
            detail={"operation": "sync", "reason": exc.reason[:120]},
        )
        return {}
