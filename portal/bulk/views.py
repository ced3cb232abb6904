"""Bulk actions on the user list: a confirm dialog (with the recovery-link eligibility
preview), the run (step-up; background with a polled progress bar when large), once-only
results. The screens are shared with the bulk reset of passcodes (``screens``)."""

from __future__ import annotations

from flask import abort, request

from ..access.guard import requires
from ..admin import bp
from ..models import User
from ..user_passwords.service import PASSWORD
from . import screens
from . import service as bulk
from .screens import Selection


def _selection(actor: User) -> dict:
    """``load=`` of the guard: an account action (404 otherwise) on users within reach."""
    if request.view_args.get("action") not in bulk.ACTIONS:
        abort(404)
    return screens.selection(actor)


@bp.post("/users/bulk/<action>/confirm")
@requires("users.update", load=_selection)
def bulk_confirm(actor: User, action: str, selection: Selection):
    return screens.dialog(PASSWORD, action, selection)


@bp.post("/users/bulk/<action>")
@requires("users.update", load=_selection, fresh=True)
def bulk_run(actor: User, action: str, selection: Selection):
    return screens.run(PASSWORD, actor, action, selection)


@bp.get("/users/bulk/jobs/<public_id>")
@requires("users.update")
def bulk_job(actor: User, public_id: str):
    """Progress (polled every second while running), then the outcome."""
    return screens.job_page(PASSWORD, screens.job(PASSWORD, actor, public_id))


@bp.post("/users/bulk/jobs/<public_id>/download")
@requires("users.update")
def bulk_download(actor: User, public_id: str):
    return screens.download(PASSWORD, actor, public_id)
