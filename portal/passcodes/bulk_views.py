"""Bulk Reset passcodes on selected users: the bulk screens of the account actions
(``portal.bulk.screens``) with the passcode kind: the confirm dialog (typed count,
reason), the run (step-up; background with polled progress when large), once-only
results and CSV."""

from __future__ import annotations

from ..access.guard import requires
from ..bulk import screens
from ..bulk.screens import Selection
from ..models import User
from .admin_views import turned_on
from .blueprint import bp
from .service import PASSCODE

ACTION = PASSCODE.bulk_action


def _selection(actor: User) -> dict:
    """``load=`` of the guard: 404 while passcodes are off, then the selection."""
    turned_on(actor)
    return screens.selection(actor)


@bp.post("/admin/users/bulk/passcodes/confirm")
@requires("users.update", load=_selection)
def bulk_confirm(actor: User, selection: Selection):
    return screens.dialog(PASSCODE, ACTION, selection)


@bp.post("/admin/users/bulk/passcodes")
@requires("users.update", load=_selection, fresh=True)
def bulk_run(actor: User, selection: Selection):
    return screens.run(PASSCODE, actor, ACTION, selection)


@bp.get("/admin/users/bulk/passcodes/jobs/<public_id>")
@requires("users.update")
def bulk_job(actor: User, public_id: str):
    """Progress (polled every second while running), then the outcome."""
    return screens.job_page(PASSCODE, screens.job(PASSCODE, actor, public_id))


@bp.post("/admin/users/bulk/passcodes/jobs/<public_id>/download")
@requires("users.update")
def bulk_download(actor: User, public_id: str):
    return screens.download(PASSCODE, actor, public_id)
