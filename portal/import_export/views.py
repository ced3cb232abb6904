"""User report (CSV of the filtered list) and CSV import (all or nothing)."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, audit, settings
from ..admin import bp
from ..csvtext import csv_line
from ..forms import EmptyForm
from ..models import utcnow
from ..stepup import service as stepup
from ..users.search import Search
from . import service as csvio
from .forms import ImportForm

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _page(form, result, status=200, reauth_error=None, preview=None):
    """The import page; bigger files than the request limit go through the command line."""
    limit = settings.get("MAX_CONTENT_LENGTH", None) or MAX_IMPORT_BYTES
    response = Response(render_template("admin/import.html", form=form, result=result,
                                        preview=preview,
                                        columns=csvio.IMPORT_COLUMNS,
                                        max_kb=min(limit, MAX_IMPORT_BYTES) // 1024,
                                        ask_password=not stepup.is_fresh(),
                                        reauth_error=reauth_error),
                        status=status)
    response.headers["Cache-Control"] = "no-store"  # may show temporary passwords
    return response


@bp.get("/users/export.csv")
@login_required
def users_export():
    actor = access.require("users.read")
    search = Search.from_args(request.args)
    audit.record("admin.export", actor=actor, detail={"q": search.q[:50], **{
        k: v for k, v in search.params().items() if k != "q"}})
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response = Response(stream_with_context(csvio.report_csv(actor, search)),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="passgate-users-{stamp}.csv"'
    return response


SAMPLE_ROWS = [
    ["j.martin", "jeanne.martin@example.org", "Jeanne", "Martin", "user", "Front Desk", "fr"],
    ["p.okafor", "", "Peter", "Okafor", "user", "Warehouse", "en"],
    ["s.leroy", "sophie.leroy@example.org", "Sophie", "Leroy", "manager", "Front Desk", ""],
]


@bp.get("/users/import/sample.csv")
@login_required
def users_import_sample():
    """A file to start from: the columns the import reads and three example lines."""
    access.require("users.create")
    body = "\ufeff" + "".join(csv_line(row) for row in
                              [csvio.IMPORT_COLUMNS, *SAMPLE_ROWS])
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="passgate-import-sample.csv"'
    return response


@bp.route("/users/import", methods=["GET", "POST"])
@login_required
def users_import():
    actor = access.require("users.create")
    form = ImportForm()
    if request.method != "POST":
        return _page(form, None)
    result = None
    if request.form.get("teams_ok") == "1" and "csv_text" in request.form:
        # Second step: the new teams were listed and accepted; the file comes back as text.
        EmptyForm().validate_on_submit()  # CSRFProtect has already refused a bad token
        return _import(actor, form, request.form["csv_text"][:MAX_IMPORT_BYTES], confirmed=True)
    if form.validate_on_submit():
        raw = form.file.data.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            form.file.errors = [_("The file is too large.")]
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                form.file.errors = [_("Save the file as CSV in UTF-8 and try again.")]
            else:
                return _import(actor, form, text)
    return _page(form, result, 422)


def _import(actor, form, text: str, confirmed: bool = False):
    """Import ``text``; teams that do not exist yet are listed first and created only
    after the administrator agrees (a typo would otherwise make a new team). Rows that
    create administrators need a fresh password first, at either step (finding 1)."""
    refusal = _step_up_for_admins(text)
    if refusal is not None:
        return _page(form, None, 401, reauth_error=refusal)
    if not confirmed:
        checked, rows = csvio.validate(text)
        new_teams = csvio.new_teams(rows) if checked.ok else []
        if new_teams:
            return _page(form, None, 200, preview={"teams": new_teams, "users": len(rows),
                                                   "text": text})
    result = csvio.import_users(text, actor=actor)
    if result.ok:
        audit.record("admin.import", actor=actor, detail={"created": len(result.created)})
        return _page(ImportForm(formdata=None), result)
    return _page(form, result, 422)


def _step_up_for_admins(text: str) -> str | None:
    """Rows that create administrators need a recent password entry (step-up), typed on the
    import form itself; returns the message to show, or None to go ahead."""
    checked, rows = csvio.validate(text)
    if not checked.ok or not any(values.get("role") == "admin" for _line, values in rows):
        return None
    if stepup.is_fresh():
        return None
    if request.form.get(stepup.FIELD):
        try:
            if stepup.check_password(request.form[stepup.FIELD]):
                return None
        except stepup.Throttled as exc:
            return stepup.throttled_message(exc.retry_after)
        return _("That password is not correct. Choose the file again and enter your password.")
    return _("This file creates administrators: enter your password and choose the file again.")
