"""Teams, for administrators: create, rename, delete (members keep their accounts and are
left without a team), and which managers look after each team. Plain forms: each change
is one POST answered with a redirect and a message, or the page again with the error
(422) and what was typed."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..access.guard import requires
from ..admin import bp
from ..forms import EmptyForm
from ..messages import text
from ..models import Team, User
from . import service


def _list_page(status=200, **extra):
    ctx = {"rows": service.rows(), "form": EmptyForm(), "name": "", "error": None, **extra}
    return render_template("admin/teams.html", **ctx), status


@bp.get("/teams")
@requires("users.update", everyone=True)  # administrators
def teams(actor: User):
    return _list_page()


@bp.post("/teams")
@requires("users.update", everyone=True)  # administrators
def team_create(actor: User):
    name, error = service.clean_name(request.form.get("name"))
    if error:
        return _list_page(422, name=request.form.get("name", ""), error=error)
    team = service.create(actor, name)
    flash(text("TEAM_CREATED", name=team.name), "success")
    return redirect(url_for("admin.team_edit", team_id=team.id), 303)


def _team(team_id: int) -> Team:
    team = service.get(team_id)
    if team is None:
        abort(404)
    return team


def _edit_page(team: Team, status=200, **extra):
    ctx = {**service.edit_context(team), "form": EmptyForm(), "error": None, **extra}
    return render_template("admin/team_edit.html", **ctx), status


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@requires("users.update", everyone=True)  # administrators
def team_edit(actor: User, team_id: int):
    team = _team(team_id)
    if request.method != "POST":
        return _edit_page(team)
    name, error = service.clean_name(request.form.get("name"), team.id)
    chosen = service.chosen_managers(request.form.getlist("managers"))
    if chosen is None:
        abort(400)
    if error:
        return _edit_page(team, 422, name=request.form.get("name", ""), error=error, current=chosen)
    service.save(actor, team, name, chosen)
    flash(text("TEAM_SAVED", name=name), "success")
    return redirect(url_for("admin.teams"), 303)


@bp.route("/teams/<int:team_id>/delete", methods=["GET", "POST"])
@requires("users.update", everyone=True)  # administrators
def team_delete(actor: User, team_id: int):
    team = _team(team_id)
    if request.method != "POST":
        return render_template(
            "admin/team_delete.html",
            team=team,
            form=EmptyForm(),
            members=service.member_count(team),
            managers=len(service.manager_ids(team)),
        )
    members, _managers = service.delete(actor, team)
    flash(text("TEAM_DELETED", num=members, name=team.name), "success")
    return redirect(url_for("admin.teams"), 303)
