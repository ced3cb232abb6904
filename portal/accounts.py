"""Account services shared by sign-in, recovery, the admin screens and the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask_babel import gettext as _
from peewee import IntegrityError

from . import access, audit, links, mail, passwords, policy, sessions, settings, throttle
from .alerts import notify_admins
from .db import database, write
from .identities import (  # noqa: F401  (accounts.X stays the way callers name them)
    AccountError,
    check_new_username,
    check_unique,
    clean_email,
    clean_username,
    username_skeleton,
)
from .messages import text
from .models import PasswordHistory, Team, User, fold, utcnow


def new_stamp() -> str:
    return secrets.token_hex(16)


_FIND_KEY = "\x00key\x00"  # marks where the identifier goes in the prepared statement
_find_sql: dict[type, tuple[str, list]] = {}


def find(identifier: str) -> User | None:
    """The account whose username or email matches, case-insensitively (indexed lookups)."""
    key = fold(identifier)
    if not key:
        return None
    # The statement is peewee's own for this query, built once per database engine: building
    # the 26-column SELECT cost about 0.2 ms of every sign-in and recovery request.
    engine = type(database.obj)
    prepared = _find_sql.get(engine)
    if prepared is None:
        query = (
            User.select()
            .where((User.username_key == _FIND_KEY) | (User.email_key == _FIND_KEY))
            .limit(1)
        )
        prepared = _find_sql[engine] = query.sql()
    sql, params = prepared
    return next(iter(User.raw(sql, *[key if p == _FIND_KEY else p for p in params])), None)


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


@dataclass
class NewAccount:
    """A validated account, its password already hashed: ready for ``insert_user``."""

    row: dict
    team: str | None
    fields: dict | None  # a prepared password, or None for an invitation link
    temp: str | None  # the temporary password to show once, if one was generated


def prepare_user(
    username: str,
    *,
    role: str | None = None,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    team: str | None = None,
    password: str | None = None,
    language: str | None = None,
    provider: str = "identity",
    disabled: bool = False,
) -> NewAccount:
    """Validate and hash, with no transaction open (bcrypt never holds the write lock)."""
    username = clean_username(username)
    email = clean_email(email)
    check_unique(username, email)
    check_new_username(username)
    role = role or access.default_role()
    if role not in access.role_names():
        raise AccountError("role", _("Unknown role."))
    row = dict(
        username=username,
        username_key=fold(username),
        username_skeleton=username_skeleton(username),
        email=email,
        email_key=fold(email) if email else None,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        first_name_key=fold(first_name) or "",
        last_name_key=fold(last_name) or "",
        role=role,
        provider=provider,
        disabled=bool(disabled),
        security_stamp=new_stamp(),
        language=language,
    )
    temp = fields = None
    if password is not None:
        check = check_new_password(User(**row), password, None)
        if not check.ok:
            raise AccountError("password", check.errors[0])
        fields = new_password(password)
    elif not email:
        temp = passwords.generate_temporary()
        fields = new_password(temp, temporary=True)
    return NewAccount(row, team, fields, temp)


def insert_user(new: NewAccount, actor: User | None = None) -> User:
    """Write a prepared account (inside the caller's write transaction, or its own).

    Two requests racing for the same username or email: the unique indexes decide, and
    the loser gets the same error as if the account had existed before.
    """
    try:
        with write():  # a savepoint inside a larger transaction (CSV import)
            user = User.create(team=ensure_team(new.team) if new.team else None, **new.row)
    except IntegrityError:
        raise AccountError("username", text("USER_EXISTS")) from None
    with write():
        if new.fields is not None:
            store_password(user, new.fields)
        else:
            links.issue(user, "invite")
        audit.record(
            "user.create",
            actor=actor,
            target=user,
            ip="" if actor is None else None,
            detail={"role": new.row["role"], "invited": new.fields is None},
        )
    return user


def create_user(username: str, *, actor: User | None = None, **details) -> tuple[User, str | None]:
    """Create an account. Returns (user, temporary password or None).

    With a password it is checked against the policy. Without one, a user with an email
    gets an invitation link; a user without gets a temporary password to hand over.
    """
    new = prepare_user(username, **details)
    with write():
        user = insert_user(new, actor)
    return user, new.temp


def ensure_team(name: str) -> Team:
    """The team called ``name`` (any case), created if needed; safe when two requests
    create the same team at once (inside a write transaction)."""
    name = name.strip()
    team = Team.get_or_none(Team.name_key == fold(name))
    if team is not None:
        return team
    Team.insert(name=name, name_key=fold(name)).on_conflict_ignore().execute()
    return Team.get(Team.name_key == fold(name))
