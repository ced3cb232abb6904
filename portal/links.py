"""Mailed single-use links (recovery and invitations): who may get one, issue, look up,
consume, release, void.

One active link per account: issuing a new one voids the others (marked used, so the rows
stay and the per-account mail limit can count them). A link is bound to the account's
security stamp, so a password, email or disable change kills it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import mail, settings, tokens
from .db import insert_rows, write
from .models import AuditEvent, OutboxMail, ResetToken, User, utcnow


def refusal(user: User | None) -> str | None:
    """Who may get a link (recovery, invitation): None when ``user`` may, otherwise why
    not: "no_match", "disabled", "no_email", or "directory_account" (a directory account
    while no directory is configured)."""
    if user is None:
        return "no_match"
    if user.disabled:
        return "disabled"
    if not user.email:
        return "no_email"
    if user.provider != "identity" and not settings.get("LDAP_URL", None):
        return "directory_account"
    return None


def pending_ids(user_ids: list[int]) -> set[int]:
    """Which of these accounts hold a link that still works (unused, unexpired, issued
    under the account's current security stamp)."""
    if not user_ids:
        return set()
    rows = (ResetToken.select(ResetToken.user, ResetToken.stamp, User.security_stamp)
            .join(User).where(ResetToken.user.in_(user_ids) & ResetToken.used_at.is_null()
                              & (ResetToken.expires_at > utcnow())).tuples())
    return {uid for uid, stamp, current in rows if stamp == current}


def has_pending(user: User) -> bool:
    return user.id in pending_ids([user.id])


def purpose_for(user: User) -> str:
    """An invitation for an account that never had a password, a recovery link otherwise."""
    return "reset" if user.password_hash else "invite"


def issue(user: User, purpose: str, *, language: str | None = None) -> ResetToken:
    """Create the one active link of ``user`` and queue its mail (same transaction)."""
    raw, digest = tokens.new_token()
    now = utcnow()
    with write():
        void(user, now)
        token = ResetToken.create(user=user, token_hash=digest, purpose=purpose,
                                  stamp=user.security_stamp, created_at=now,
                                  expires_at=settings.link_expiry(purpose, now))
        link = settings.get("BASE_URL").rstrip("/") + f"/password/reset/{raw}"
        mail.queue(purpose, user.email, user=user, language=language,
                   link=link, expires_at=token.expires_at)
    return token


def issue_many(users: list[User], audit_rows: list[dict]) -> None:
    """``issue`` for many accounts at once (bulk recovery): one link each ("reset", or
    "invite" for an account that never had a password), older links voided, mails queued
    and ``audit_rows`` stored, in one write transaction with a few statements."""
    if not users:
        return
    now = utcnow()
    base = settings.get("BASE_URL").rstrip("/") + "/password/reset/"
    expiry = {purpose: settings.link_expiry(purpose, now) for purpose in ("reset", "invite")}
    subjects: dict[tuple[str, str], str] = {}
    token_rows, mail_rows = [], []
    for user in users:
        purpose = purpose_for(user)
        raw, digest = tokens.new_token()
        token_rows.append({"user": user.id, "token_hash": digest, "purpose": purpose,
                           "stamp": user.security_stamp, "created_at": now,
                           "expires_at": expiry[purpose]})
        language = mail.recipient_language(user, None)
        subject = subjects.setdefault((purpose, language), mail.subject_of(purpose, language))
        row = mail.prepare(purpose, user.email, user=user, language=language, subject=subject,
                           link=base + raw, expires_at=expiry[purpose])
        mail_rows.append({**row, "user": user.id, "created_at": now, "next_attempt_at": now})
    ids = [user.id for user in users]
    with write():
        void_all(ids, now)
        insert_rows(ResetToken, token_rows)
        insert_rows(OutboxMail, mail_rows)
        insert_rows(AuditEvent, audit_rows)
    mail.wake()


def release(state: LinkState) -> None:
    """Undo ``consume`` when what the link was used for could not be done."""
    with write():
        ResetToken.update(used_at=None).where(ResetToken.id == state.token.id).execute()


def void(user: User, now=None) -> int:
    """Every unused link of ``user`` stops working (call inside a write transaction)."""
    return void_all([user.id], now)


def void_all(user_ids: list[int], now=None) -> int:
    """``void`` for many accounts: links are marked used, never deleted (the per-account
    mail limit counts them until housekeeping removes them a day after they expire)."""
    return (ResetToken.update(used_at=now or utcnow())
            .where(ResetToken.user.in_(user_ids) & ResetToken.used_at.is_null()).execute())


@dataclass
class LinkState:
    token: ResetToken | None
    user: User | None

    @property
    def valid(self) -> bool:
        return self.token is not None


def lookup(digest: str | None) -> LinkState:
    """A usable link, or an invalid state (unknown, used, expired, voided all look alike)."""
    if not digest:
        return LinkState(None, None)
    token = (ResetToken.select(ResetToken, User).join(User)
             .where(ResetToken.token_hash == digest).first())
    if (token is None or token.used_at is not None or token.expires_at <= utcnow()
            or token.stamp != token.user.security_stamp or token.user.disabled):
        return LinkState(None, None)
    return LinkState(token, token.user)


def consume(state: LinkState) -> bool:
    """Mark the link used, if nobody did first (call inside the write transaction that
    acts on it, so a failure later in that transaction leaves the link unused)."""
    return (ResetToken.update(used_at=utcnow())
            .where((ResetToken.id == state.token.id) & ResetToken.used_at.is_null()
                   & (ResetToken.expires_at > utcnow()))
            .execute()) == 1
