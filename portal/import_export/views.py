"""User report (CSV of the filtered list) and CSV import (all or nothing)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from .. import access, audit, settings
from ..access.guard import requires
from ..admin import bp
from ..csvtext import csv_line
from ..models import User, utcnow
from ..stepup import service as stepup
from ..users.search import Search
from . import service as csvio
from .forms import ImportForm

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _page(form, result, status=200, reauth_error=None, preview=None):
    """The import page; bigger files than the request limit go through the command line."""
    limit = settings.get("MAX_CONTENT_LENGTH", None) or MAX_IMPORT_BYTES
    response = Response(
        render_template(
            "admin/import.html",
            form=form,
            result=result,
            preview=preview,
            columns=csvio.IMPORT_COLUMNS,
            max_kb=min(limit, MAX_IMPORT_BYTES) // 1024,
            ask_password=not stepup.is_fresh(),
            reauth_error=reauth_error,
        ),
        status=status,
    )
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


def _sample_rows() -> list[list[str]]:
    """Three example lines: two accounts of the default role, one team manager."""
    user = access.default_role()
    manager = (access.team_roles() or [user])[0]
    return [
        ["j.martin", "jeanne.martin@example.org", "Jeanne", "Martin", user, "Front Desk", "fr"],
        ["p.okafor", "", "Peter", "Okafor", user, "Warehouse", "en"],
        ["s.leroy", "sophie.leroy@example.org", "Sophie", "Leroy", manager, "Front Desk", ""],
    ]


@bp.get("/users/import/sample.csv")
@requires("users.create")
def users_import_sample(actor: User):
    """A file to start from: the columns the import reads and three example lines."""
    body = "\ufeff" + "".join(csv_line(row) for row in [csvio.IMPORT_COLUMNS, *_sample_rows()])
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="passgate-import-sample.csv"'
    return response


@bp.route("/users/import", methods=["GET", "POST"])
@requires("users.create")
def users_import(actor: User):
    form = ImportForm()
    if request.method != "POST":
        return _page(form, None)
    if request.form.get("teams_ok") == "1" and "csv_text" in request.form:
        # Second step: the new teams were listed and accepted; the file comes back as text.
        return _import(actor, form, request.form["csv_text"][:MAX_IMPORT_BYTES], confirmed=True)
    text = form.text(MAX_IMPORT_BYTES) if form.validate_on_submit() else None
    return _page(form, None, 422) if text is None else _import(actor, form, text)


def _import(actor: User, form: ImportForm, text: str, confirmed: bool = False):
    """Import ``text``; teams that do not exist yet are listed first and created only
    after the administrator agrees (a typo would otherwise make a new team). Rows that
    create administrators need a fresh password first, at either step (finding 1)."""
    refusal = stepup.typed_refusal(
        csvio.creates_privileged(text, actor),
        ask="IMPORT_NEEDS_PASSWORD",
        wrong="IMPORT_WRONG_PASSWORD",
    )
    if refusal is not None:
        return _page(form, None, 401, reauth_error=refusal)
    preview = None if confirmed else csvio.teams_preview(text, actor)
    if preview:
        return _page(form, None, 200, preview=preview)
    result = csvio.import_users(text, actor=actor)
    if not result.ok:
        return _page(form, result, 422)
    audit.record("admin.import", actor=actor, detail={"created": len(result.created)})
    return _page(ImportForm(formdata=None), result)
