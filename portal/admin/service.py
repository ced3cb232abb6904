"""User administration services: search, edit, Reset & Unlock, set password, unlock,
disable/enable, end sessions. Plain functions, usable without HTTP (tests, bench, CLI).

Access is decided by ``portal.access``; these functions assume the caller checked it
(``get_target`` does it for the views) and record who acted in the audit log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN, SQL

from .. import access, accounts, audit, mail, passwords, sessions, throttle
from ..db import database, is_sqlite, starts_with
from ..models import OutboxMail, ResetToken, Role, Team, User, fold, utcnow

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


def role_label(name: str) -> str:
    return str(ROLE_LABELS.get(name, name))


def status_label(name: str) -> str:
    return str(STATUS_LABELS.get(name, name))


def user_status(user: User) -> str:
    """The list's status: ``User.status``, with a short self-clearing sign-in wait told
    apart from a lock only an administrator or a password reset lifts."""
    status = user.status
    if status == "locked" and not user.hard_locked:
        return "waiting"
    return status


def provider_label(name: str) -> str:
    return str(PROVIDER_LABELS.get(name, name))


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


def visible_roles(actor: User) -> list[str] | None:
    """Roles the actor may see in lists (None = all): a team scope sees only lower ranks."""
    role = Role.get_or_none(Role.name == actor.role)
    if role is None:
        return []
    if role.scope == "all":
        return None
    return [r.name for r in Role.select(Role.name).where(Role.rank < role.rank)]


def scope_condition(actor: User | None):
    """The WHERE clause limiting a query to the accounts within ``actor``'s reach.

    ``actor`` None means the command line (the server operator): every account.
    """
    if actor is None:
        return None
    if not access.has_permission(actor, "users.read"):
        return User.id.is_null()  # nothing
    roles = visible_roles(actor)
    if roles is None:
        return None
    teams = access.team_ids(actor)
    if not teams or not roles:
        return User.id.is_null()
    return User.team.in_(sorted(teams)) & User.role.in_(roles) & (User.id != actor.id)


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
                & (User.must_change == True))
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
    conds = [scope_condition(actor), text_condition(search.q)]
    if search.role:
        conds.append(User.role == search.role)
    if search.status:
        conds.append(status_condition(search.status))
    if search.team_id:
        conds.append(User.team == search.team_id)
    if search.provider:
        conds.append(User.provider == search.provider)
    return [c for c in conds if c is not None]


def filtered_query(actor: User | None, search: Search):
    """Users (with their team) matching the search and within reach; no order, no paging."""
    query = User.select(User, Team).join(Team, JOIN.LEFT_OUTER, on=(User.team == Team.id))
    conds = conditions(actor, search)
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
    query = filtered_query(actor, search)
    conds = conditions(actor, search)
    # Count without the join: SQLite can then answer from an index alone.
    total = (User.select(User.id).where(*conds) if conds else User.select(User.id)).count()
    pages = max(math.ceil(total / per_page), 1)
    page = min(max(search.page, 1), pages)
    column = SORTS.get(search.sort, User.username_key)
    if is_sqlite() and total <= SMALL_RESULT:
        # Few matches: sort them, rather than walk the whole sort index looking for them
        # (SQLite would otherwise prefer the index that gives the order for free).
        column = column + 0 if search.sort == "id" else column.concat("")
    # Empty values (no team, never signed in) last in both directions, on both engines.
    order = (column.desc(nulls="LAST") if search.direction == "desc"
             else column.asc(nulls="LAST"))
    tiebreak = User.id.desc() if search.direction == "desc" else User.id.asc()
    items = list(query.order_by(order, tiebreak).paginate(page, per_page))
    return Page(items=items, total=total, page=page, pages=pages, per_page=per_page)


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
    disabling also ends every session of the user.
    """
    username = accounts.clean_username(data.username)
    email = accounts.clean_email(data.email)
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
                  first_name_key=fold(new["first_name"]) or "",
                  last_name_key=fold(new["last_name"]) or "")
    if "email" in changes or ("disabled" in changes and new["disabled"]):
        fields["security_stamp"] = accounts.new_stamp()
    with database.atomic():
        User.update(**fields).where(User.id == user.id).execute()
        if "email" in changes:
            ResetToken.update(used_at=utcnow()).where(
                (ResetToken.user == user.id) & ResetToken.used_at.is_null()).execute()
        if "disabled" in changes and new["disabled"]:
            sessions.end_all(user)
        user = User.get_by_id(user.id)
        audit.record("user.update", actor=actor, target=user, detail={"changed": changes})
    if "role" in changes:
        access.clear_cache()
    return changes


def create_user(actor: User, data: UserData) -> tuple[User, str | None]:
    """Create an account: invitation email when it has one, otherwise a temporary password."""
    team = Team.get_or_none(Team.id == data.team_id) if data.team_id else None
    with database.atomic():
        user, temp = accounts.create_user(
            data.username, role=data.role or "user", email=data.email,
            first_name=data.first_name, last_name=data.last_name,
            team=team.name if team else None, language=data.language or None, actor=actor)
        if data.provider != "identity" or data.disabled:
            User.update(provider=data.provider, disabled=bool(data.disabled)).where(
                User.id == user.id).execute()
            user = User.get_by_id(user.id)
    return user, temp


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
    audited — one transaction."""
    with database.atomic():
        accounts.set_password(user, password, temporary=temporary, must_change=must_change)
        now = utcnow()
        User.update(last_reset_at=now).where(User.id == user.id).execute()
        user.last_reset_at = now
        sessions.end_all(user)
        accounts.notify_password_changed(user, "admin")
        audit.record(action, actor=actor, target=user, detail=detail)
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
    with database.atomic():
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
    with database.atomic():
        User.update(**throttle.CLEAR).where(User.id == user.id).execute()
        audit.record("admin.unlock", actor=actor, target=user)


def set_disabled(actor: User, user: User, disabled: bool) -> None:
    """Disable (sessions end, links die) or enable an account."""
    fields = {"disabled": disabled}
    if disabled:
        fields["security_stamp"] = accounts.new_stamp()
    with database.atomic():
        User.update(**fields).where(User.id == user.id).execute()
        if disabled:
            sessions.end_all(user)
        audit.record("admin.disable" if disabled else "admin.enable", actor=actor, target=user)


def end_sessions(actor: User, user: User) -> int:
    with database.atomic():
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
    """Send a new invitation or recovery link; the pending one is voided (issue_link)."""
    from ..recovery.service import issue_link

    with database.atomic():
        voided = has_pending_link(user)
        issue_link(user, purpose, language=user.language)
        audit.record("admin.resend", actor=actor, target=user,
                     detail={"kind": purpose, "voided": voided})
    mail.wake()


def mail_status(row_id: int) -> OutboxMail | None:
    return OutboxMail.get_or_none(OutboxMail.id == row_id)
