"""Bulk Reset passcodes on selected users: the bulk screens of the account actions
(``portal.bulk.screens``) with the passcode kind: the confirm dialog (typed count,
reason), the run (step-up; background with polled progress when large), once-only
results and CSV."""

from __future__ import annotations

from ..bulk import screens
from ..models import User
from .admin_views import turned_on
from .blueprint import bp
from .kind import PASSCODE


def _selection(actor: User) -> dict:
    """``load=`` of the guard: 404 while passcodes are off, then the selection."""
    turned_on(actor)
    return screens.selection(actor)


screens.add_routes(
    bp,
    PASSCODE,
    run_url="/admin/users/bulk/passcodes",
    jobs_url="/admin/users/bulk/passcodes/jobs",
    load=_selection,
)
