"""Bulk actions on the user list: a confirm dialog (with the recovery-link eligibility
preview), the run (step-up; background with a polled progress bar when large), once-only
results. The screens are shared with the bulk reset of passcodes (``screens``)."""

from __future__ import annotations

from flask import abort, request

from ..admin import bp
from ..models import User
from ..user_passwords.service import PASSWORD
from . import screens
from . import service as bulk


def _selection(actor: User) -> dict:
    """``load=`` of the guard: an account action (404 otherwise) on users within reach."""
    if request.view_args.get("action") not in bulk.ACTIONS:
        abort(404)
    return screens.selection(actor)


screens.add_routes(
    bp, PASSWORD, run_url="/users/bulk/<action>", jobs_url="/users/bulk/jobs", load=_selection
)
