"""Passwords of accounts, whichever way they are set: the policy and history checks, the
stored fields (``new_password`` runs bcrypt before any transaction, ``store_password``
writes them inside one) and ``replace_password``, the one replacement used by recovery,
administrators and a change of one's own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from . import audit, links, mail, passwords, policy, sessions, settings, throttle
from .alerts import notify_admins
from .db import write
from .messages import text
from .models import PasswordHistory, User, utcnow


def new_stamp() -> str:
    return secrets.token_hex(16)


def current_policy() -> policy.Policy:
    return policy.Policy.from_config(settings.current())


def context_words(user: User | None, extra: dict | None = None) -> list[str]:
    """Words a password must not be built from (NIST context-specific words)."""
    words = [settings.get("ORG_NAME"), "passgate"]
    if user is not None:
        words += [user.username, user.first_name, user.last_name, user.email or ""]
    if extra:
        words += [str(v) for v in extra.values() if v]
    return [w for w in words if w]


@dataclass
class PasswordCheck:
    evaluation: policy.Evaluation
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_new_password(user: User | None, password: str, confirm: str | None) -> PasswordCheck:
    """The policy, then (only if it passes) the history of this account."""
    evaluation = policy.evaluate(
        password, current_policy(), context_words=context_words(user), confirm=confirm
    )
    errors = list(evaluation.errors)
    if not errors and user is not None and reused(user, password):
        errors.append(text("PASSWORD_REUSED"))
    return PasswordCheck(evaluation, errors)


def reused(user: User, password: str) -> bool:
    """Is ``password`` the current one or one of the last N (PASSWORD_HISTORY)?"""
    depth = int(settings.get("PASSWORD_HISTORY"))
    hashes = [user.password_hash] if user.password_hash else []
    if depth > 1:
        rows = (
            PasswordHistory.select(PasswordHistory.password_hash)
            .where(PasswordHistory.user == user.id)
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
            .limit(depth - 1)
        )
        hashes += [r.password_hash for r in rows]
    return any(passwords.verify_password(password, h) for h in hashes)


def new_password(password: str, *, temporary: bool = False, must_change: bool = False) -> dict:
    """The stored fields of a new password. Runs bcrypt: call it before any transaction."""
    now = utcnow()
    return {
        "password_hash": passwords.hash_password(password),
        "password_changed_at": now,
        "must_change": temporary or must_change,
        "temp_password_expires_at": settings.temp_password_expiry(now) if temporary else None,
        "security_stamp": new_stamp(),
        **throttle.CLEAR,
    }


def store_password(user: User, fields: dict) -> None:
    """Write a password prepared by ``new_password`` (inside the caller's write
    transaction): the old hash joins the history, outstanding links die (marked used, so
    the per-account mail limit still counts them), the account is unlocked.

    Callers end sessions and queue notices themselves (they know who acted).
    """
    with write():
        if user.password_hash:
            PasswordHistory.create(
                user=user,
                password_hash=user.password_hash,
                created_at=fields["password_changed_at"],
            )
            _trim_history(user)
        User.update(**fields).where(User.id == user.id).execute()
        throttle.clear_identifiers(user)  # its username and email may be tried again
        links.void(user, fields["password_changed_at"])
    for key, value in fields.items():
        setattr(user, key, value)


def _trim_history(user: User) -> None:
    keep = max(int(settings.get("PASSWORD_HISTORY")), 1)
    old = (
        PasswordHistory.select(PasswordHistory.id)
        .where(PasswordHistory.user == user.id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .offset(keep)
    )
    ids = [r.id for r in old]
    if ids:
        PasswordHistory.delete().where(PasswordHistory.id.in_(ids)).execute()


def notify_password_changed(user: User, how: str) -> None:
    """The "your password was changed" notice to each recovery address (never contains
    the password), with a "this wasn't me" link (inside the caller's transaction)."""
    addresses = links.recipients(user)
    if addresses:
        context = links.not_me_notice(user)
        for address in addresses:
            mail.queue("password_changed", address, user=user, how=how, **context)


def replace_password(
    user: User,
    password: str,
    *,
    how: str,
    action: str,
    actor: User | None = None,
    detail: dict | None = None,
    temporary: bool = False,
    must_change: bool = False,
    claim=None,
) -> bool:
    """The one way a password is replaced (recovery link, administrator, change of one's
    own): bcrypt first, then one write transaction: ``claim()`` (a recovery link: False if
    another request used it first, and nothing happens), the password stored (history,
    links die, unlocked), the user's sessions ended (this one renewed after a change of
    one's own), the owner told (``how``), audited. Directory accounts: the caller has had
    the directory accept the password before."""
    fields = new_password(password, temporary=temporary, must_change=must_change)
    own_change = how == "change"
    with write():
        if claim is not None and not claim():
            return False
        store_password(user, fields)
        if not own_change:
            User.update(last_reset_at=fields["password_changed_at"]).where(
                User.id == user.id
            ).execute()
            user.last_reset_at = fields["password_changed_at"]
            sessions.end_all(user)
        notify_password_changed(user, how)
        audit.record(action, actor=actor or user, target=user, detail=detail)
        if how == "admin":  # the other administrators hear of it (when ``user`` is one)
            notify_admins(
                "admin_password_reset" if temporary else "admin_password_set", user, actor=actor
            )
    if own_change:
        sessions.renew_after_password_change(user)
    mail.wake()
    return True
