"""Access decisions, in one place: permissions come from the actor's role row, and the
actor/target pair decides reach (all accounts, or the teams a manager administers, and
never an equal or higher role) and the rules about oneself. No role is named in code:
roles are rows (``models.DEFAULT_ROLES`` and migration 0001 seed them).

Views state their access with one decorator, :func:`portal.access.guard.requires`.
"""

from __future__ import annotations

from functools import lru_cache

from peewee import SQL

from ..models import ManagedTeam, Role, User


@lru_cache(maxsize=64)
def _role(name: str) -> tuple[frozenset, str, int]:
    role = Role.get_or_none(Role.name == name)
    if role is None:
        return frozenset(), "self", 0
    return role.permission_set(), role.scope, role.rank


@lru_cache(maxsize=64)
def _ranked_below(rank: int) -> tuple[str, ...]:
    return tuple(
        r.name
        for r in Role.select(Role.name)
        .where(Role.rank < rank)
        .order_by(Role.rank.desc(), Role.name)
    )


@lru_cache(maxsize=1)
def _roles() -> tuple[tuple[str, str], ...]:
    """(name, scope) of every role, highest rank first (then by name)."""
    return tuple((r.name, r.scope) for r in Role.select().order_by(Role.rank.desc(), Role.name))


@lru_cache(maxsize=1)
def _lowest() -> str:
    role = Role.select(Role.name).order_by(Role.rank, Role.name).first()
    return role.name if role is not None else ""


def clear_cache() -> None:
    _role.cache_clear()
    _ranked_below.cache_clear()
    _roles.cache_clear()
    _lowest.cache_clear()


# --- roles ---------------------------------------------------------------------------


def role_names() -> list[str]:
    """Every role, highest rank first."""
    return [name for name, _scope in _roles()]


def default_role() -> str:
    """The role a new account gets when none is chosen: the lowest-ranked one."""
    return _lowest()


def grants_everyone(role: str) -> bool:
    """Does ``role`` reach every account (creating one creates privilege)?"""
    return _role(role)[1] == "all"


def team_roles() -> list[str]:
    """Roles whose reach is the teams they look after (the managers of a team)."""
    return [name for name, scope in _roles() if scope == "team"]


# --- permissions and reach -----------------------------------------------------------


def has_permission(actor: User, permission: str) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.disabled:
        return False
    return permission in _role(actor.role)[0]


def sees_everyone(actor: User) -> bool:
    """Is every account within the actor's reach (an "all" scope)?"""
    return _role(actor.role)[1] == "all"


def team_ids(actor: User) -> set[int]:
    """Teams within a team-scoped actor's reach: their own and those they manage."""
    ids = {
        row.team_id
        for row in ManagedTeam.select(ManagedTeam.team).where(ManagedTeam.manager == actor.id)
    }
    if actor.team_id:
        ids.add(actor.team_id)
    return ids


def can(actor: User, permission: str, target: User | None = None) -> bool:
    """May ``actor`` use ``permission`` (on ``target``, when given)?"""
    if not has_permission(actor, permission):
        return False
    if target is None:
        return True
    _perms, scope, rank = _role(actor.role)
    if scope == "all":
        return True
    if scope != "team" or target.id == actor.id:
        return False
    return _role(target.role)[2] < rank and target.team_id in team_ids(actor)


def may_create(actor: User, role: str, team_id: int | None) -> bool:
    """May ``actor`` create an account with ``role`` in team ``team_id``? Every role and team
    for an "all" scope; a team-scoped actor (a manager, seed 003) only below their own rank
    and in one of their teams, so the new account is within their reach."""
    if not has_permission(actor, "users.create"):
        return False
    _perms, scope, rank = _role(actor.role)
    if scope == "all":
        return True
    if scope != "team" or team_id is None:
        return False
    return role in _ranked_below(rank) and team_id in team_ids(actor)


def create_refusal(actor: User, role: str, team_id: int | None) -> str | None:
    """Why ``actor`` may not create an account with ``role`` in team ``team_id``: "role"
    (not ranked below theirs), "team" (not one of their teams), or None (they may)."""
    if sees_everyone(actor):
        return None
    if role not in lower_roles(actor):
        return "role"
    return None if may_create(actor, role, team_id) else "team"


def lower_roles(actor: User) -> list[str]:
    """Names of the roles ranked below the actor's (a team-scoped actor's reach)."""
    return list(_ranked_below(_role(actor.role)[2]))


def visible_roles(actor: User) -> list[str] | None:
    """Roles the actor may see in lists: None = all (an "all" scope), else lower ranks."""
    if sees_everyone(actor):
        return None
    return lower_roles(actor)


def may_manage_teams(actor: User) -> bool:
    """Teams and their managers are set by actors with every account in reach."""
    return sees_everyone(actor) and has_permission(actor, "users.update")


def assignable_roles(actor: User) -> list[str]:
    """Roles the actor may give (only actors with every account in reach set roles)."""
    return role_names() if sees_everyone(actor) else []


def reach_condition(actor: User, user_model=User, team_expr=None):
    """SQL form of :func:`can` for a list of targets (``user_model`` may be an alias):
    None = every account; otherwise the accounts of the actor's teams ranked below them.
    ``team_expr`` replaces ``user_model.team`` (same values; a query planner hint)."""
    if not has_permission(actor, "users.read"):
        return user_model.id.is_null()
    _perms, scope, _rank = _role(actor.role)
    if scope == "all":
        return None
    teams = sorted(team_ids(actor)) if scope == "team" else []
    roles = lower_roles(actor) if scope == "team" else []
    if not teams or not roles:
        return user_model.id.is_null()
    team = user_model.team if team_expr is None else team_expr
    return team.in_(teams) & user_model.role.in_(roles) & (user_model.id != actor.id)


def event_condition(actor: User, event_team, target):
    """Which audit events ``actor`` may read, as SQL over the event's ``team_id`` column and
    its ``target`` user (an alias joined by the caller); None = every event.

    A team-scoped reader sees the events about the members of their teams ranked below
    them (the reach rule), and their own; nothing else (issue 11, finding 5)."""
    if not has_permission(actor, "audit.read"):
        return SQL("1 = 0")
    _perms, scope, _rank = _role(actor.role)
    if scope == "all":
        return None
    teams = sorted(team_ids(actor)) if scope == "team" else []
    if not teams:
        return SQL("1 = 0")
    return event_team.in_(teams) & (
        target.role.in_(lower_roles(actor) or [""]) | (target.id == actor.id)
    )


class Denied(Exception):
    """The actor may not act on this user (a view answers 403, audited)."""


def get_target(actor: User, user_id: int, permission: str) -> User | None:
    """The user ``user_id`` if the actor may use ``permission`` on it; None if unknown.

    Raises Denied when the user exists but is out of the actor's reach.
    """
    user = User.get_or_none(User.id == user_id)
    if user is None:
        return None
    if not can(actor, permission, user):
        raise Denied()
    return user


# --- rules about teams and oneself -----------------------------------------------------


def team_allowed(actor: User, team_id: int | None, allowed_ids) -> bool:
    """May the actor put an account in ``team_id`` (``allowed_ids``: the teams they may
    assign)? A team-scoped actor must choose one of their teams, never "no team"."""
    if team_id is None:
        return sees_everyone(actor)
    return team_id in allowed_ids


def edit_refusal(
    actor: User, target: User | None, *, disabled: bool, role: str | None
) -> tuple[str, str] | None:
    """(field, message key) when the actor may not make this change to their own account
    (disable it, change its role), else None. ``target`` None: a new account."""
    if target is None or target.id != actor.id:
        return None
    if disabled:
        return "disabled", "SELF_DISABLE"
    if role is not None and role != target.role:
        return "role", "SELF_ROLE"
    return None


def may_disable(actor: User, target: User) -> bool:
    """Disabling oneself would end this very session: never."""
    return target.id != actor.id and can(actor, "users.update", target)


def without_self(actor: User, ids: list[int]) -> tuple[list[int], bool]:
    """A selection for a bulk action without the actor's own account (a bulk reset or
    disable would end this very session); and whether it was selected."""
    return [i for i in ids if i != actor.id], actor.id in ids
