"""The bulk screens, one path for every bulk action: the account actions (``views``) and
the bulk reset of another kind of secret (``portal.passcodes.bulk_views``). The selection
(the guard's ``load=``), the confirm dialog (with the recovery-link eligibility preview),
the run (background with a polled progress bar when large), the job's progress and
once-only results, the CSV download (once).

Each package registers them on its blueprint with its URLs (``add_routes``, as Flask
registers generic views), with the ``SecretKind`` whose endpoints and words the screens
use (the password's for the account actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from flask import Blueprint, Response, abort, request, url_for

from .. import access, audit, htmx
from ..access.guard import requires
from ..errors import render_error
from ..forms import EmptyForm
from ..messages import text
from ..models import BulkJob, User
from ..user_passwords.kind import SecretKind
from ..user_passwords.screens import shown_once
from ..users.outcome import list_changed
from ..users.search import Search, matching_ids
from . import results
from . import service as bulk


def add_routes(bp: Blueprint, kind: SecretKind, *, run_url: str, jobs_url: str, load) -> None:
    """The bulk screens on a blueprint: ``bulk_confirm`` (POST ``run_url/confirm``),
    ``bulk_run`` (POST ``run_url``, after a step-up), ``bulk_job`` (GET
    ``jobs_url/<public_id>``), ``bulk_download`` (POST ``…/download``), all for
    ``users.update``; ``load`` (the selection, within reach) before the dialog and the run.
    An ``<action>`` in ``run_url`` names the action; otherwise it is ``kind``'s reset."""

    def guarded(view, **options):
        return requires("users.update", **options)(partial(view, kind))

    confirm, run_view = guarded(_confirm, load=load), guarded(run, load=load, fresh=True)
    bp.add_url_rule(f"{run_url}/confirm", "bulk_confirm", confirm, methods=["POST"])
    bp.add_url_rule(run_url, "bulk_run", run_view, methods=["POST"])
    bp.add_url_rule(f"{jobs_url}/<public_id>", "bulk_job", guarded(_job))
    download_url = f"{jobs_url}/<public_id>/download"
    bp.add_url_rule(download_url, "bulk_download", guarded(download), methods=["POST"])


@dataclass
class Selection:
    users: list[User] | None  # None: more than MAX_USERS were selected
    search: Search
    all_matching: bool
    skipped_self: bool = False
    limit: int = bulk.MAX_USERS


def selection(actor: User) -> dict:
    """``load=`` of the guard: the selected users (ids, or every user matching the sent
    search), all within reach. One user out of reach refuses the whole request with 403
    (audited by the error handler); bad ids give 400. Never oneself
    (``access.without_self``): one's own password is changed on /password/change."""
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
        abort(403)
    return {"selection": Selection(users, search, all_matching, skipped)}


def dialog(kind: SecretKind, action: str, chosen: Selection, status: int = 200, **extra):
    """The confirm dialog (no side effect): who is selected; for recovery links, who will
    get one and why the others will not. 422 when nobody is selected."""
    users = chosen.users
    own_url = url_for("admin.bulk_run", action=action) if action in bulk.ACTIONS else None
    recovery = action == "recovery" and users
    return htmx.render(
        "admin/bulk_confirm.html",
        "admin/_bulk_confirm.html",
        status=status if users else 422,
        action=action,
        chosen=chosen,
        users=users or [],
        in_dialog=htmx.is_htmx(),
        run=own_url or kind.url("bulk_run"),
        typed_confirm=action in bulk.TYPED_CONFIRM,
        preview=bulk.eligibility(users) if recovery else None,
        **extra,
    )


def _confirm(kind: SecretKind, actor: User, selection: Selection, action: str = ""):
    return dialog(kind, action or kind.bulk_action, selection)


def run(kind: SecretKind, actor: User, selection: Selection, action: str = ""):
    """Start the job (step-up checked by the guard), or the dialog again with what is
    missing: the typed count, a shorter reason."""
    action, users = action or kind.bulk_action, selection.users
    reason = request.form.get("reason") or ""
    problem = bulk.refusal(action, users, request.form.get("confirm_count", ""), reason)
    if problem is not None:
        return dialog(kind, action, selection, 422, **problem)
    job = bulk.start(actor, action, users, reason=reason, ip=audit.client_ip(), kind=kind)
    return job_page(kind, job, status=202 if job.status == "running" else 200)


def _job(kind: SecretKind, actor: User, public_id: str):
    """Progress (polled every second while running), then the outcome."""
    return job_page(kind, job(kind, actor, public_id))


def job(kind: SecretKind, actor: User, public_id: str) -> BulkJob:
    """The actor's own job of these screens, or 404."""
    found = results.get_job(actor, public_id[:64])
    if found is None or not bulk.shows(kind, found):
        abort(404)
    return found


def job_page(kind: SecretKind, job: BulkJob, status: int = 200):
    """Progress (polled every second while running), then the outcome and the results,
    the first time only."""
    response = htmx.render(
        "admin/bulk_job.html",
        "admin/_bulk_job.html",
        status=status,
        kind=kind,
        job=job,
        summary=results.summary(job),
        results=results.take_for_display(job, kind) if job.status == "done" else None,
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
        poll=htmx.is_htmx(),
    )
    shown_once(response)
    return list_changed(response) if job.status != "running" else response


def download(kind: SecretKind, actor: User, public_id: str):
    """The temporary secrets of a bulk reset as CSV, once: they are deleted as sent."""
    found = job(kind, actor, public_id)
    rows = results.take_for_download(found, kind)
    if rows is None:
        return render_error(410, text("BULK_RESULTS_GONE"))
    audit.record("admin.bulk_download", actor=actor, detail={"job": found.id, "rows": len(rows)})
    response = Response(results.csv_text(kind, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="passgate-temporary-{kind.name}s-{found.id}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response
