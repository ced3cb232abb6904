"""Bulk Reset passcodes on selected users: the confirm dialog (typed count, reason), the
run (step-up; background with polled progress when large), once-only results and CSV."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, request

from .. import access, audit, htmx
from ..access.guard import requires
from ..bulk import service as admin_bulk
from ..errors import render_error
from ..forms import EmptyForm
from ..messages import text
from ..models import User
from ..users.outcome import list_changed
from ..users.search import Search, matching_ids
from . import bulk, service
from .blueprint import bp

MAX_REASON = 500


@dataclass
class Selection:
    users: list[User] | None  # None: more than MAX_USERS were selected
    search: Search
    all_matching: bool
    skipped_self: bool = False


def _selection(actor: User) -> dict:
    """``load=`` of the guard: every selected user within reach, or 403 for the whole
    request (audited); bad ids give 400; 404 while passcodes are off. Never oneself."""
    if not service.enabled():
        abort(404)
    search = Search.from_args(request.form)
    all_matching = request.form.get("all_matching") == "1"
    try:
        ids = (
            matching_ids(actor, search, admin_bulk.MAX_USERS)
            if all_matching
            else admin_bulk.parse_ids(request.form.getlist("ids"))
        )
        if len(ids) > admin_bulk.MAX_USERS:
            return {"selection": Selection(None, search, all_matching)}
        ids, skipped = access.without_self(actor, ids)
        users = admin_bulk.select_users(actor, ids)
    except admin_bulk.SelectionError:
        abort(400)
    except access.Denied:
        abort(403)
    return {"selection": Selection(users, search, all_matching, skipped)}


def _dialog(chosen: Selection, status: int, **extra):
    return htmx.render(
        "passcodes/bulk_confirm.html",
        "passcodes/_bulk_confirm.html",
        status=status,
        users=chosen.users or [],
        search=chosen.search,
        all_matching=chosen.all_matching,
        too_many=chosen.users is None,
        max_users=admin_bulk.MAX_USERS,
        in_dialog=htmx.is_htmx(),
        form=EmptyForm(),
        skipped_self=chosen.skipped_self,
        **extra,
    )


@bp.post("/admin/users/bulk/passcodes/confirm")
@requires("users.update", load=_selection)
def bulk_confirm(actor: User, selection: Selection):
    return _dialog(selection, 200 if selection.users else 422)


@bp.post("/admin/users/bulk/passcodes")
@requires("users.update", load=_selection, fresh=True)
def bulk_run(actor: User, selection: Selection):
    users = selection.users
    if not users:
        return _dialog(selection, 422)
    if request.form.get("confirm_count", "").strip() != str(len(users)):
        return _dialog(selection, 422, confirm_error=text("BULK_CONFIRM_COUNT"))
    reason = request.form.get("reason") or ""
    if len(reason) > MAX_REASON:  # said, never cut
        return _dialog(
            selection, 422, reason_error=text("TOO_LONG", max=MAX_REASON, length=len(reason))
        )
    job = bulk.start(actor, users, reason=reason, ip=audit.client_ip())
    return _job_response(job, status=202 if job.status == "running" else 200)


@bp.get("/admin/users/bulk/passcodes/jobs/<public_id>")
@requires("users.update")
def bulk_job(actor: User, public_id: str):
    """Progress (polled every second while running), then the outcome."""
    job = bulk.get_job(actor, public_id[:64])
    if job is None:
        abort(404)
    return _job_response(job)


def _job_response(job, status: int = 200):
    results = bulk.take_results_for_display(job) if job.status == "done" else None
    response = htmx.render(
        "passcodes/bulk_job.html",
        "passcodes/_bulk_job.html",
        status=status,
        job=job,
        summary=admin_bulk.summary(job),
        results=results,
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
        poll=htmx.is_htmx(),
    )
    response.headers["Cache-Control"] = "no-store"
    htmx.no_push(response)
    return list_changed(response) if job.status != "running" else response


@bp.post("/admin/users/bulk/passcodes/jobs/<public_id>/download")
@requires("users.update")
def bulk_download(actor: User, public_id: str):
    """The temporary passcodes as CSV, once: they are deleted as they are sent."""
    job = bulk.get_job(actor, public_id[:64])
    if job is None:
        abort(404)
    rows = bulk.take_results_for_download(job)
    if rows is None:
        return render_error(410, text("BULK_RESULTS_GONE"))
    audit.record("admin.bulk_download", actor=actor, detail={"job": job.id, "rows": len(rows)})
    response = Response(bulk.results_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="passgate-temporary-passcodes-{job.id}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
