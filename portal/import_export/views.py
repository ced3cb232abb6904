"""User report (CSV of the filtered list) and CSV import (all or nothing)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from .. import access, audit
from ..access.guard import requires
from ..admin import bp
from ..csvtext import csv_line
from ..models import Team, User, utcnow
from ..stepup import service as stepup
from ..users.search import Search
from . import flow
from . import service as csvio
from .flow import MAX_IMPORT_BYTES
from .forms import ImportForm


def _page(form, outcome: flow.Outcome | None = None):
    """The import page after ``outcome`` (none: the empty form)."""
    outcome = outcome or flow.Outcome()
    ctx = {"columns": csvio.IMPORT_COLUMNS, "max_kb": flow.max_kb(), **outcome.context()}
    page = render_template(
        "admin/import.html", form=form, ask_password=not stepup.is_fresh(), **ctx
    )
    response = Response(page, status=outcome.status)
    response.headers["Cache-Control"] = "no-store"  # may show temporary passwords
    return response


@bp.get("/users/export.csv")
@requires("users.read")
def users_export(actor: User):
    search = Search.from_args(request.args)
    audit.record(
        "admin.export",
        actor=actor,
        detail={"q": search.q[:50], **{k: v for k, v in search.params().items() if k != "q"}},
    )
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response = Response(stream_with_context(csvio.report_csv(actor, search)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="passgate-users-{stamp}.csv"'
    return response


def _sample_rows(actor: User) -> list[list[str]]:
    """Three example lines: two accounts of the default role, one team manager; for a
    team-scoped actor (a manager), only lines their own import accepts: their team, the
    default role."""
    user = access.default_role()
    manager = (access.team_roles() or [user])[0]
    teams = ["Front Desk", "Warehouse"]
    if not access.sees_everyone(actor):
        mine = Team.select(Team.name).where(Team.id.in_(access.team_ids(actor) or {0}))
        teams = sorted(team.name for team in mine)[:1] * 2 or teams
        manager = user
    return [
        ["j.martin", "jeanne.martin@example.org", "Jeanne", "Martin", user, teams[0], "fr"],
        ["p.okafor", "", "Peter", "Okafor", user, teams[1], "en"],
        ["s.leroy", "sophie.leroy@example.org", "Sophie", "Leroy", manager, teams[0], ""],
    ]


@bp.get("/users/import/sample.csv")
@requires("users.create")
def users_import_sample(actor: User):
    """A file to start from: the columns the import reads and three example lines."""
    rows = [csvio.IMPORT_COLUMNS, *_sample_rows(actor)]
    body = "\ufeff" + "".join(csv_line(row) for row in rows)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="passgate-import-sample.csv"'
    return response


@bp.route("/users/import", methods=["GET", "POST"])
@requires("users.create")
def users_import(actor: User):
    form = ImportForm()
    if request.method != "POST":
        return _page(form)
    if request.form.get("teams_ok") == "1" and "csv_text" in request.form:
        # Second step: the new teams were listed and accepted; the file comes back as text.
        outcome = flow.run(actor, request.form["csv_text"][:MAX_IMPORT_BYTES], confirmed=True)
    elif form.validate_on_submit() and (text := form.text(MAX_IMPORT_BYTES)) is not None:
        outcome = flow.run(actor, text)
    else:
        outcome = flow.Outcome(422)
    return _page(ImportForm(formdata=None) if outcome.imported else form, outcome)
