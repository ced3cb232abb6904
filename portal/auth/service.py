"""Sign-in: one bcrypt verification on every path, one generic failure for every reason."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .. import audit, devices, mail, passwords, settings, throttle
from ..accounts import find
from ..db import write
from ..models import User, utcnow


@dataclass
class SignIn:
    user: User | None = None
    retry_after: int | None = None  # seconds; set while the identifier is in a wait period
    temp_expired: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def directory_enabled() -> bool:
    return bool(current_app.config.get("LDAP_URL"))


def authenticate(identifier: str, password: str, provider: str = "identity") -> SignIn:
    """Check credentials and apply the per-account throttle.

    Unknown identifiers, wrong passwords, locked, disabled and directory accounts all
    cost one bcrypt verification and update a throttle row, so neither the answer nor
    its timing says whether the account exists.
    """
    # Reads and the bcrypt verification happen outside any transaction; the decision and
    # its writes are one short transaction (never hold the SQLite write lock during bcrypt).
    user = find(identifier)
    matches = passwords.verify_password(password, user.password_hash if user else None)
    rules = throttle.Rules.from_settings(settings.current(), current_app.config)
    rehash = passwords.hash_password(password) if (
        matches and user is not None and passwords.needs_rehash(user.password_hash)) else None
    with write():
        if user is not None:
            # Decide on the account as it is now: attempts run in parallel (threads,
            # instances), and a password changed during the check no longer signs in.
            fresh = User.get_by_id(user.id)
            if fresh.password_hash != user.password_hash:
                matches, rehash = False, None
            user = fresh
        return _decide(identifier, provider, user, matches, rules, rehash)


def _decide(identifier: str, provider: str, user: User | None, matches: bool,
            rules: throttle.Rules, rehash: str | None) -> SignIn:
    typed = throttle.identifier_state(identifier)
    device = devices.state_for(user)  # a browser that signed in as this account before
    # What the answer may show depends only on what was typed (issue 11, finding 3) -- or,
    # from a known device, on that device's own failures (finding 4).
    shown = device if device is not None else typed
    wait = throttle.retry_after(shown)
    if wait is not None:
        audit.record("login.failure", outcome="throttled", target=user,
                     target_name=None if user else identifier[:64])
        return SignIn(retry_after=wait)
    # The account's own counter (all its identifiers together) refuses silently: the answer
    # is the generic failure, as for any identifier, so it tells nothing about pairing.
    account_blocked = (device is None and user is not None
                       and throttle.retry_after(user) is not None)
    usable = (user is not None and matches and not user.disabled and not account_blocked
              and (user.provider == provider or not directory_enabled())
              and user.provider == "identity")
    if not usable:
        throttle.save_failure(shown, rules)
        audit.record("login.failure", outcome="throttled" if account_blocked else "failure",
                     target=user, target_name=None if user else identifier[:64],
                     detail=None if account_blocked else {"reason": _reason(user, matches)})
        if user is not None and not account_blocked:
            fields = throttle.save_failure(user, rules)
            if fields["failed_count"] in (rules.free, rules.hard_limit):
                hard = fields["hard_locked"]
                audit.record("account.lock", target=user,
                             detail={"failures": fields["failed_count"], "hard": hard})
                if hard and user.email:
                    # One notice per hard lock (ASVS 6.3.5): the owner learns before anyone else.
                    mail.queue("account_locked", user.email, user=user)
        return SignIn(retry_after=throttle.retry_after(shown))
    if user.must_change and user.temp_password_expires_at and user.temp_password_expires_at < utcnow():
        audit.record("login.failure", outcome="failure", target=user,
                     detail={"reason": "temporary_password_expired"})
        return SignIn(temp_expired=True)
    _after_success(user, rehash)
    if device is not None and device.failed_count:
        throttle.forget(device)
    throttle.clear_identifiers(user)
    devices.remember(user)
    return SignIn(user=user)


def _reason(user: User | None, matches: bool) -> str:
    if user is None:
        return "unknown_identifier"
    if user.disabled:
        return "disabled"
    if user.provider != "identity":
        return "directory_account"
    return "bad_password" if user.password_hash else "no_password"


def _after_success(user: User, rehash: str | None) -> None:
    fields = {"last_login_at": utcnow()}
    if user.failed_count or user.locked_until or user.hard_locked:
        fields.update(throttle.CLEAR)
    if rehash:  # the configured cost changed: computed before the transaction began
        fields["password_hash"] = rehash
    User.update(**fields).where(User.id == user.id).execute()
    for key, value in fields.items():
        setattr(user, key, value)
    audit.record("login.success", actor=user, target=user)
