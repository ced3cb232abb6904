"""Reset passcode (administrators, and managers within reach): a confirm dialog, then a
temporary passcode shown once with Copy and Send email (step-up): the screens of every
temporary secret (``portal.user_passwords.screens``) with the passcode kind."""

from __future__ import annotations

from flask import abort

from ..access.guard import requires
from ..models import User
from ..user_passwords import screens
from . import service
from .blueprint import bp
from .service import PASSCODE


def turned_on(actor: User) -> dict:
    """``load=`` of the guard: 404 while passcodes are off (before any step-up dialog)."""
    if not service.enabled():
        abort(404)
    return {}


@bp.get("/admin/users/<int:user_id>/passcode/reset")
@requires("users.update", load=turned_on)
def reset_confirm(actor: User, user: User):
    return screens.confirm(PASSCODE, user)


@bp.post("/admin/users/<int:user_id>/passcode/reset")
@requires("users.update", load=turned_on, fresh=True)
def reset(actor: User, user: User):
    """A new temporary passcode: the old one stops working at once."""
    return screens.reset(PASSCODE, actor, user)


@bp.post("/admin/users/<int:user_id>/passcode/reset/email")
@requires("users.update", load=turned_on)
def reset_email(actor: User, user: User):
    return screens.email(PASSCODE, actor, user)


@bp.get("/admin/passcodes/mail/<int:mail_id>")
@requires("users.update")
def mail_status(actor: User, mail_id: int):
    return screens.mail_status(PASSCODE, actor, mail_id)
