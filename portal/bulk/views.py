"""Bulk actions: a confirm dialog (with the recovery-link eligibility preview), the run
(step-up; background with a polled progress bar when large), once-only results."""

from __future__ import annotations

from flask import Response, abort, g, request
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, audit, htmx
from ..admin import bp
from ..errors import render_error
from ..forms import EmptyForm
from ..models import User
from ..stepup.service import challenge
from ..users import labels
from ..users.outcome import list_changed
from ..users.search import Search, matching_ids
from . import service as bulk

TYPED_CONFIRM = ("reset", "disable")


def _selection(actor: User) -> tuple[list[User] | None, Search, bool]:
    """The selected users (ids, or every user matching the sent search), all within reach.

    Any out-of-reach user refuses the whole request with 403 (audited); bad ids give 400;
    None means more than ``MAX_USERS`` were selected.
    """
    search = Search.from_args(request.form)
    all_matching = request.form.get("all_matching") == "1"
    try:
        if all_matching:
            ids = matching_ids(actor, search, bulk.MAX_USERS)
        else:
            ids = bulk.parse_ids(request.form.getlist("ids"))
        if len(ids) > bulk.MAX_USERS:
            return None, search, all_matching
        # Never oneself: a bulk reset or disable would end this very session (and lose
        # the results); one's own password is changed on /password/change.
        g.bulk_skipped_self = actor.id in ids
        users = bulk.select_users(actor, [i for i in ids if i != actor.id])
    except bulk.SelectionError:
        abort(400)
    except access.Denied:
        abort(403)  # the whole request; the error handler audits access.denied
    return users, search, all_matching


def _ctx(action: str, users, search, all_matching, **extra) -> dict:
    return {"action": action, "users": users or [], "search": search,
            "all_matching": all_matching, "too_many": users is None, "max_users": bulk.MAX_USERS,
            "labels": labels, "in_dialog": htmx.is_htmx(), "form": EmptyForm(),
            "skipped_self": g.get("bulk_skipped_self", False),
            "typed_confirm": action in TYPED_CONFIRM, **extra}


@bp.post("/users/bulk/<action>/confirm")
@login_required
def bulk_confirm(action: str):
    """The confirm dialog (no side effect): who is selected; for recovery links, who will
    get one and why the others will not."""
    if action not in bulk.ACTIONS:
        abort(404)
    actor = access.require("users.update")
    users, search, all_matching = _selection(actor)
    status = 200 if users else 422
    preview = bulk.eligibility(users) if action == "recovery" and users else None
    return htmx.render("admin/bulk_confirm.html", "admin/_bulk_confirm.html", status=status,
                       **_ctx(action, users, search, all_matching, preview=preview))


@bp.post("/users/bulk/<action>")
@login_required
def bulk_run(action: str):
    if action not in bulk.ACTIONS:
        abort(404)
    actor = access.require("users.update")
    users, search, all_matching = _selection(actor)  # reach first: 403 before the dialog
    refusal = challenge()
    if refusal is not None:
        return refusal
    preview = bulk.eligibility(users) if action == "recovery" and users else None
    if not users or (preview is not None and not preview.eligible):
        return htmx.render("admin/bulk_confirm.html", "admin/_bulk_confirm.html", status=422,
                           **_ctx(action, users, search, all_matching, preview=preview))
    # Confirmations proportionate to the harm: typing the count is for the actions that
    # take something away (passwords, access), not for sending links.
    if action in TYPED_CONFIRM and request.form.get("confirm_count", "").strip() != str(
            len(users)):
        return htmx.render("admin/bulk_confirm.html", "admin/_bulk_confirm.html", status=422,
                           **_ctx(action, users, search, all_matching, preview=preview,
                                  confirm_error=_("Type the number of users to confirm.")))
    reason = request.form.get("reason") or ""
    if len(reason) > 500:  # said, never cut
        return htmx.render("admin/bulk_confirm.html", "admin/_bulk_confirm.html", status=422,
                           **_ctx(action, users, search, all_matching, preview=preview,
                                  reason_error=_("Use at most %(max)d characters (this has "
                                                 "%(length)d).", max=500, length=len(reason))))
    job = bulk.start(actor, action, users, reason=reason, ip=audit.client_ip())
    return _job_response(job, status=202 if job.status == "running" else 200)


@bp.get("/users/bulk/jobs/<public_id>")
@login_required
def bulk_job(public_id: str):
    """Progress (polled every second while running), then the outcome."""
    actor = access.require("users.update")
    job = bulk.get_job(actor, public_id[:64])
    if job is None:
        abort(404)
    return _job_response(job)


def _job_response(job, status: int = 200):
    results = bulk.take_results_for_display(job) if job.status == "done" else None
    response = htmx.render("admin/bulk_job.html", "admin/_bulk_job.html", status=status,
                           job=job, summary=bulk.summary(job), results=results,
                           form=EmptyForm(), in_dialog=htmx.is_htmx(),
                           poll=htmx.is_htmx())
    response.headers["Cache-Control"] = "no-store"
    htmx.no_push(response)
    if job.status != "running":
        list_changed(response)
    return response


@bp.post("/users/bulk/jobs/<public_id>/download")
@login_required
def bulk_download(public_id: str):
    """The temporary passwords of a bulk reset as CSV, once: they are deleted as sent."""
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
        f'attachment; filename="passgate-temporary-passwords-{job.id}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response
