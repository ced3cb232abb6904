"""Invitation care (issue 10, item 6): the age and expiry of pending invitations for the
admin screens, and one reminder mail before an invitation expires.

An invitation is the newest unused ``invite`` link of an account that never had a
password, still bound to its security stamp. The reminder is sent by the background
worker (``portal/worker.py``) ``INVITE_REMINDER_HOURS`` before the link expires (0 = off),
once: the link row is claimed with a conditional UPDATE, so several workers never send it
twice. As the link itself is stored only hashed, the reminder carries a fresh link with
the same expiry, which replaces the first one (one active link per account, as always).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_timedelta

from . import audit, mail, settings, tokens
from .db import write
from .messages import text
from .models import ResetToken, User, utcnow

EVERY_SECONDS = 60  # the worker looks for invitations to remind at most this often
_last_run = 0.0


@dataclass(frozen=True)
class Invitation:
    sent_at: datetime
    expires_at: datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()


def for_users(users) -> dict[int, Invitation]:
    """{user id: newest invitation} for the accounts among ``users`` that await one."""
    ids = [u.id for u in users if getattr(u, "password_hash", None) is None]
    if not ids:
        return {}
    rows = (
        ResetToken.select(ResetToken.user, ResetToken.created_at, ResetToken.expires_at)
        .join(User)
        .where(
            ResetToken.user.in_(ids)
            & (ResetToken.purpose == "invite")
            & ResetToken.used_at.is_null()
            & (ResetToken.stamp == User.security_stamp)
            & User.password_hash.is_null()
        )
        .order_by(ResetToken.created_at)
    )
    return {row.user_id: Invitation(row.created_at, row.expires_at) for row in rows}


def of(user: User) -> Invitation | None:
    return for_users([user]).get(user.id)


def _ago(moment: datetime, now: datetime) -> str:
    return format_timedelta(moment - now, granularity="minute", add_direction=True)


def note(invitation: Invitation) -> str:
    """ "Sent 2 days ago, expires in 1 day" / "Expired 3 hours ago" (request's language)."""
    now = utcnow()
    if invitation.expires_at <= now:
        return text("INVITATION_EXPIRED", when=_ago(invitation.expires_at, now))
    return text(
        "INVITATION_AGE",
        sent=_ago(invitation.sent_at, now),
        when=_ago(invitation.expires_at, now),
    )


# --- reminders (background worker) ------------------------------------------------------


def lead() -> timedelta | None:
    hours = int(settings.get("INVITE_REMINDER_HOURS"))
    return timedelta(hours=hours) if hours > 0 else None


def candidates(now: datetime | None = None) -> list[int]:
    """Ids of the invitation links due a reminder: expiring within the lead time, not yet
    reminded, of an enabled account with an address and still no password. An invitation
    whose whole lifetime is shorter than the lead time gets none (it was just sent)."""
    ahead = lead()
    if ahead is None:
        return []
    now = now or utcnow()
    rows = (
        ResetToken.select(ResetToken.id, ResetToken.created_at, ResetToken.expires_at)
        .join(User)
        .where(
            (ResetToken.purpose == "invite")
            & ResetToken.used_at.is_null()
            & ResetToken.reminded_at.is_null()
            & (ResetToken.expires_at > now)
            & (ResetToken.expires_at <= now + ahead)
            & (ResetToken.stamp == User.security_stamp)
            & User.password_hash.is_null()
            & (User.disabled == False)
            & User.email.is_null(False)  # noqa: E712
            & (User.email != "")
        )
        .order_by(ResetToken.expires_at)
        .limit(500)
    )
    return [row.id for row in rows if row.expires_at - row.created_at > ahead]


def remind(token_id: int, now: datetime | None = None) -> bool:
    """Send the reminder of one invitation, if this worker claims it first."""
    now = now or utcnow()
    raw, digest = tokens.new_token()
    with write():
        # The claim: the first worker to run this sets reminded_at; any other finds it set.
        claimed = (
            ResetToken.update(reminded_at=now, used_at=now)
            .where(
                (ResetToken.id == token_id)
                & ResetToken.reminded_at.is_null()
                & ResetToken.used_at.is_null()
                & (ResetToken.expires_at > now)
            )
            .execute()
        )
        if claimed != 1:
            return False
        old = ResetToken.select(ResetToken, User).join(User).where(ResetToken.id == token_id).get()
        user = old.user
        token = ResetToken.create(
            user=user,
            token_hash=digest,
            purpose="invite",
            stamp=old.stamp,
            created_at=now,
            expires_at=old.expires_at,
            reminded_at=now,
        )
        link = settings.get("BASE_URL").rstrip("/") + f"/password/reset/{raw}"
        mail.queue("invite_reminder", user.email, user=user, link=link, expires_at=token.expires_at)
        audit.record(
            "invite.reminder",
            target=user,
            ip="",
            detail={"expires_at": token.expires_at.isoformat(timespec="minutes")},
        )
    return True


def send_reminders(force: bool = False) -> int:
    """The worker's step: remind every due invitation (at most every ``EVERY_SECONDS``)."""
    global _last_run
    if not force and time.monotonic() - _last_run < EVERY_SECONDS:
        return 0
    _last_run = time.monotonic()
    return sum(remind(token_id) for token_id in candidates())


def init_app(app) -> None:
    app.jinja_env.globals.update(invitations_for=for_users, invitation_of=of, invitation_note=note)
