"""Teams, for administrators: create, rename, delete (members keep their accounts and are
left without a team), and which managers look after each team (one manager may have
several teams). Plain forms: each change is one POST answered with a redirect and a
message, or the page again with the error (422) and what was typed."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from peewee import fn

from .. import access, audit
from ..admin import bp
from ..db import database
from ..forms import EmptyForm
from ..models import ManagedTeam, Team, User, fold

NAME_MAX = 64


def _admin() -> User:
    """Teams are managed by accounts with every user in reach (administrators)."""
    actor = access.require("users.update")
    if access.visible_roles(actor) is not None:
        abort(403)
    return actor


def _clean_name(raw: str | None) -> tuple[str, str | None]:
    name = " ".join((raw or "").split())
    if not name:
        return name, _("Enter a team name.")
    if len(name) > NAME_MAX:
        return name, _("Use at most %(max)d characters (this has %(length)d).", max=NAME_MAX,
                       length=len(name))
    if any(not ch.isprintable() for ch in name):
        return name, _("Remove the control characters from this field.")
    return name, None


def _taken(name: str, team_id: int | None = None) -> bool:
    query = Team.select().where(Team.name_key == fold(name))
    if team_id is not None:
        query = query.where(Team.id != team_id)
    return query.exists()


def team_rows() -> list[dict]:
    members = dict(User.select(User.team, fn.COUNT(User.id)).where(User.team.is_null(False))
                   .group_by(User.team).tuples())
    managers: dict[int, list[User]] = {}
    for link in ManagedTeam.select(ManagedTeam, User).join(User).order_by(User.username_key):
        managers.setdefault(link.team_id, []).append(link.manager)
    return [{"team": t, "members": members.get(t.id, 0), "managers": managers.get(t.id, [])}
            for t in Team.select().order_by(Team.name_key)]


def _list_page(status=200, **extra):
    ctx = {"rows": team_rows(), "form": EmptyForm(), "name": "", "error": None, **extra}
    return render_template("admin/teams.html", **ctx), status


@bp.get("/teams")
@login_required
def teams():
    _admin()
    return _list_page()


@bp.post("/teams")
@login_required
def team_create():
    actor = _admin()
    EmptyForm().validate_on_submit()
    name, error = _clean_name(request.form.get("name"))
    if error is None and _taken(name):
        error = _("A team with this name already exists.")
    if error:
        return _list_page(422, name=request.form.get("name", ""), error=error)
    with database.atomic():
        team = Team.create(name=name, name_key=fold(name))
        audit.record("team.create", actor=actor, detail={"team": team.name})
    flash(_("Team %(name)s created.", name=team.name), "success")
    return redirect(url_for("admin.team_edit", team_id=team.id), 303)


def _team(team_id: int) -> Team:
    team = Team.get_or_none(Team.id == team_id)
    if team is None:
        abort(404)
    return team


def _edit_page(team: Team, status=200, **extra):
    managers = list(User.select().where(User.role == "manager").order_by(User.username_key))
    current = {link.manager_id for link in ManagedTeam.select().where(ManagedTeam.team == team.id)}
    members = User.select().where(User.team == team.id).count()
    ctx = {"team": team, "managers": managers, "current": current, "members": members,
           "form": EmptyForm(), "name": team.name, "error": None, **extra}
    return render_template("admin/team_edit.html", **ctx), status


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@login_required
def team_edit(team_id: int):
    actor = _admin()
    team = _team(team_id)
    if request.method != "POST":
        return _edit_page(team)
    EmptyForm().validate_on_submit()
    name, error = _clean_name(request.form.get("name"))
    if error is None and _taken(name, team.id):
        error = _("A team with this name already exists.")
    chosen = {int(v) for v in request.form.getlist("managers") if v.isdigit()}
    valid = {u.id for u in User.select(User.id).where(User.role == "manager")}
    if not chosen <= valid:
        abort(400)
    if error:
        return _edit_page(team, 422, name=request.form.get("name", ""), error=error,
                          current=chosen)
    with database.atomic():
        before = {m.manager_id for m in ManagedTeam.select().where(ManagedTeam.team == team.id)}
        if name != team.name:
            Team.update(name=name, name_key=fold(name)).where(Team.id == team.id).execute()
            audit.record("team.rename", actor=actor, detail={"from": team.name, "to": name})
        added, removed = chosen - before, before - chosen
        if removed:
            ManagedTeam.delete().where((ManagedTeam.team == team.id)
                                       & ManagedTeam.manager.in_(sorted(removed))).execute()
        for manager_id in sorted(added):
            ManagedTeam.create(team=team.id, manager=manager_id)
        for manager_id in sorted(added | removed):
            audit.record("team.managers", actor=actor, target=User.get_by_id(manager_id),
                         detail={"team": name, "managed": manager_id in added})
    flash(_("Team %(name)s saved.", name=name), "success")
    return redirect(url_for("admin.teams"), 303)


@bp.route("/teams/<int:team_id>/delete", methods=["GET", "POST"])
@login_required
def team_delete(team_id: int):
    actor = _admin()
    team = _team(team_id)
    members = User.select().where(User.team == team.id).count()
    managers = ManagedTeam.select().where(ManagedTeam.team == team.id).count()
    if request.method != "POST":
        return render_template("admin/team_delete.html", team=team, members=members,
                               managers=managers, form=EmptyForm())
    EmptyForm().validate_on_submit()
    with database.atomic():
        User.update(team=None).where(User.team == team.id).execute()
        ManagedTeam.delete().where(ManagedTeam.team == team.id).execute()
        Team.delete().where(Team.id == team.id).execute()
        audit.record("team.delete", actor=actor,
                     detail={"team": team.name, "members": members, "managers": managers})
    flash(ngettext("Team %(name)s deleted; its %(num)d member now has no team.",
                   "Team %(name)s deleted; its %(num)d members now have no team.", members,
                   name=team.name), "success")
    return redirect(url_for("admin.teams"), 303)
