"""Per-account sign-in throttling (NIST SP 800-63B-4 §3.2.2, OWASP exponential lockout).

The same rules apply to a ``User`` row and to a ``LoginThrottle`` row kept for identifiers
that match no account, so the responses cannot tell the two apart.

- ``LOCKOUT_FREE_FAILURES`` consecutive failures cost nothing;
- after the n-th (n ≥ free) the next attempt must wait base × 2^(n − free), capped;
- attempts made during a wait are refused and not counted;
- the count resets on success, or ``LOCKOUT_RESET_HOURS`` after the last failure;
- at ``LOCKOUT_HARD_LIMIT`` the account stays locked until an admin unlock or a reset.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import LoginThrottle, User, fold, utcnow


@dataclass(frozen=True)
class Rules:
    free: int = 5
    base_seconds: int = 30
    max_seconds: int = 900
    hard_limit: int = 50
    reset_hours: int = 12

    @classmethod
    def from_settings(cls, values: dict, config: dict) -> Rules:
        return cls(
            free=int(values["LOCKOUT_FREE_FAILURES"]),
            base_seconds=int(values["LOCKOUT_BASE_SECONDS"]),
            max_seconds=int(values["LOCKOUT_MAX_SECONDS"]),
            hard_limit=int(values["LOCKOUT_HARD_LIMIT"]),
            reset_hours=int(config.get("LOCKOUT_RESET_HOURS", 12)),
        )


def wait_seconds(failures: int, rules: Rules) -> int:
    """Seconds to wait after ``failures`` consecutive failures (0 while free)."""
    if failures < rules.free:
        return 0
    return min(rules.base_seconds * 2 ** (failures - rules.free), rules.max_seconds)


def retry_after(state, now: datetime | None = None) -> int | None:
    """None if an attempt may go ahead; else seconds to wait (0 = hard lock, no end)."""
    now = now or utcnow()
    if state.hard_locked:
        return 0
    if state.locked_until and state.locked_until > now:
        return max(1, math.ceil((state.locked_until - now).total_seconds()))
    return None


def failure_fields(state, rules: Rules, now: datetime | None = None) -> dict:
    """The new throttle fields after one more failure."""
    now = now or utcnow()
    count = state.failed_count or 0
    # A hard lock outlives the reset window: only an admin unlock or a reset lifts it.
    if (not state.hard_locked and state.last_failed_at
            and now - state.last_failed_at > timedelta(hours=rules.reset_hours)):
        count = 0
    count += 1
    fields = {"failed_count": count, "last_failed_at": now, "locked_until": None,
              "hard_locked": bool(state.hard_locked)}
    if count >= rules.hard_limit:
        fields["hard_locked"] = True
    elif wait_seconds(count, rules):
        fields["locked_until"] = now + timedelta(seconds=wait_seconds(count, rules))
    return fields


CLEAR = {"failed_count": 0, "last_failed_at": None, "locked_until": None, "hard_locked": False}


def anonymous_state(identifier: str) -> LoginThrottle:
    """The throttle row of an identifier that matches no account (not saved yet)."""
    key = hashlib.sha256(fold(identifier).encode("utf-8", "surrogatepass")).hexdigest()
    row = LoginThrottle.get_or_none(LoginThrottle.key == key)
    return row or LoginThrottle(key=key, failed_count=0)


def locked_state(state):
    """``state`` (a User or LoginThrottle) re-read inside the caller's write transaction
    and locked until it ends, so parallel attempts on one identifier are decided one after
    the other and none is lost. SQLite: BEGIN IMMEDIATE already serializes writers;
    PostgreSQL: SELECT … FOR UPDATE (an unknown identifier's row is created first, so
    there is a row to lock)."""
    from .db import is_sqlite

    if isinstance(state, User):
        query = User.select().where(User.id == state.id)
    else:
        LoginThrottle.insert(key=state.key, failed_count=0).on_conflict_ignore().execute()
        query = LoginThrottle.select().where(LoginThrottle.key == state.key)
    return (query if is_sqlite() else query.for_update()).get()


def save_failure(state, rules: Rules) -> dict:
    """Record one more failure on a User or LoginThrottle row; returns the new fields.

    Counted from the row as it is under the write lock (a short transaction of its own,
    or a savepoint of the caller's), so failures made in parallel all count."""
    from .db import write

    with write():
        fields = failure_fields(locked_state(state), rules)
        if isinstance(state, User):
            User.update(**fields).where(User.id == state.id).execute()
        else:  # locked_state created the row if it was missing
            LoginThrottle.update(**fields).where(LoginThrottle.key == state.key).execute()
    for key, value in fields.items():
        setattr(state, key, value)
    return fields


def clear(user: User) -> None:
    """Unlock: used on success, by an admin unlock and by a completed reset."""
    User.update(**CLEAR).where(User.id == user.id).execute()
    for key, value in CLEAR.items():
        setattr(user, key, value)


def purge_stale(rules: Rules) -> int:
    """Forget throttle rows for unknown identifiers once they no longer matter."""
    cutoff = utcnow() - timedelta(hours=rules.reset_hours)
    return (LoginThrottle.delete()
            .where((LoginThrottle.hard_locked == False)
                   & (LoginThrottle.last_failed_at < cutoff))
            .execute())
