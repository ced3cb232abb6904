"""The user list: the query string parsed and bounded (``Search``), the WHERE clauses
(reach, text prefixes, filters) and one page of results, each query answered from an
index on both engines."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from peewee import JOIN, SQL, fn

from .. import access
from ..db import is_sqlite, starts_with
from ..http_input import parse_id
from ..models import Team, User, fold, utcnow
from .labels import FILTER_LABELS, PROVIDER_LABELS

SMALL = 999_999_999  # page numbers, sizes and ids typed in the search box

PER_PAGE = 50
SMALL_RESULT = 5000
MAX_QUERY = 100

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
            number = parse_id(one(name), SMALL)
            return default if number is None else number

        role = one("role")
        status = one("status")
        provider = one("provider")
        sort = one("sort")
        return cls(
            q=one("q")[:MAX_QUERY],
            role=role if role in access.role_names() else None,
            status=status if status in FILTER_LABELS else None,
            team_id=integer("team"),
            provider=provider if provider in PROVIDER_LABELS else None,
            sort=sort if sort in SORTS else "username",
            direction="desc" if one("dir") == "desc" else "asc",
            page=max(integer("page", 1), 1),
        )

    def params(self, **changes) -> dict:
        """Query-string parameters (only the ones that differ from the defaults)."""
        values = {
            "q": self.q,
            "role": self.role,
            "status": self.status,
            "team": self.team_id,
            "provider": self.provider,
            "sort": self.sort,
            "dir": self.direction,
            "page": self.page,
        }
        values.update(changes)
        defaults = {"sort": "username", "dir": "asc", "page": 1}
        return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}


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
        User.locked_until.is_null() | (User.locked_until <= now)
    )
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
        return (
            enabled
            & not_locked
            & User.password_hash.is_null(False)
            & (User.must_change == SQL("TRUE"))
        )  # literal: matches the partial index
    if status == "active":
        return (
            enabled & not_locked & User.password_hash.is_null(False) & (User.must_change == False)
        )
    return None


def _prefix(column, key: str):
    """``column`` starts with ``key``: answered from an index, never a LIKE '%q%' scan."""
    return starts_with(column, key)


def text_condition(q: str):
    """Search by ID (exact), username, email, first or last name (prefixes), or "first last"."""
    key = fold(q)
    if not key:
        return None
    cond = (
        _prefix(User.username_key, key)
        | _prefix(User.email_key, key)
        | _prefix(User.first_name_key, key)
        | _prefix(User.last_name_key, key)
    )
    if (number := parse_id(key, SMALL)) is not None:
        cond |= User.id == number
    words = key.split()
    if len(words) == 2:
        a, b = words
        cond |= (_prefix(User.first_name_key, a) & _prefix(User.last_name_key, b)) | (
            _prefix(User.last_name_key, a) & _prefix(User.first_name_key, b)
        )
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


def search_users(actor: User, q: str = "", per_page: int = PER_PAGE, **filters) -> Page:
    """One page of the user list, as the actor may see it; ``filters`` are the other fields
    of ``Search`` (an unknown sort is by username)."""
    search = Search(q=q, **filters)
    if search.sort not in SORTS:
        search = replace(search, sort="username")
    return run_search(actor, search, per_page)


def run_search(actor: User, search: Search, per_page: int = PER_PAGE) -> Page:
    conds = conditions(actor, search)
    query = filtered_query(actor, search, conds)
    # Count without the join: SQLite can then answer from an index alone.
    total = (User.select(User.id).where(*conds) if conds else User.select(User.id)).count()
    pages = max(math.ceil(total / per_page), 1)
    page = min(max(search.page, 1), pages)
    column = SORTS.get(search.sort, User.username_key)
    if (
        is_sqlite()
        and total <= SMALL_RESULT
        and not _username_order_is_cheaper(actor, search, total, page * per_page)
    ):
        # Few matches: sort them, rather than walk the whole sort index looking for them
        # (SQLite would otherwise prefer the index that gives the order for free).
        column = column + 0 if search.sort == "id" else column.concat("")
    # Empty values (no team, never signed in) last in both directions, on both engines.
    order = column.desc(nulls="LAST") if search.direction == "desc" else column.asc(nulls="LAST")
    tiebreak = User.id.desc() if search.direction == "desc" else User.id.asc()
    items = list(query.order_by(order, tiebreak).paginate(page, per_page))
    return Page(items=items, total=total, page=page, pages=pages, per_page=per_page)


def _username_order_is_cheaper(actor: User | None, search: Search, total: int, rows: int) -> bool:
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
    if actor is not None and not access.sees_everyone(actor) and len(access.team_ids(actor)) == 1:
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
    query = Team.select().order_by(Team.name_key)
    if not access.sees_everyone(actor):
        query = query.where(Team.id.in_(sorted(access.team_ids(actor)) or [0]))
    return list(query)
