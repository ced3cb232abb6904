"""Access decisions, in one place: permissions come from the actor's role row, and the
actor/target pair decides reach (all accounts, or the teams a manager administers, and
never an equal or higher role)."""

from __future__ import annotations

from functools import lru_cache

from flask import abort
from flask_login import current_user

from .models import ManagedTeam, Role, User


@lru_cache(maxsize=64)
def _role(name: str) -> tuple[frozenset, str, int]:
    role = Role.get_or_none(Role.name == name)
    if role is None:
        return frozenset(), "self", 0
    return role.permission_set(), role.scope, role.rank


@lru_cache(maxsize=64)
def _ranked_below(rank: int) -> tuple[str, ...]:
    return tuple(r.name for r in Role.select(Role.name).where(Role.rank < rank))


def clear_cache() -> None:
    _role.cache_clear()
    _ranked_below.cache_clear()


def has_permission(actor: User, permission: str) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.disabled:
        return False
    return permission in _role(actor.role)[0]


def team_ids(actor: User) -> set[int]:
    """Teams within a team-scoped actor's reach: their own and those they manage."""
    ids = {row.team_id for row in ManagedTeam.select(ManagedTeam.team).where(
        ManagedTeam.manager == actor.id)}
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


def lower_roles(actor: User) -> list[str]:
    """Names of the roles ranked below the actor's (a team-scoped actor's reach)."""
    return list(_ranked_below(_role(actor.role)[2]))


def visible_roles(actor: User) -> list[str] | None:
    """Roles the actor may see in lists: None = all (an "all" scope), else lower ranks."""
    if _role(actor.role)[1] == "all":
        return None
    return lower_roles(actor)


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


def require(permission: str) -> User:
    """The signed-in user, if they hold ``permission`` (403 otherwise, audited)."""
    actor = current_user._get_current_object()
    if not has_permission(actor, permission):
        abort(403)
    return actor


def require_target(user_id: int, permission: str = "users.update") -> tuple[User, User]:
    """(actor, target) or 403/404. A team-scoped actor gets 403 for unknown ids too, so
    walking ids reveals nothing about other teams."""
    actor = require(permission)
    try:
        user = get_target(actor, user_id, permission)
    except Denied:
        abort(403)
    if user is None:
        abort(404 if visible_roles(actor) is None else 403)
    return actor, user
