"""Sign-in: one password check on every path, one generic failure for every reason; where
a sign-in lands; whose password the live policy checklist is about."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import url_for

from .. import access, alerts, audit, devices, mail, passwords, providers, throttle
from ..db import write
from ..http_input import parse_id
from ..models import ResetToken, User, utcnow
from ..providers.base import Verification


@dataclass
class SignIn:
    user: User | None = None
    retry_after: int | None = None  # seconds; set while the identifier is in a wait period
    temp_expired: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None

    @property
    def refusal_key(self) -> str:
        """The message of a refused sign-in (``portal.messages``). During a wait the
        password was not what stopped the attempt, so it is not called incorrect; the
        same answer for every identifier."""
        if self.temp_expired:
            return "TEMP_PASSWORD_EXPIRED"
        return "SIGNIN_PAUSED" if self.retry_after is not None else "LOGIN_FAILED"

    @property
    def retry_minutes(self) -> int | None:
        if self.retry_after is None:
            return None
        return max(1, -(-self.retry_after // 60)) if self.retry_after else 0


def directory_enabled() -> bool:
    return providers.directory_enabled()


def safe_next(target: str | None) -> str:
    """Only same-origin relative paths; anything else goes home (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("auth.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return url_for("auth.home")
    return target


def destination(user: User, requested: str | None) -> str:
    """Where a fresh sign-in goes: a temporary password is changed first; else the page
    asked for (``safe_next``)."""
    if user.must_change:
        return url_for("auth.change_password")
    return safe_next(requested)


def password_owner(actor: User | None, for_user: str, reset_digest: str | None) -> User | None:
    """Whose password is being typed: an administrator's target (``for_user``, if within
    reach), else the signed-in ``actor``; signed out, the owner of the reset link kept in
    the session."""
    if actor is None:
        token = (
            ResetToken.get_or_none(ResetToken.token_hash == reset_digest) if reset_digest else None
        )
        return token.user if token else None
    target_id = parse_id(for_user)
    if target_id is not None:
        target = User.get_or_none(User.id == target_id)
        if target is not None and access.can(actor, "users.update", target):
            return target
    return actor


def authenticate(identifier: str, password: str, provider: str = "identity") -> SignIn:
    """Check credentials and apply the throttles.

    Unknown identifiers, wrong passwords, locked, disabled and other-provider accounts all
    cost one bcrypt verification (and, for the directory, one search and one bind) and
    update a throttle row, so neither the answer nor its timing says whether the account
    exists. The password check (bcrypt, directory) runs before any write, outside any
    transaction; the decision and its bookkeeping are one short transaction afterwards.
    Raises ``providers.DirectoryUnavailable`` when the directory cannot answer.
    """
    source = providers.get(provider)
    user = source.lookup(identifier)
    if _throttled(identifier, user):
        # Same cost, and the directory is not asked (its own lockout must not trip).
        passwords.verify_password(password, None)
        checked = Verification(user=user, matches=False, new_hash=None)
    else:
        checked = source.verify(identifier, password, user)
    rules = throttle.Rules.current()
    with write():
        return _decide(source, checked, identifier, rules)


def _throttled(identifier: str, user: User | None) -> bool:
    device = devices.state_for(user)
    shown = device if device is not None else throttle.identifier_state(identifier)
    return throttle.retry_after(shown) is not None or (
        device is None and user is not None and throttle.retry_after(user) is not None
    )


def _decide(source, checked: Verification, identifier: str, rules: throttle.Rules) -> SignIn:
    user, matches, new_hash = checked.user, checked.matches, checked.new_hash
    if matches:
        user = source.adopt(checked)  # a directory account's local row, made or updated
    if user is not None and user.id is not None and source.name == "identity":
        # Decide on the account as it is now: attempts run in parallel (threads,
        # instances). A password changed during the check (new security stamp) no longer
        # signs in; a hash upgraded meanwhile by a parallel sign-in is kept, not overwritten.
        fresh = User.get_by_id(user.id)
        if fresh.security_stamp != user.security_stamp:
            matches = False
        if fresh.password_hash != user.password_hash:
            new_hash = None
        user = fresh
    typed = throttle.identifier_state(identifier)
    device = devices.state_for(user)  # a browser that signed in as this account before
    # What the answer may show depends only on what was typed (issue 11, finding 3) -- or,
    # from a known device, on that device's own failures (finding 4).
    shown = device if device is not None else typed
    wait = throttle.retry_after(shown)
    if wait is not None:
        audit.record(
            "login.failure",
            outcome="throttled",
            target=user,
            target_name=None if user else identifier[:64],
        )
        return SignIn(retry_after=wait)
    # The account's own counter (all its identifiers together) refuses silently: the answer
    # is the generic failure, as for any identifier, so it tells nothing about pairing.
    account_blocked = device is None and user is not None and throttle.retry_after(user) is not None
    usable = (
        user is not None
        and matches
        and not user.disabled
        and not account_blocked
        and user.provider == source.name
    )
    if not usable:
        _failure(user, shown, account_blocked, matches, source.name, identifier, rules)
        return SignIn(retry_after=throttle.retry_after(shown))
    if (
        user.must_change
        and user.temp_password_expires_at
        and user.temp_password_expires_at < utcnow()
    ):
        audit.record(
            "login.failure",
            outcome="failure",
            target=user,
            detail={"reason": "temporary_password_expired"},
        )
        return SignIn(temp_expired=True)
    _after_success(user, new_hash)
    if device is not None and device.failed_count:
        throttle.forget(device)
    throttle.clear_identifiers(user)
    devices.remember(user)
    return SignIn(user=user)


def _failure(
    user,
    shown,
    account_blocked: bool,
    matches: bool,
    provider: str,
    identifier: str,
    rules: throttle.Rules,
) -> None:
    throttle.save_failure(shown, rules)
    audit.record(
        "login.failure",
        outcome="throttled" if account_blocked else "failure",
        target=user,
        target_name=None if user else identifier[:64],
        detail=None if account_blocked else {"reason": _reason(user, matches, provider)},
    )
    if user is None or account_blocked:
        return
    fields = throttle.save_failure(user, rules)
    if fields["failed_count"] in (rules.free, rules.hard_limit):
        hard = fields["hard_locked"]
        audit.record(
            "account.lock", target=user, detail={"failures": fields["failed_count"], "hard": hard}
        )
        if hard and user.email:
            # One notice per hard lock (ASVS 6.3.5): the owner learns before anyone else.
            mail.queue("account_locked", user.email, user=user)
        if hard:
            alerts.notify_admins("admin_locked", user)  # the others, if ``user`` is one


def _reason(user: User | None, matches: bool, provider: str) -> str:
    if user is None:
        return "unknown_identifier"
    if user.disabled:
        return "disabled"
    if user.provider != provider:
        return "directory_account" if user.provider != "identity" else "local_account"
    return "bad_password" if user.password_hash else "no_password"


def _after_success(user: User, new_hash: str | None) -> None:
    fields = {"last_login_at": utcnow()}
    if user.failed_count or user.locked_until or user.hard_locked:
        fields.update(throttle.CLEAR)
    if new_hash:  # the configured cost changed: computed before the transaction began
        fields["password_hash"] = new_hash
    User.update(**fields).where(User.id == user.id).execute()
    for key, value in fields.items():
        setattr(user, key, value)
    audit.record("login.success", actor=user, target=user)
