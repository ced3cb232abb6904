"""Sign-in: one bcrypt verification on every path, one generic failure for every reason."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .. import audit, mail, passwords, settings, throttle
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
    # Reads and the bcrypt verification happen outside any transaction; the writes that
    # follow are one short transaction (never hold the SQLite write lock during bcrypt).
    user = find(identifier)
    state = user if user is not None else throttle.anonymous_state(identifier)
    matches = passwords.verify_password(password, user.password_hash if user else None)
    rules = throttle.Rules.from_settings(settings.current(), current_app.config)
    rehash = passwords.hash_password(password) if (
        matches and user is not None and passwords.needs_rehash(user.password_hash)) else None
    with write():
        # Decide on the throttle state as it is now, locked until this transaction ends:
        # the copy read before bcrypt is stale when attempts run in parallel (on several
        # threads or instances), and deciding on it would lose failures.
        fresh = throttle.locked_state(state)
        if user is not None:
            if fresh.security_stamp != user.security_stamp:
                matches = False  # password (or email) changed during the check: try again
            if fresh.password_hash != user.password_hash:
                rehash = None  # changed or already rehashed: never overwrite a newer hash
            user = fresh
        return _record(identifier, provider, user, fresh, matches, rules, rehash)


def _record(identifier, provider, user, state, matches, rules, rehash) -> SignIn:
    wait = throttle.retry_after(state)
    if wait is not None:
        audit.record("login.failure", outcome="throttled", target=user,
                     target_name=None if user else identifier[:64])
        return SignIn(retry_after=wait)
    usable = (user is not None and matches and not user.disabled
              and (user.provider == provider or not directory_enabled())
              and user.provider == "identity")
    if not usable:
        fields = throttle.save_failure(state, rules)
        audit.record("login.failure", outcome="failure", target=user,
                     target_name=None if user else identifier[:64],
                     detail={"reason": _reason(user, matches)})
        if user is not None and fields["failed_count"] in (rules.free, rules.hard_limit):
            hard = fields["hard_locked"]
            audit.record("account.lock", target=user,
                         detail={"failures": fields["failed_count"], "hard": hard})
            if hard and user.email:
                # One notice per hard lock (ASVS 6.3.5): the owner learns before anyone else.
                mail.queue("account_locked", user.email, user=user)
        retry = throttle.retry_after(state)
        return SignIn(retry_after=retry)
    if user.must_change and user.temp_password_expires_at and user.temp_password_expires_at < utcnow():
        audit.record("login.failure", outcome="failure", target=user,
                     detail={"reason": "temporary_password_expired"})
        return SignIn(temp_expired=True)
    _after_success(user, rehash)
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
    if user.failed_count or user.locked_until:
        fields.update(throttle.CLEAR)
    if rehash:  # the configured cost changed: computed before the transaction began
        fields["password_hash"] = rehash
    User.update(**fields).where(User.id == user.id).execute()
    for key, value in fields.items():
        setattr(user, key, value)
    audit.record("login.success", actor=user, target=user)
