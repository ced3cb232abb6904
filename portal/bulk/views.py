"""Bulk actions: a confirm dialog (with the recovery-link eligibility preview), the run
(step-up; background with a polled progress bar when large), once-only results."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Response, abort, request

from .. import access, audit, htmx
from ..access.guard import requires
from ..admin import bp
from ..errors import render_error
from ..forms import EmptyForm
from ..messages import text
from ..models import User
from ..users import labels
from ..users.outcome import list_changed
from ..users.search import Search, matching_ids
from . import service as bulk


@dataclass
class Selection:
    users: list[User] | None  # None: more than MAX_USERS were selected
    search: Search
    all_matching: bool
    skipped_self: bool = False
    extra: dict = field(default_factory=dict)


def _selection(actor: User) -> dict:
    """The selected users (ids, or every user matching the sent search), all within reach.

    Any out-of-reach user refuses the whole request with 403 (audited); bad ids give 400.
    Never oneself (``access.without_self``): one's own password is changed on
    /password/change.
    """
    if request.view_args.get("action") not in bulk.ACTIONS:
        abort(404)
    search = Search.from_args(request.form)
    all_matching = request.form.get("all_matching") == "1"
    try:
        ids = (
            matching_ids(actor, search, bulk.MAX_USERS)
            if all_matching
            else bulk.parse_ids(request.form.getlist("ids"))
        )
        if len(ids) > bulk.MAX_USERS:
            return {"selection": Selection(None, search, all_matching)}
        ids, skipped = access.without_self(actor, ids)
        users = bulk.select_users(actor, ids)
    except bulk.SelectionError:
        abort(400)
    except access.Denied:
        abort(403)  # the whole request; the error handler audits access.denied
    return {"selection": Selection(users, search, all_matching, skipped)}


def _dialog(action: str, chosen: Selection, status: int, **extra):
    users = chosen.users
    preview = bulk.eligibility(users) if action == "recovery" and users else None
    ctx = {
        "action": action,
        "users": users or [],
        "search": chosen.search,
        "all_matching": chosen.all_matching,
        "too_many": users is None,
        "max_users": bulk.MAX_USERS,
        "labels": labels,
        "in_dialog": htmx.is_htmx(),
        "form": EmptyForm(),
        "skipped_self": chosen.skipped_self,
        "typed_confirm": action in bulk.TYPED_CONFIRM,
        "preview": preview,
        **extra,
    }
    return htmx.render("admin/bulk_confirm.html", "admin/_bulk_confirm.html", status=status, **ctx)


@bp.post("/users/bulk/<action>/confirm")
@requires("users.update", load=_selection)
def bulk_confirm(actor: User, action: str, selection: Selection):
    """The confirm dialog (no side effect): who is selected; for recovery links, who will
    get one and why the others will not."""
    return _dialog(action, selection, 200 if selection.users else 422)


@bp.post("/users/bulk/<action>")
@requires("users.update", load=_selection, fresh=True)
def bulk_run(actor: User, action: str, selection: Selection):
    problem = bulk.refusal(
        action,
        selection.users,
        request.form.get("confirm_count", ""),
        request.form.get("reason") or "",
    )
    if problem is not None:
        return _dialog(action, selection, 422, **problem)
    job = bulk.start(
        actor,
        action,
        selection.users,
        reason=request.form.get("reason") or "",
        ip=audit.client_ip(),
    )
    return _job_response(job, status=202 if job.status == "running" else 200)


@bp.get("/users/bulk/jobs/<public_id>")
@requires("users.update")
def bulk_job(actor: User, public_id: str):
    """Progress (polled every second while running), then the outcome."""
    return _job_response(_job(actor, public_id))


def _job(actor: User, public_id: str):
    job = bulk.get_job(actor, public_id[:64])
    if job is None:
        abort(404)
    return job


def _job_response(job, status: int = 200):
    results = bulk.take_results_for_display(job) if job.status == "done" else None
    response = htmx.render(
        "admin/bulk_job.html",
        "admin/_bulk_job.html",
        status=status,
        job=job,
        summary=bulk.summary(job),
        results=results,
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
        poll=htmx.is_htmx(),
    )
    response.headers["Cache-Control"] = "no-store"
    htmx.no_push(response)
    return list_changed(response) if job.status != "running" else response


@bp.post("/users/bulk/jobs/<public_id>/download")
@requires("users.update")
def bulk_download(actor: User, public_id: str):
    """The temporary passwords of a bulk reset as CSV, once: they are deleted as sent."""
    job = _job(actor, public_id)
    rows = bulk.take_results_for_download(job)
    if rows is None:
        return render_error(410, text("BULK_RESULTS_GONE"))
    audit.record("admin.bulk_download", actor=actor, detail={"job": job.id, "rows": len(rows)})
    response = Response(bulk.results_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="passgate-temporary-passwords-{job.id}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
