"""User administration services: search, edit, Reset & Unlock, set password, unlock,
disable/enable, end sessions. Plain functions, usable without HTTP (tests, bench, CLI).

Access is decided by ``portal.access``; these functions assume the caller checked it
(``get_target`` does it for the views) and record who acted in the audit log.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime

from flask import g, has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN, SQL, IntegrityError, fn

from .. import access, accounts, audit, links, mail, passwords, providers, sessions, throttle
from ..alerts import notify_admins
from ..db import is_sqlite, starts_with, write
from ..models import OutboxMail, ResetToken, Team, User, fold, utcnow

PER_PAGE = 50
SMALL_RESULT = 5000
MAX_QUERY = 100

ROLE_LABELS = {"admin": _l("Administrator"), "manager": _l("Manager"), "user": _l("User")}
STATUS_LABELS = {
    "active": _l("Active"),
    "locked": _l("Locked"),
    "waiting": _l("Sign-in paused"),
    "disabled": _l("Disabled"),
    "must_change": _l("Must change password"),
    "invited": _l("Invitation pending"),
}
# The list's status filter: every status, plus accounts nobody has signed in with yet.
FILTER_LABELS = {**STATUS_LABELS, "never": _l("Never signed in")}
PROVIDER_LABELS = {"identity": _l("Passgate"), "sso": _l("Directory (SSO)")}

# Sortable columns: a whitelist of user-facing names to indexed columns.
SORTS = {
    "id": User.id,
    "username": User.username_key,
    "last_name": User.last_name_key,
    "first_name": User.first_name_key,
    "email": User.email_key,
    "role": User.role,
    "provider": User.provider,
    "last_login": User.last_login_at,
    "team": Team.name_key,
}


def _text(table: dict, name: str) -> str:
    """The label of ``name`` in the request's language. A list page shows three labels per
    row and Flask-Babel resolves the catalog anew for each (about 15 µs), so each label
    is translated once per request and locale."""
    value = table.get(name)
    if value is None:
        return name
    if not has_app_context():
        return str(value)
    memo = g.setdefault("_passgate_labels", {})
    key = (str(get_locale()), id(value))
    text = memo.get(key)
    if text is None:
        text = memo[key] = str(value)
    return text


def role_label(name: str) -> str:
    return _text(ROLE_LABELS, name)


def status_label(name: str) -> str:
    return _text(STATUS_LABELS, name)


def user_status(user: User) -> str:
    """The list's status: ``User.status``, with a short self-clearing sign-in wait told
    apart from a lock only an administrator or a password reset lifts."""
    status = user.status
    if status == "locked" and not user.hard_locked:
        return "waiting"
    return status


def provider_label(name: str) -> str:
    return _text(PROVIDER_LABELS, name)


@dataclass
class Page:
    items: list
    total: int
    page: int
    pages: int
    per_page: int = PER_PAGE


@dataclass
class Search:
    """The list's query string, parsed and bounded (bad values are dropped, never a 500)."""

    q: str = ""
    role: str | None = None
    status: str | None = None
    team_id: int | None = None
    provider: str | None = None
    sort: str = "username"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> Search:
        def one(name):
            value = args.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        def integer(name, default=None):
            raw = one(name)
            return int(raw) if raw.isdigit() and len(raw) < 10 else default

        role = one("role")
        status = one("status")
        provider = one("provider")
        sort = one("sort")
        return cls(
            q=one("q")[:MAX_QUERY],
            role=role if role in ROLE_LABELS else None,
            status=status if status in FILTER_LABELS else None,
            team_id=integer("team"),
            provider=provider if provider in PROVIDER_LABELS else None,
            sort=sort if sort in SORTS else "username",
            direction="desc" if one("dir") == "desc" else "asc",
            page=max(integer("page", 1), 1),
        )

    def params(self, **changes) -> dict:
        """Query-string parameters (only the ones that differ from the defaults)."""
        values = {"q": self.q, "role": self.role, "status": self.status, "team": self.team_id,
                  "provider": self.provider, "sort": self.sort, "dir": self.direction,
                  "page": self.page}
        values.update(changes)
        defaults = {"sort": "username", "dir": "asc", "page": 1}
        return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}


visible_roles = access.visible_roles  # lists, filters and team choices ask several times


def scope_condition(actor: User | None, text_search: bool = False):
    """The WHERE clause limiting a query to the accounts within ``actor``'s reach.

    ``actor`` None means the command line (the server operator): every account.
    ``text_search``: the query also has a selective name/email prefix (see ``_team``).
    """
    if actor is None:
        return None
    return access.reach_condition(actor, team_expr=_team(text_search))


def _team(text_search: bool):
    """``User.team`` for a WHERE clause. With a prefix search on SQLite, ``team_id + 0``:
    the same values, but no index, so SQLite finds the few matches through the prefix
    indexes instead of reading a whole team (5,000 rows at 100,000 users) row by row.
    SQLite's statistics know a team's size but not how few rows a prefix range holds."""
    return User.team + 0 if text_search and is_sqlite() else User.team


def status_condition(status: str, now: datetime | None = None):
    """SQL for the status badge (same precedence as ``User.status``)."""
    now = now or utcnow()
    not_locked = (User.hard_locked == False) & (
        User.locked_until.is_null() | (User.locked_until <= now))
    enabled = User.disabled == False
    if status == "disabled":
        return User.disabled == SQL("TRUE")  # literal: matches the partial index
    if status == "locked":
        return (User.hard_locked == SQL("TRUE")) & enabled
    if status == "waiting":
        return (User.locked_until > now) & (User.hard_locked == False) & enabled
    if status == "never":
        return User.last_login_at.is_null()
    if status == "invited":
        return enabled & not_locked & User.password_hash.is_null()
    if status == "must_change":
        return (enabled & not_locked & User.password_hash.is_null(False)
                & (User.must_change == SQL("TRUE")))  # literal: matches the partial index
    if status == "active":
        return (enabled & not_locked & User.password_hash.is_null(False)
                & (User.must_change == False))
    return None


def _prefix(column, key: str):
    """``column`` starts with ``key``: answered from an index, never a LIKE '%q%' scan."""
    return starts_with(column, key)


def text_condition(q: str):
    """Search by ID (exact), username, email, first or last name (prefixes), or "first last"."""
    key = fold(q)
    if not key:
        return None
    cond = (_prefix(User.username_key, key) | _prefix(User.email_key, key)
            | _prefix(User.first_name_key, key) | _prefix(User.last_name_key, key))
    if key.isdigit() and len(key) < 10:
        cond |= User.id == int(key)
    words = key.split()
    if len(words) == 2:
        a, b = words
        cond |= ((_prefix(User.first_name_key, a) & _prefix(User.last_name_key, b))
                 | (_prefix(User.last_name_key, a) & _prefix(User.first_name_key, b)))
    return cond


def conditions(actor: User | None, search: Search) -> list:
    """WHERE clauses: the actor's reach, the text search and the filters."""
    text = text_condition(search.q)
    selective = text is not None and len(fold(search.q)) >= 2  # 1 letter matches thousands
    conds = [scope_condition(actor, selective), text]
    if search.role:
        conds.append(User.role == search.role)
    if search.status:
        conds.append(status_condition(search.status))
    if search.team_id:
        conds.append(_team(selective) == search.team_id)
    if search.provider:
        conds.append(User.provider == search.provider)
    return [c for c in conds if c is not None]


def filtered_query(actor: User | None, search: Search, conds: list | None = None):
    """Users (with their team) matching the search and within reach; no order, no paging."""
    query = User.select(User, Team).join(Team, JOIN.LEFT_OUTER, on=(User.team == Team.id))
    conds = conditions(actor, search) if conds is None else conds
    return query.where(*conds) if conds else query


def search_users(actor: User, q: str = "", role: str | None = None, status: str | None = None,
                 team_id: int | None = None, provider: str | None = None,
                 sort: str = "username", direction: str = "asc", page: int = 1,
                 per_page: int = PER_PAGE) -> Page:
    """One page of the user list, as the actor may see it."""
    search = Search(q=q, role=role, status=status, team_id=team_id, provider=provider,
                    sort=sort if sort in SORTS else "username", direction=direction, page=page)
    return run_search(actor, search, per_page)


def run_search(actor: User, search: Search, per_page: int = PER_PAGE) -> Page:
    conds = conditions(actor, search)
    query = filtered_query(actor, search, conds)
    # Count without the join: SQLite can then answer from an index alone.
    total = (User.select(User.id).where(*conds) if conds else User.select(User.id)).count()
    pages = max(math.ceil(total / per_page), 1)
    page = min(max(search.page, 1), pages)
    column = SORTS.get(search.sort, User.username_key)
    if (is_sqlite() and total <= SMALL_RESULT
            and not _username_order_is_cheaper(actor, search, total, page * per_page)):
        # Few matches: sort them, rather than walk the whole sort index looking for them
        # (SQLite would otherwise prefer the index that gives the order for free).
        column = column + 0 if search.sort == "id" else column.concat("")
    # Empty values (no team, never signed in) last in both directions, on both engines.
    order = (column.desc(nulls="LAST") if search.direction == "desc"
             else column.asc(nulls="LAST"))
    tiebreak = User.id.desc() if search.direction == "desc" else User.id.asc()
    items = list(query.order_by(order, tiebreak).paginate(page, per_page))
    return Page(items=items, total=total, page=page, pages=pages, per_page=per_page)


def _username_order_is_cheaper(actor: User | None, search: Search, total: int,
                               rows: int) -> bool:
    """Read the first ``rows`` matches in username order from an index, rather than sort
    all ``total`` matches? (SQLite only: the caller otherwise hides the index.)

    - One team, no text: the (team_id, username_key) index holds exactly them, in order.
    - Invitations pending, passwords to change: so do the partial indexes
      ``user_invited_username`` and ``user_must_change_username``.
    - A status, role or provider (no text: names and usernames go together, statuses do
      not): the matches are spread evenly through the username order, so walking it
      reads about ``rows × users / total`` accounts, against ``total`` read and sorted.
      ``max(id)`` stands for the number of accounts (an upper bound, from the primary key).
    """
    if search.sort != "username" or fold(search.q):
        return False
    if search.team_id or search.status in ("invited", "must_change"):
        return True
    if actor is not None and visible_roles(actor) is not None and len(access.team_ids(actor)) == 1:
        return True
    if not total:
        return False
    accounts = User.select(fn.MAX(User.id)).scalar() or 0
    return rows * accounts < total * total


def matching_ids(actor: User, search: Search, limit: int) -> list[int]:
    """Ids of every user matching the search (for "select all N matching"), at most ``limit``+1."""
    query = filtered_query(actor, search).order_by(User.username_key).limit(limit + 1)
    return [u.id for u in query]


def teams_for(actor: User) -> list[Team]:
    """Teams the actor may filter by or assign."""
    roles = visible_roles(actor)
    query = Team.select().order_by(Team.name_key)
    if roles is not None:
        query = query.where(Team.id.in_(sorted(access.team_ids(actor)) or [0]))
    return list(query)


def assignable_roles(actor: User) -> list[str]:
    """Roles the actor may give (only actors with every account in reach set roles)."""
    return list(ROLE_LABELS) if visible_roles(actor) is None else []


# --- one user --------------------------------------------------------------------------

class Denied(Exception):
    """The actor may not act on this user (the view answers 403, audited)."""


def get_target(actor: User, user_id: int, permission: str) -> User | None:
    """The user ``user_id`` if the actor may use ``permission`` on it; None if unknown.

    Raises Denied when the user exists but is out of the actor's reach.
    """
    user = User.get_or_none(User.id == user_id)
    if user is None:
        return None
    if not access.can(actor, permission, user):
        raise Denied()
    return user


@dataclass
class UserData:
    """Validated edit/create input. ``role`` None means "not changed" (managers)."""

    username: str
    email: str | None
    first_name: str
    last_name: str
    team_id: int | None
    provider: str
    disabled: bool
    role: str | None = None
    language: str | None = None
    errors: dict = field(default_factory=dict)


def update_user(actor: User, user: User, data: UserData) -> dict:
    """Apply an edit; returns {field: [old, new]} of what changed (audited, no secrets).

    Changing the email or disabling rotates the security stamp (outstanding links die);
    disabling also ends every session of the user. Fields the account's provider owns
    (the directory's names, email, team) keep their current values.
    """
    owned = providers.for_user(user).owned_fields()
    if owned:
        current = {"username": user.username, "email": user.email, "first_name": user.first_name,
                   "last_name": user.last_name, "team_id": user.team_id}
        data = dataclasses.replace(data, **{k: current[k] for k in owned})
    username = accounts.clean_username(data.username)
    email = accounts.clean_email(data.email)
    if username != user.username:  # existing names stay valid; a new one must be safe
        accounts.check_new_username(username, exclude_id=user.id)
    clash = User.get_or_none(((User.username_key == fold(username)) | (User.email_key == fold(username))
                              | ((User.email_key == fold(email)) if email else (User.id == 0)))
                             & (User.id != user.id))
    if clash is not None:
        field_name = "email" if email and clash.email_key == fold(email) else "username"
        raise accounts.AccountError(field_name, _("A user with this username or email already exists."))
    new = {
        "username": username, "email": email, "first_name": data.first_name.strip(),
        "last_name": data.last_name.strip(), "team": data.team_id, "provider": data.provider,
        "disabled": bool(data.disabled),
    }
    if data.role is not None:
        new["role"] = data.role
    if data.language is not None:
        new["language"] = data.language or None
    old = {"username": user.username, "email": user.email, "first_name": user.first_name,
           "last_name": user.last_name, "team": user.team_id, "provider": user.provider,
           "disabled": user.disabled, "role": user.role, "language": user.language}
    changes = {k: [old[k], v] for k, v in new.items() if old[k] != v}
    if not changes:
        return {}
    fields = dict(new)
    fields.update(username_key=fold(username), email_key=fold(email) if email else None,
                  username_skeleton=accounts.username_skeleton(username),
                  first_name_key=fold(new["first_name"]) or "",
                  last_name_key=fold(new["last_name"]) or "")
    if "email" in changes or ("disabled" in changes and new["disabled"]):
        fields["security_stamp"] = accounts.new_stamp()
    try:
        with write():
            _apply_update(actor, user, fields, changes, old_email=old["email"])
    except IntegrityError:  # another request took the username or email meanwhile
        raise accounts.AccountError(
            "email" if "email" in changes and "username" not in changes else "username",
            _("A user with this username or email already exists.")) from None
    if "role" in changes:
        access.clear_cache()
    return changes


def _apply_update(actor: User, user: User, fields: dict, changes: dict,
                  old_email: str | None) -> None:
    User.update(**fields).where(User.id == user.id).execute()
    if "email" in changes:
        links.void(user)
    if changes.get("disabled", [False, False])[1]:
        sessions.end_all(user)
    user = User.get_by_id(user.id)
    if "email" in changes and old_email:
        # The recovery channel moved: the previous address hears of it (never the new one).
        mail.queue("email_changed", old_email, user=user, by_admin=actor.id != user.id)
    audit.record("user.update", actor=actor, target=user, detail={"changed": changes})


def create_user(actor: User, data: UserData) -> tuple[User, str | None]:
    """Create an account: invitation email when it has one, otherwise a temporary password.

    A directory account is not created but found: its row comes from the directory entry
    (which keeps the names, email and password); the role, team and language are Passgate's.
    """
    team = Team.get_or_none(Team.id == data.team_id) if data.team_id else None
    source = providers.get(data.provider)
    if source.remote:
        return _add_from_directory(actor, source, data), None
    return accounts.create_user(
        data.username, role=data.role or "user", email=data.email,
        first_name=data.first_name, last_name=data.last_name,
        team=team.name if team else None, language=data.language or None, actor=actor,
        provider=data.provider or "identity", disabled=bool(data.disabled))


def _add_from_directory(actor: User, source, data: UserData) -> User:
    username = accounts.clean_username(data.username)
    if accounts.find(username) is not None:
        raise accounts.AccountError("username", _("A user with this username or email already exists."))
    user = source.find_account(username)  # the directory, outside any transaction
    if user is None:
        raise accounts.AccountError("username", _("There is no account with this username in "
                                                  "the organisation directory."))
    fields = {"role": data.role or "user", "disabled": bool(data.disabled),
              "language": data.language or None}
    if "team_id" not in source.owned_fields():
        fields["team"] = data.team_id
    with write():
        User.update(**fields).where(User.id == user.id).execute()
        user = User.get_by_id(user.id)
        audit.record("user.update", actor=actor, target=user,
                     detail={"changed": {k: [None, v] for k, v in fields.items()},
                             "source": "admin"})
    return user


# --- password actions ------------------------------------------------------------------

def reset_and_unlock(actor: User, user: User, reason: str = "") -> str:
    """Seed 000: a new temporary password (returned once), unlocked, sessions ended."""
    temp = passwords.generate_temporary()
    detail = {"reason": reason.strip()[:500]} if reason and reason.strip() else None
    _replace_password(actor, user, temp, "admin.reset", detail, temporary=True)
    return temp


def _replace_password(actor: User, user: User, password: str, action: str,
                      detail: dict | None, *, temporary: bool = False,
                      must_change: bool = False) -> None:
    """An administrator's new password for ``user``: stored, sessions ended, owner told,
    audited — after the provider (the directory, for ``sso`` accounts) has accepted it;
    bcrypt first, then one write transaction. Raises ``providers.PasswordRejected`` /
    ``DirectoryUnavailable``."""
    providers.for_user(user).set_password(user, password, must_change=temporary or must_change)
    fields = accounts.new_password(password, temporary=temporary, must_change=must_change)
    with write():
        accounts.store_password(user, fields)
        now = utcnow()
        User.update(last_reset_at=now).where(User.id == user.id).execute()
        user.last_reset_at = now
        sessions.end_all(user)
        accounts.notify_password_changed(user, "admin")
        audit.record(action, actor=actor, target=user, detail=detail)
        notify_admins("admin_password_reset" if temporary else "admin_password_set", user,
                      actor=actor)
    mail.wake()


def email_temporary_password(actor: User, user: User, password: str) -> OutboxMail | None:
    """Queue the temporary password to the user, if ``password`` is still their current one.

    The server keeps no copy of the temporary password: the result dialog carries it back
    and it is checked against the stored hash, so only a password that is still valid and
    still temporary can be mailed.
    """
    if not user.email or not user.must_change or user.temp_password_expires_at is None:
        return None
    if user.temp_password_expires_at <= utcnow():
        return None
    if not password or not passwords.verify_password(password, user.password_hash):
        return None
    with write():
        row = mail.queue("temp_password", user.email, user=user, password=password,
                         expires_at=user.temp_password_expires_at)
        audit.record("admin.temp_password_mail", actor=actor, target=user,
                     detail={"mail_id": row.id})
    return row


def set_password(actor: User, user: User, password: str, must_change: bool) -> None:
    """An administrator types the password (seeds 001-003); checked by the caller."""
    _replace_password(actor, user, password, "admin.set_password",
                      {"must_change": bool(must_change)}, must_change=must_change)


def unlock(actor: User, user: User) -> None:
    providers.for_user(user).unlock(user)
    with write():
        throttle.clear(user)
        audit.record("admin.unlock", actor=actor, target=user)


def set_disabled(actor: User, user: User, disabled: bool) -> None:
    """Disable (sessions end, links die) or enable an account."""
    fields = {"disabled": disabled}
    if disabled:
        fields["security_stamp"] = accounts.new_stamp()
    with write():
        User.update(**fields).where(User.id == user.id).execute()
        if disabled:
            sessions.end_all(user)
        audit.record("admin.disable" if disabled else "admin.enable", actor=actor, target=user)


def end_sessions(actor: User, user: User) -> int:
    with write():
        count = sessions.end_all(user)
        audit.record("admin.end_sessions", actor=actor, target=user, detail={"sessions": count})
    return count


def resend_purpose(user: User) -> str | None:
    """What a re-send would send: an invitation (no password yet), a recovery link, or
    None when the account cannot receive one."""
    if user.disabled or not user.email or user.provider != "identity":
        return None
    return "invite" if user.password_hash is None else "reset"


def has_pending_link(user: User) -> bool:
    return ResetToken.select().where(
        (ResetToken.user == user.id) & ResetToken.used_at.is_null()
        & (ResetToken.expires_at > utcnow()) & (ResetToken.stamp == user.security_stamp)
    ).exists()


def resend_link(actor: User, user: User, purpose: str) -> None:
    """Send a new invitation or recovery link; the pending one is voided (links.issue)."""
    with write():
        voided = has_pending_link(user)
        links.issue(user, purpose, language=user.language)
        audit.record("admin.resend", actor=actor, target=user,
                     detail={"kind": purpose, "voided": voided})
    mail.wake()


def mail_status(row_id: int) -> OutboxMail | None:
    return OutboxMail.get_or_none(OutboxMail.id == row_id)
