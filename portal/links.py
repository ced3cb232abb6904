"""Mailed single-use links: who may get one, issue, look up, consume, release, void.

Kinds (``ResetToken.purpose``):

- password links, ``reset`` and ``invite``: one active per account, issuing a new one
  voids the others (marked used, so the rows stay and the per-account mail limit can count
  them);
- address confirmations, ``confirm_email`` and ``confirm_backup`` (the address in
  ``data``), issued by ``portal/account/``;
- "this wasn't me" links, ``not_me_reset`` (in a recovery mail: revokes the pending
  password link) and ``not_me_lock`` (in a change notice: locks the account).

Password and confirmation links are bound to the account's security stamp, so a password,
email or disable change kills them too. A "this wasn't me" link is not: the change it
reports rotates the stamp, and it must still work afterwards, until it expires.
A link of one kind is never accepted where another kind is expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from . import mail, origin, settings, tokens
from .db import insert_rows, write
from .models import AuditEvent, OutboxMail, ResetToken, User, utcnow

PASSWORD_KINDS = ("reset", "invite")
CONFIRM_KINDS = ("confirm_email", "confirm_backup")
NOT_ME_KINDS = ("not_me_reset", "not_me_lock")
PATHS = {
    "reset": "/password/reset/",
    "invite": "/password/reset/",
    "confirm_email": "/account/confirm/",
    "confirm_backup": "/account/confirm/",
    "not_me_reset": "/account/not-me/",
    "not_me_lock": "/account/not-me/",
}


def url_of(purpose: str, raw: str) -> str:
    """The mailed URL of a link (built from BASE_URL, never from the request's Host)."""
    return settings.get("BASE_URL").rstrip("/") + PATHS[purpose] + raw


def create(user: User, purpose: str, expires_at, *, data: str = "", now=None) -> str:
    """One more link row (inside the caller's write transaction); returns its URL."""
    raw, digest = tokens.new_token()
    ResetToken.create(
        user=user,
        token_hash=digest,
        purpose=purpose,
        data=data,
        stamp=user.security_stamp,
        created_at=now or utcnow(),
        expires_at=expires_at,
    )
    return url_of(purpose, raw)


def not_me_notice(user: User, *, now=None) -> dict:
    """The mail context of a change notice: where the change came from and a "this wasn't
    me" link that locks the account (valid NOT_ME_LINK_DAYS; inside a write transaction)."""
    now = now or utcnow()
    expires = now + timedelta(days=int(settings.get("NOT_ME_LINK_DAYS")))
    return {
        **origin.of_request(),
        "not_me": create(user, "not_me_lock", expires, now=now),
        "not_me_expires_at": expires,
    }


def recipients(user: User) -> list[str]:
    """Where recovery mail goes: the account's address and its confirmed backup address."""
    return [address for address in (user.email, user.backup_email) if address]


def refusal(user: User | None) -> str | None:
    """Who may get a link (recovery, invitation): None when ``user`` may, otherwise why
    not: "no_match", "disabled", "no_email", or "directory_account" (a directory account
    while no directory is configured)."""
    if user is None:
        return "no_match"
    if user.disabled:
        return "disabled"
    if not recipients(user):
        return "no_email"
    if user.provider != "identity" and not settings.get("LDAP_URL", None):
        return "directory_account"
    return None


def pending_ids(user_ids: list[int]) -> set[int]:
    """Which of these accounts hold a password link that still works (unused, unexpired,
    issued under the account's current security stamp)."""
    if not user_ids:
        return set()
    rows = (
        ResetToken.select(ResetToken.user, ResetToken.stamp, User.security_stamp)
        .join(User)
        .where(
            ResetToken.user.in_(user_ids)
            & ResetToken.used_at.is_null()
            & ResetToken.purpose.in_(PASSWORD_KINDS)
            & (ResetToken.expires_at > utcnow())
        )
        .tuples()
    )
    return {uid for uid, stamp, current in rows if stamp == current}


def has_pending(user: User) -> bool:
    return user.id in pending_ids([user.id])


def purpose_for(user: User) -> str:
    """An invitation for an account that never had a password, a recovery link otherwise."""
    return "reset" if user.password_hash else "invite"


def issue(
    user: User, purpose: str, *, language: str | None = None, requested: dict | None = None
) -> ResetToken:
    """Create the one active password link of ``user`` and queue its mail to each
    recovery address (same transaction).

    A recovery mail (``reset``, or any link asked for on the forgot-password page, whose
    ``requested`` describes the request: ``origin.of_request``) tells when, from where
    and from which browser it was asked for, with a "this wasn't me" link that revokes it.
    """
    raw, digest = tokens.new_token()
    now = utcnow()
    if requested is None and purpose == "reset":
        requested = origin.of_request()
    with write():
        void(user, now)
        token = ResetToken.create(
            user=user,
            token_hash=digest,
            purpose=purpose,
            stamp=user.security_stamp,
            created_at=now,
            expires_at=settings.link_expiry(purpose, now),
        )
        context = {"link": url_of(purpose, raw), "expires_at": token.expires_at}
        if requested is not None:
            context.update(
                requested, not_me=create(user, "not_me_reset", token.expires_at, now=now)
            )
        for address in recipients(user):
            mail.queue(purpose, address, user=user, language=language, **context)
    return token


def issue_many(users: list[User], audit_rows: list[dict]) -> None:
    """``issue`` for many accounts at once (bulk recovery): one link each ("reset", or
    "invite" for an account that never had a password), older links voided, mails queued
    and ``audit_rows`` stored, in one write transaction with a few statements."""
    if not users:
        return
    now = utcnow()
    expiry = {purpose: settings.link_expiry(purpose, now) for purpose in PASSWORD_KINDS}
    requested = origin.of_request()
    subjects: dict[tuple[str, str], str] = {}
    token_rows, mail_rows = [], []

    def token_row(user: User, purpose: str) -> str:
        raw, digest = tokens.new_token()
        token_rows.append(
            {
                "user": user.id,
                "token_hash": digest,
                "purpose": purpose,
                "data": "",
                "stamp": user.security_stamp,
                "created_at": now,
                "expires_at": expiry["reset" if purpose == "not_me_reset" else purpose],
            }
        )
        return url_of(purpose, raw)

    for user in users:
        purpose = purpose_for(user)
        context = {"link": token_row(user, purpose), "expires_at": expiry[purpose]}
        if purpose == "reset":
            context.update(requested, not_me=token_row(user, "not_me_reset"))
        language = mail.recipient_language(user, None)
        subject = subjects.setdefault((purpose, language), mail.subject_of(purpose, language))
        for address in recipients(user):
            row = mail.prepare(
                purpose, address, user=user, language=language, subject=subject, **context
            )
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


def void(user: User, now=None, kinds: tuple[str, ...] = PASSWORD_KINDS) -> int:
    """Every unused link of ``user`` of these kinds stops working (call inside a write
    transaction). "This wasn't me" links are voided only when named."""
    return void_all([user.id], now, kinds)


def void_all(user_ids: list[int], now=None, kinds: tuple[str, ...] = PASSWORD_KINDS) -> int:
    """``void`` for many accounts: links are marked used, never deleted (the per-account
    mail limit counts them until housekeeping removes them a day after they expire)."""
    return (
        ResetToken.update(used_at=now or utcnow())
        .where(
            ResetToken.user.in_(user_ids)
            & ResetToken.used_at.is_null()
            & ResetToken.purpose.in_(kinds)
        )
        .execute()
    )


@dataclass
class LinkState:
    token: ResetToken | None
    user: User | None

    @property
    def valid(self) -> bool:
        return self.token is not None


def lookup(digest: str | None, kinds: tuple[str, ...] = PASSWORD_KINDS) -> LinkState:
    """A usable link of one of ``kinds``, or an invalid state (unknown, used, expired,
    voided and of another kind all look alike)."""
    if not digest:
        return LinkState(None, None)
    token = (
        ResetToken.select(ResetToken, User)
        .join(User)
        .where(ResetToken.token_hash == digest)
        .first()
    )
    if (
        token is None
        or token.purpose not in kinds
        or token.used_at is not None
        or token.expires_at <= utcnow()
    ):
        return LinkState(None, None)
    if token.purpose not in NOT_ME_KINDS and (
        token.stamp != token.user.security_stamp or token.user.disabled
    ):
        return LinkState(None, None)
    return LinkState(token, token.user)


def consume(state: LinkState) -> bool:
    """Mark the link used, if nobody did first (call inside the write transaction that
    acts on it, so a failure later in that transaction leaves the link unused)."""
    return (
        ResetToken.update(used_at=utcnow())
        .where(
            (ResetToken.id == state.token.id)
            & ResetToken.used_at.is_null()
            & (ResetToken.expires_at > utcnow())
        )
        .execute()
    ) == 1
