"""Reset passcode (administrators, and managers within reach): a confirm dialog, then a
temporary passcode shown once with Copy and Send email, like Reset & Unlock (step-up)."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, htmx
from ..forms import EmptyForm
from ..models import OutboxMail
from ..stepup.service import challenge
from ..user_passwords.forms import ResetForm
from ..users.outcome import list_changed
from . import service
from .blueprint import bp

FINAL_MAIL = ("sent", "failed")


def _no_history(response):
    """A secret on screen: never stored, never pushed into the browser history."""
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


def _target(user_id: int):
    """(actor, user) within reach (403/404), with passcodes turned on (404 otherwise)."""
    if not service.enabled():
        abort(404)
    return access.require_target(user_id)


@bp.get("/admin/users/<int:user_id>/passcode/reset")
@login_required
def reset_confirm(user_id: int):
    _actor, user = _target(user_id)
    return htmx.render("passcodes/reset_confirm.html", "passcodes/_reset_confirm.html",
                       user=user, form=ResetForm(), in_dialog=htmx.is_htmx())


@bp.post("/admin/users/<int:user_id>/passcode/reset")
@login_required
def reset(user_id: int):
    actor, user = _target(user_id)  # reach first: 403 before any password dialog
    refusal = challenge()
    if refusal is not None:
        return refusal
    form = ResetForm()
    if not form.validate_on_submit():
        return htmx.render("passcodes/reset_confirm.html", "passcodes/_reset_confirm.html",
                           status=422, user=user, form=form, in_dialog=htmx.is_htmx())
    temp = service.reset(actor, user, form.reason.data or "")
    response = htmx.render("passcodes/reset_result.html", "passcodes/_reset_result.html",
                           user=user, temp=temp, row=service.get(user), form=EmptyForm(),
                           in_dialog=htmx.is_htmx())
    return _no_history(list_changed(response))


@bp.post("/admin/users/<int:user_id>/passcode/reset/email")
@login_required
def reset_email(user_id: int):
    """Send email: the form carries the passcode back; it is mailed only if it is still the
    user's current, unexpired temporary passcode."""
    actor, user = _target(user_id)
    EmptyForm().validate_on_submit()
    if not user.email:
        return _mail_fragment(None, 422, _("No email address on file."))
    row = service.email_temporary(actor, user, request.form.get("passcode", ""))
    if row is None:
        return _mail_fragment(None, 422, _("This temporary passcode is no longer valid. "
                                           "Reset the passcode again."))
    return _mail_fragment(row)


@bp.get("/admin/passcodes/mail/<int:mail_id>")
@login_required
def mail_status(mail_id: int):
    """Polled by the Send email status (every 2 s) until the mail is sent or failed."""
    access.require("users.update")
    row = OutboxMail.get_or_none((OutboxMail.id == mail_id) & (OutboxMail.kind == "temp_passcode"))
    if row is None or row.user_id is None:
        abort(404)
    access.require_target(row.user_id)  # only mail about a user within reach
    return _mail_fragment(row)


def _mail_fragment(row: OutboxMail | None, status: int = 200, error: str | None = None):
    response = htmx.render("passcodes/mail_status.html", "passcodes/_mail_status.html",
                           status=status, row=row, error=error, final=FINAL_MAIL)
    return _no_history(response)
