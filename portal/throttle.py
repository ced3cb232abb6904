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

from peewee import Case

from . import devices, passwords, settings
from .db import write
from .messages import text
from .models import LoginThrottle, User, fold, utcnow


@dataclass(frozen=True)
class Rules:
    free: int = 5
    base_seconds: int = 30
    max_seconds: int = 900
    hard_limit: int = 50
    reset_hours: int = 12

    @classmethod
    def current(cls) -> Rules:
        """The rules in force (organisation settings over the configuration)."""
        return cls(
            free=int(settings.get("LOCKOUT_FREE_FAILURES")),
            base_seconds=int(settings.get("LOCKOUT_BASE_SECONDS")),
            max_seconds=int(settings.get("LOCKOUT_MAX_SECONDS")),
            hard_limit=int(settings.get("LOCKOUT_HARD_LIMIT")),
            reset_hours=int(settings.get("LOCKOUT_RESET_HOURS", 12)),
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
    """The new throttle fields after one more failure (pure; see ``save_failure``)."""
    now = now or utcnow()
    count = state.failed_count or 0
    # A hard lock outlives the reset window: only an admin unlock or a reset lifts it.
    if (
        not state.hard_locked
        and state.last_failed_at
        and now - state.last_failed_at > timedelta(hours=rules.reset_hours)
    ):
        count = 0
    return _fields_for(count + 1, bool(state.hard_locked), rules, now)


def _fields_for(count: int, hard: bool, rules: Rules, now: datetime) -> dict:
    fields = {
        "failed_count": count,
        "last_failed_at": now,
        "locked_until": None,
        "hard_locked": hard,
    }
    if count >= rules.hard_limit:
        fields["hard_locked"] = True
    elif wait_seconds(count, rules):
        fields["locked_until"] = now + timedelta(seconds=wait_seconds(count, rules))
    return fields


CLEAR = {"failed_count": 0, "last_failed_at": None, "locked_until": None, "hard_locked": False}


def key_of(identifier: str) -> str:
    """The throttle key of a typed identifier (its folded form, hashed: no names stored)."""
    return hashlib.sha256((fold(identifier) or "").encode("utf-8", "surrogatepass")).hexdigest()


def identifier_state(identifier: str) -> LoginThrottle:
    """The throttle row of a typed identifier (not saved yet if it has no failure).

    Every typed identifier has one, whether or not it names an account, so a username and
    an email behave alike whether or not they belong together (issue 11, finding 3).
    """
    key = key_of(identifier)
    row = LoginThrottle.get_or_none(LoginThrottle.key == key)
    return row or LoginThrottle(key=key, failed_count=0)


def save_failure(state, rules: Rules) -> dict:
    """Record one failure on a User or LoginThrottle row; returns the new fields.

    The count is incremented in the database (``failed_count = failed_count + 1``), never
    read and written back, so simultaneous failures are all counted. The wait then follows
    from the count this failure reached; only the latest failure sets it.
    """
    now = utcnow()
    model = User if isinstance(state, User) else LoginThrottle
    if model is User:
        where = User.id == state.id
    else:
        where = LoginThrottle.key == state.key
        LoginThrottle.insert(key=state.key, failed_count=0).on_conflict_ignore().execute()
    stale = (
        (model.hard_locked == False)
        & model.last_failed_at.is_null(False)  # noqa: E712
        & (model.last_failed_at < now - timedelta(hours=rules.reset_hours))
    )
    with write():
        (
            model.update(
                failed_count=Case(None, [(stale, 1)], model.failed_count + 1), last_failed_at=now
            )
            .where(where)
            .execute()
        )
        count, hard = (
            model.select(model.failed_count, model.hard_locked).where(where).tuples().get()
        )
        fields = _fields_for(count, bool(hard), rules, now)
        (
            model.update(locked_until=fields["locked_until"], hard_locked=fields["hard_locked"])
            .where(where & (model.failed_count == count))
            .execute()
        )
    for key, value in fields.items():
        setattr(state, key, value)
    return fields


def clear(user: User) -> None:
    """Unlock: on success, by an admin unlock and by a completed reset. The account's own
    counter and those of its username and email go."""
    User.update(**CLEAR).where(User.id == user.id).execute()
    clear_identifiers(user)
    for key, value in CLEAR.items():
        setattr(user, key, value)


def forget(state: LoginThrottle) -> None:
    LoginThrottle.delete().where(LoginThrottle.key == state.key).execute()


def clear_identifiers(user: User) -> None:
    keys = [key_of(v) for v in (user.username, user.email) if v]
    LoginThrottle.delete().where(LoginThrottle.key.in_(keys)).execute()


def refusal_message(seconds: int) -> str:
    """What to say when a password may not be checked now (``seconds`` 0 = hard lock)."""
    if not seconds:
        return text("THROTTLE_LOCKED")
    return text("THROTTLE_WAIT", num=max(1, -(-seconds // 60)))


@dataclass
class Verdict:
    ok: bool
    retry_after: int | None = None  # set when refused unchecked, during a wait (0 = hard lock)


def verify_password(user: User, password: str, check=None) -> Verdict:
    """Check a signed-in user's password again (step-up, change of password) under the
    same throttle as sign-in: refused during a wait, a failure counts (issue 11, finding 2).

    From a device that signed in before, the device's own counter decides instead of the
    account's (finding 4). One bcrypt verification on every path.
    """
    rules = Rules.current()
    device = devices.state_for(user)
    # ``check``: the account's provider (the directory for ``sso`` accounts).
    matches = (
        check(user, password)
        if check is not None
        else passwords.verify_password(password, user.password_hash)
    )
    wait = retry_after(device if device is not None else user)
    if wait is not None:
        return Verdict(False, wait)
    if matches:
        return Verdict(True)
    if device is not None:
        save_failure(device, rules)
    save_failure(user, rules)
    return Verdict(False)


def purge_stale(rules: Rules) -> int:
    """Forget throttle rows for unknown identifiers once they no longer matter."""
    cutoff = utcnow() - timedelta(hours=rules.reset_hours)
    return (
        LoginThrottle.delete()
        .where((LoginThrottle.hard_locked == False) & (LoginThrottle.last_failed_at < cutoff))
        .execute()
    )
