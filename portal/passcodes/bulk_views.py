"""Bulk Reset passcodes on selected users: the confirm dialog (typed count, reason), the
run (step-up; background with polled progress when large), once-only results and CSV."""

from __future__ import annotations

from flask import Response, abort, request
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, audit, htmx
from ..bulk import service as admin_bulk
from ..errors import render_error
from ..forms import EmptyForm
from ..models import User
from ..stepup.service import challenge
from ..users.outcome import list_changed
from ..users.search import Search, matching_ids
from . import bulk, service
from .blueprint import bp

MAX_REASON = 500


def _selection(actor: User) -> tuple[list[User] | None, Search, bool, bool]:
    """(users or None when too many, search, all_matching, own account skipped): every
    selected user within reach, or 403 for the whole request; bad ids give 400."""
    if not service.enabled():
        abort(404)
    search = Search.from_args(request.form)
    all_matching = request.form.get("all_matching") == "1"
    try:
        if all_matching:
            ids = matching_ids(actor, search, admin_bulk.MAX_USERS)
        else:
            ids = admin_bulk.parse_ids(request.form.getlist("ids"))
        if len(ids) > admin_bulk.MAX_USERS:
            return None, search, all_matching, False
        users = admin_bulk.select_users(actor, [i for i in ids if i != actor.id])
    except admin_bulk.SelectionError:
        abort(400)
    except access.Denied:
        abort(403)  # the whole request; the error handler audits access.denied
    return users, search, all_matching, actor.id in ids


def _confirm(users, search, all_matching, skipped_self, status=200, **extra):
    return htmx.render(
        "passcodes/bulk_confirm.html", "passcodes/_bulk_confirm.html", status=status,
        users=users or [], search=search, all_matching=all_matching, too_many=users is None,
        max_users=admin_bulk.MAX_USERS, in_dialog=htmx.is_htmx(), form=EmptyForm(),
        skipped_self=skipped_self, **extra)


@bp.post("/admin/users/bulk/passcodes/confirm")
@login_required
def bulk_confirm():
    actor = access.require("users.update")
    users, search, all_matching, skipped = _selection(actor)
    return _confirm(users, search, all_matching, skipped, 200 if users else 422)


@bp.post("/admin/users/bulk/passcodes")
@login_required
def bulk_run():
    actor = access.require("users.update")
    users, search, all_matching, skipped = _selection(actor)  # reach first: 403, no dialog
    refusal = challenge()
    if refusal is not None:
        return refusal
    if not users:
        return _confirm(users, search, all_matching, skipped, 422)
    if request.form.get("confirm_count", "").strip() != str(len(users)):
        return _confirm(users, search, all_matching, skipped, 422,
                        confirm_error=_("Type the number of users to confirm."))
    reason = request.form.get("reason") or ""
    if len(reason) > MAX_REASON:  # said, never cut
        return _confirm(users, search, all_matching, skipped, 422, reason_error=_(
            "Use at most %(max)d characters (this has %(length)d).", max=MAX_REASON,
            length=len(reason)))
    job = bulk.start(actor, users, reason=reason, ip=audit.client_ip())
    return _job_response(job, status=202 if job.status == "running" else 200)


@bp.get("/admin/users/bulk/passcodes/jobs/<public_id>")
@login_required
def bulk_job(public_id: str):
    """Progress (polled every second while running), then the outcome."""
    job = bulk.get_job(access.require("users.update"), public_id[:64])
    if job is None:
        abort(404)
    return _job_response(job)


def _job_response(job, status: int = 200):
    results = bulk.take_results_for_display(job) if job.status == "done" else None
    response = htmx.render("passcodes/bulk_job.html", "passcodes/_bulk_job.html",
                           status=status, job=job, summary=admin_bulk.summary(job),
                           results=results, form=EmptyForm(), in_dialog=htmx.is_htmx(),
                           poll=htmx.is_htmx())
    response.headers["Cache-Control"] = "no-store"
    htmx.no_push(response)
    if job.status != "running":
        list_changed(response)
    return response


@bp.post("/admin/users/bulk/passcodes/jobs/<public_id>/download")
@login_required
def bulk_download(public_id: str):
    """The temporary passcodes as CSV, once: they are deleted as they are sent."""
    actor = access.require("users.update")
    job = bulk.get_job(actor, public_id[:64])
    if job is None:
        abort(404)
    EmptyForm().validate_on_submit()
    rows = bulk.take_results_for_download(job)
    if rows is None:
        return render_error(410, _("These results have already been downloaded or have "
                                   "expired."))
    audit.record("admin.bulk_download", actor=actor, detail={"job": job.id, "rows": len(rows)})
    response = Response(bulk.results_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="passgate-temporary-passcodes-{job.id}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response
