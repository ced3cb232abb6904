"""Self-service recovery: requests, mailed single-use links, completing a reset.

A forgot-password request only records what was typed (``RecoveryRequest``); the mail
worker resolves it. The web request therefore does the same work whether or not an
account matches, and no mail is ever sent inside a request.
"""

from __future__ import annotations

from datetime import timedelta

from .. import accounts, audit, links, mail, origin, providers, settings
from ..db import write
from ..models import RecoveryRequest, ResetToken, User, fold, utcnow


def request_recovery(
    identifier: str, provider: str, language: str, ip: str, user_agent: str = ""
) -> None:
    """Record a request; identical for every identifier."""
    RecoveryRequest.create(
        identifier=identifier[:254],
        provider=provider,
        language=language,
        ip=ip[:64],
        user_agent=(user_agent or "")[:255],
    )
    mail.wake()


def link_facts(state: links.LinkState) -> dict:
    """What the reset page tells of a usable link: whose it is, whether it sets a first
    password (an invitation), how many seconds it has left."""
    seconds_left = int((state.token.expires_at - utcnow()).total_seconds())
    return {
        "user": state.user,
        "first": state.user.password_hash is None,
        "seconds_left": seconds_left,
    }


def find_account(identifier: str, provider: str) -> User | None:
    """The account a recovery request names: by username or email (the provider's own
    lookup), else by a confirmed backup address (Passgate's own column; the account's
    provider is then judged like any other match). Outside any transaction (it may ask
    the directory)."""
    user = providers.get(provider).find_account(identifier)
    key = fold(identifier)
    if user is None and key:
        user = User.get_or_none(User.backup_email_key == key)
    return user


def process_pending(limit: int = 100) -> int:
    """Resolve recorded requests (background worker). Returns how many were handled."""
    handled = 0
    pending = list(
        RecoveryRequest.select()
        .where(RecoveryRequest.processed_at.is_null())
        .order_by(RecoveryRequest.id)
        .limit(limit)
    )
    for req in pending:
        # The account is looked up first, outside any transaction (it may ask the
        # directory, in the worker, never in the web request). Then one transaction claims
        # the request and answers it (nothing slow inside: the mail is rendered when sent):
        # a worker killed half-way leaves it unclaimed, and two workers never both answer.
        try:
            user, unavailable = find_account(req.identifier, req.provider), False
        except providers.DirectoryUnavailable:
            user, unavailable = None, True
        with write():
            claimed = (
                RecoveryRequest.update(processed_at=utcnow())
                .where((RecoveryRequest.id == req.id) & RecoveryRequest.processed_at.is_null())
                .execute()
            )
            if claimed:
                _answer(req, user, unavailable)
                handled += 1
    return handled


def _answer(req: RecoveryRequest, user: User | None, unavailable: bool) -> None:
    if unavailable:
        audit.record(
            "recovery.request", outcome="unavailable", ip=req.ip, target_name=req.identifier[:64]
        )
        return
    outcome = _eligibility(user)
    if outcome == "sent":
        links.issue(
            user,
            links.purpose_for(user),
            language=req.language,
            requested=origin.of_request(req.ip, req.user_agent, req.created_at),
        )
    audit.record(
        "recovery.request",
        outcome=outcome,
        target=user,
        ip=req.ip,
        target_name=None if user else req.identifier[:64],
    )


def _eligibility(user: User | None) -> str:
    """ "sent", or why not: ``links.refusal``, or "rate_limited" (too many recent links)."""
    reason = links.refusal(user)
    if reason is not None:
        return reason
    window = utcnow() - timedelta(minutes=settings.get("RESET_MAIL_WINDOW_MINUTES"))
    recent = (
        ResetToken.select()
        .where(
            (ResetToken.user == user.id)
            & (ResetToken.created_at >= window)
            & ResetToken.purpose.in_(links.PASSWORD_KINDS)
        )
        .count()
    )
    if recent >= settings.get("RESET_MAILS_PER_WINDOW"):
        return "rate_limited"
    return "sent"


def finish(state: links.LinkState, password: str, confirm: str) -> list[str] | None:
    """Check the new password against the policy, then ``complete``: the errors to show
    (the policy's, or the directory's own), [] when done, None when another request used
    the link first."""
    check = accounts.check_new_password(state.user, password, confirm)
    if not check.ok:
        return check.errors
    try:
        return [] if complete(state, password) else None
    except providers.PasswordRejected as exc:  # the directory's own policy
        return [exc.message]


def complete(state: links.LinkState, password: str) -> bool:
    """Consume the link and set the password. False if another request used it first.

    ``accounts.replace_password`` does it: bcrypt first, then for a local account one
    write transaction consumes the link, stores the password, ends the sessions and queues
    the notice -- all of it, or none. A directory account: the link is claimed first, the
    directory takes the password (no transaction open), then the same write; if the
    directory refuses or is down, the claim is released and the link still works.
    """
    user = state.user
    first = user.password_hash is None
    source = providers.for_user(user)
    if source.remote:
        with write():
            if not links.consume(state):
                return False
        try:  # it also lifts the directory's own lock
            source.set_password(user, password, must_change=False)
        except providers.ProviderError:
            links.release(state)
            raise
    return accounts.replace_password(
        user,
        password,
        how="first" if first else "reset",
        action="password.reset",
        detail={"via": state.token.purpose},
        claim=None if source.remote else (lambda: links.consume(state)),
    )
