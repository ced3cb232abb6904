"""Self-service recovery: requests, mailed single-use links, completing a reset.

A forgot-password request only records what was typed (``RecoveryRequest``); the mail
worker resolves it. The web request therefore does the same work whether or not an
account matches, and no mail is ever sent inside a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from .. import accounts, audit, mail, providers, sessions, settings, tokens
from ..db import database
from ..models import RecoveryRequest, ResetToken, User, utcnow


def request_recovery(identifier: str, provider: str, language: str, ip: str) -> None:
    """Record a request; identical for every identifier."""
    RecoveryRequest.create(identifier=identifier[:254], provider=provider, language=language,
                           ip=ip[:64])
    mail.wake()


def process_pending(limit: int = 100) -> int:
    """Resolve recorded requests (mail worker). Returns how many were handled."""
    handled = 0
    pending = (RecoveryRequest.select(RecoveryRequest.id)
               .where(RecoveryRequest.processed_at.is_null())
               .order_by(RecoveryRequest.id).limit(limit))
    for (req_id,) in list(pending.tuples()):  # ids first (see mail.deliver_due)
        claimed = (RecoveryRequest.update(processed_at=utcnow())
                   .where((RecoveryRequest.id == req_id) & RecoveryRequest.processed_at.is_null())
                   .execute())
        if claimed:
            _resolve(RecoveryRequest.get_by_id(req_id))
            handled += 1
    return handled


def _resolve(req: RecoveryRequest) -> None:
    try:  # the directory is asked here, in the worker, never in the web request
        user = providers.get(req.provider).find_account(req.identifier)
    except providers.DirectoryUnavailable:
        audit.record("recovery.request", outcome="unavailable", ip=req.ip,
                     target_name=req.identifier[:64])
        return
    outcome = _eligibility(user, req.provider)
    with database.atomic():
        if outcome == "sent":
            issue_link(user, "reset" if user.password_hash else "invite", language=req.language)
        audit.record("recovery.request", outcome=outcome, target=user, ip=req.ip,
                     target_name=None if user else req.identifier[:64])


def _eligibility(user: User | None, provider: str) -> str:
    if user is None:
        return "no_match"
    if user.disabled:
        return "disabled"
    if not user.email:
        return "no_email"
    if user.provider != "identity" and not current_app.config.get("LDAP_URL"):
        return "directory_account"
    cfg = current_app.config
    window = utcnow() - timedelta(minutes=cfg["RESET_MAIL_WINDOW_MINUTES"])
    recent = ResetToken.select().where((ResetToken.user == user.id)
                                       & (ResetToken.created_at >= window)).count()
    if recent >= cfg["RESET_MAILS_PER_WINDOW"]:
        return "rate_limited"
    return "sent"


def issue_link(user: User, purpose: str, *, language: str | None = None) -> ResetToken:
    """Create the one active link of ``user`` and queue its mail (same transaction).

    Older unused links are voided by marking them used (the rows stay, so the per-account
    mail limit can count them).
    """
    raw, digest = tokens.new_token()
    now = utcnow()
    with database.atomic():
        (ResetToken.update(used_at=now)
         .where((ResetToken.user == user.id) & ResetToken.used_at.is_null()).execute())
        token = ResetToken.create(user=user, token_hash=digest, purpose=purpose,
                                  stamp=user.security_stamp, created_at=now,
                                  expires_at=settings.link_expiry(purpose, now))
        link = current_app.config["BASE_URL"].rstrip("/") + f"/password/reset/{raw}"
        mail.queue(purpose, user.email, user=user, language=language,
                   link=link, expires_at=token.expires_at)
    return token


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


def complete(state: LinkState, password: str) -> bool:
    """Consume the link and set the password. False if another request used it first."""
    user = state.user
    with database.atomic():
        consumed = (ResetToken.update(used_at=utcnow())
                    .where((ResetToken.id == state.token.id) & ResetToken.used_at.is_null()
                           & (ResetToken.expires_at > utcnow()))
                    .execute())
    if consumed != 1:
        return False
    try:  # the directory, for sso accounts (no transaction open); it also lifts its lock
        providers.for_user(user).set_password(user, password, must_change=False)
    except providers.ProviderError:
        # Nothing half-done: the link stays usable for another try.
        ResetToken.update(used_at=None).where(ResetToken.id == state.token.id).execute()
        raise
    with database.atomic():
        first = user.password_hash is None
        accounts.set_password(user, password)
        User.update(last_reset_at=utcnow()).where(User.id == user.id).execute()
        sessions.end_all(user)
        accounts.notify_password_changed(user, "first" if first else "reset")
        audit.record("password.reset", actor=user, target=user,
                     detail={"via": state.token.purpose})
    return True
