"""Account services shared by sign-in, recovery, the admin screens and the CLI: finding an
account, creating one (``prepare_user`` then ``insert_user``), teams by name. Passwords are
``portal.account_passwords``; names and addresses ``portal.identities`` (both also
reachable here as ``accounts.X``, the way callers name them)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from peewee import IntegrityError

from . import access, audit, links, passwords
from .account_passwords import (  # noqa: F401  (accounts.X stays the way callers name them)
    PasswordCheck,
    check_new_password,
    context_words,
    current_policy,
    new_password,
    new_stamp,
    replace_password,
    store_password,
)
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
from .models import Team, User, fold

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
