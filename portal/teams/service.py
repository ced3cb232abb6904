"""Teams: names, members and the managers who look after each (one manager may have
several teams). Every change is one short transaction, audited."""

from __future__ import annotations

from peewee import fn

from .. import access, audit
from ..db import write
from ..http_input import parse_id
from ..messages import text
from ..models import ManagedTeam, Team, User, fold

NAME_MAX = 64


def clean_name(raw: str | None, team_id: int | None = None) -> tuple[str, str | None]:
    """The name as it will be stored, and what is wrong with it (None if nothing)."""
    name = " ".join((raw or "").split())
    if not name:
        return name, text("TEAM_NAME_REQUIRED")
    if len(name) > NAME_MAX:
        return name, text("TOO_LONG", max=NAME_MAX, length=len(name))
    if any(not ch.isprintable() for ch in name):
        return name, text("CONTROL_CHARS")
    query = Team.select().where(Team.name_key == fold(name))
    if team_id is not None:
        query = query.where(Team.id != team_id)
    return name, text("TEAM_EXISTS") if query.exists() else None


def rows() -> list[dict]:
    """Every team with its member count and managers (the teams page)."""
    members = dict(
        User.select(User.team, fn.COUNT(User.id))
        .where(User.team.is_null(False))
        .group_by(User.team)
        .tuples()
    )
    managers: dict[int, list[User]] = {}
    for link in ManagedTeam.select(ManagedTeam, User).join(User).order_by(User.username_key):
        managers.setdefault(link.team_id, []).append(link.manager)
    return [
        {"team": t, "members": members.get(t.id, 0), "managers": managers.get(t.id, [])}
        for t in Team.select().order_by(Team.name_key)
    ]


def get(team_id: int) -> Team | None:
    return Team.get_or_none(Team.id == team_id)


def edit_context(team: Team) -> dict:
    """What the edit page shows of ``team``: its name, members and possible managers."""
    return {
        "team": team,
        "managers": possible_managers(),
        "current": manager_ids(team),
        "members": member_count(team),
        "name": team.name,
    }


def chosen_managers(values: list[str]) -> set[int] | None:
    """The managers ticked on the form, or None if one is not a possible manager."""
    chosen = {parse_id(v) for v in values} - {None}
    return chosen if chosen <= {u.id for u in possible_managers()} else None


def possible_managers() -> list[User]:
    """Accounts whose role looks after teams (``access.team_roles``)."""
    return list(User.select().where(User.role.in_(access.team_roles())).order_by(User.username_key))


def manager_ids(team: Team) -> set[int]:
    return {link.manager_id for link in ManagedTeam.select().where(ManagedTeam.team == team.id)}


def member_count(team: Team) -> int:
    return User.select().where(User.team == team.id).count()


def create(actor: User, name: str) -> Team:
    with write():
        team = Team.create(name=name, name_key=fold(name))
        audit.record("team.create", actor=actor, detail={"team": team.name})
    return team


def save(actor: User, team: Team, name: str, chosen: set[int]) -> None:
    """Rename the team and set its managers (each change audited)."""
    with write():
        before = manager_ids(team)
        if name != team.name:
            Team.update(name=name, name_key=fold(name)).where(Team.id == team.id).execute()
            audit.record("team.rename", actor=actor, detail={"from": team.name, "to": name})
        added, removed = chosen - before, before - chosen
        if removed:
            ManagedTeam.delete().where(
                (ManagedTeam.team == team.id) & ManagedTeam.manager.in_(sorted(removed))
            ).execute()
        for manager_id in sorted(added):
            ManagedTeam.create(team=team.id, manager=manager_id)
        for manager_id in sorted(added | removed):
            audit.record(
                "team.managers",
                actor=actor,
                target=User.get_by_id(manager_id),
                detail={"team": name, "managed": manager_id in added},
            )


def delete(actor: User, team: Team) -> tuple[int, int]:
    """Delete the team; its members stay, without a team. (members, managers) it had."""
    members = member_count(team)
    managers = len(manager_ids(team))
    with write():
        User.update(team=None).where(User.team == team.id).execute()
        ManagedTeam.delete().where(ManagedTeam.team == team.id).execute()
        Team.delete().where(Team.id == team.id).execute()
        audit.record(
            "team.delete",
            actor=actor,
            detail={"team": team.name, "members": members, "managers": managers},
        )
    return members, managers
