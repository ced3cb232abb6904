"""Reset passcode (administrators, and managers within reach): a confirm dialog, then a
temporary passcode shown once with Copy and Send email (step-up): the screens of every
temporary secret (``portal.user_passwords.screens``) with the passcode kind."""

from __future__ import annotations

from flask import abort

from ..models import User
from ..user_passwords import screens
from . import service
from .blueprint import bp
from .kind import PASSCODE


def turned_on(actor: User) -> dict:
    """``load=`` of the guard: 404 while passcodes are off (before any step-up dialog)."""
    if not service.enabled():
        abort(404)
    return {}


# Reset passcode (a new temporary passcode: the old one stops working at once) and Send
# email: the screens of every temporary secret, with the passcode kind.
screens.add_routes(
    bp,
    PASSCODE,
    reset_url="/admin/users/<int:user_id>/passcode/reset",
    mail_url="/admin/passcodes/mail/<int:mail_id>",
    load=turned_on,
)
