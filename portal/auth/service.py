"""Sign-in: one bcrypt verification on every path, one generic failure for every reason."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .. import audit, mail, passwords, providers, settings, throttle
from ..db import database
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
    return providers.directory_enabled()


def authenticate(identifier: str, password: str, provider: str = "identity") -> SignIn:
    """Check credentials and apply the per-account throttle.

    Unknown identifiers, wrong passwords, locked, disabled and other-provider accounts all
    cost one bcrypt verification (and, for the directory, one search and one bind) and
    update a throttle row, so neither the answer nor its timing says whether the account
    exists. The password check (bcrypt, directory) runs before any write, outside any
    transaction; the bookkeeping is one short transaction afterwards.
    Raises ``providers.DirectoryUnavailable`` when the directory cannot answer.
    """
    source = providers.get(provider)
    user = source.lookup(identifier)
    state = user if user is not None else throttle.anonymous_state(identifier)
    wait = throttle.retry_after(state)
    if wait is not None:
        passwords.verify_password(password, None)  # same cost; the directory is not asked
        with database.atomic():
            audit.record("login.failure", outcome="throttled", target=user,
                         target_name=None if user else identifier[:64])
        return SignIn(retry_after=wait)
    checked = source.verify(identifier, password, user)
    with database.atomic():
        return _record(source, checked, identifier, state)


def _record(source, checked, identifier: str, state) -> SignIn:
    user = checked.user
    if checked.matches:
        user = source.adopt(checked)
    rules = throttle.Rules.from_settings(settings.current(), current_app.config)
    usable = (user is not None and checked.matches and not user.disabled
              and user.provider == source.name)
    if not usable:
        fields = throttle.save_failure(state, rules)
        audit.record("login.failure", outcome="failure", target=user,
                     target_name=None if user else identifier[:64],
                     detail={"reason": _reason(user, checked.matches, source.name)})
        if isinstance(state, User) and fields["failed_count"] in (rules.free, rules.hard_limit):
            hard = fields["hard_locked"]
            audit.record("account.lock", target=state,
                         detail={"failures": fields["failed_count"], "hard": hard})
            if hard and state.email:
                # One notice per hard lock (ASVS 6.3.5): the owner learns before anyone else.
                mail.queue("account_locked", state.email, user=state)
        retry = throttle.retry_after(state)
        return SignIn(retry_after=retry)
    if user.must_change and user.temp_password_expires_at and user.temp_password_expires_at < utcnow():
        audit.record("login.failure", outcome="failure", target=user,
                     detail={"reason": "temporary_password_expired"})
        return SignIn(temp_expired=True)
    _after_success(user, checked.new_hash)
    return SignIn(user=user)


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
    if user.failed_count or user.locked_until:
        fields.update(throttle.CLEAR)
    if new_hash:
        fields["password_hash"] = new_hash
    User.update(**fields).where(User.id == user.id).execute()
    for key, value in fields.items():
        setattr(user, key, value)
    audit.record("login.success", actor=user, target=user)
