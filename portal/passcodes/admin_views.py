"""Reset passcode (administrators, and managers within reach): a confirm dialog, then a
temporary passcode shown once with Copy and Send email, like Reset & Unlock (step-up)."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _

from .. import htmx
from ..access.guard import requires, target
from ..forms import EmptyForm
from ..messages import text
from ..models import OutboxMail, User
from ..user_passwords.forms import ResetForm
from ..users.outcome import list_changed
from . import service
from .blueprint import bp

FINAL_MAIL = ("sent", "failed")


def turned_on(actor: User) -> dict:
    """``load=`` of the guard: 404 while passcodes are off (before any step-up dialog)."""
    if not service.enabled():
        abort(404)
    return {}


def _secret(response):
    """A secret on screen: never stored, never pushed into the browser history."""
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


def _confirm(user: User, form: ResetForm, status: int = 200):
    return htmx.render(
        "passcodes/reset_confirm.html",
        "passcodes/_reset_confirm.html",
        status=status,
        user=user,
        form=form,
        in_dialog=htmx.is_htmx(),
    )


@bp.get("/admin/users/<int:user_id>/passcode/reset")
@requires("users.update", load=turned_on)
def reset_confirm(actor: User, user: User):
    return _confirm(user, ResetForm())


@bp.post("/admin/users/<int:user_id>/passcode/reset")
@requires("users.update", load=turned_on, fresh=True)
def reset(actor: User, user: User):
    form = ResetForm()
    if not form.validate_on_submit():
        return _confirm(user, form, 422)
    temp = service.reset(actor, user, form.reason.data or "")
    response = htmx.render(
        "passcodes/reset_result.html",
        "passcodes/_reset_result.html",
        user=user,
        temp=temp,
        row=service.get(user),
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
    )
    return _secret(list_changed(response))


@bp.post("/admin/users/<int:user_id>/passcode/reset/email")
@requires("users.update", load=turned_on)
def reset_email(actor: User, user: User):
    """Send email: the form carries the passcode back; it is mailed only if it is still the
    user's current, unexpired temporary passcode."""
    if not user.email:
        return _mail_fragment(None, 422, text("NO_EMAIL"))
    row = service.email_temporary(actor, user, request.form.get("passcode", ""))
    if row is None:
        return _mail_fragment(
            None, 422, _("This temporary passcode is no longer valid. Reset the passcode again.")
        )
    return _mail_fragment(row)


@bp.get("/admin/passcodes/mail/<int:mail_id>")
@requires("users.update")
def mail_status(actor: User, mail_id: int):
    """Polled by the Send email status (every 2 s) until the mail is sent or failed."""
    row = OutboxMail.get_or_none((OutboxMail.id == mail_id) & (OutboxMail.kind == "temp_passcode"))
    if row is None or row.user_id is None:
        abort(404)
    target(actor, row.user_id)  # only mail about a user within reach
    return _mail_fragment(row)


def _mail_fragment(row: OutboxMail | None, status: int = 200, error: str | None = None):
    return _secret(
        htmx.render(
            "passcodes/mail_status.html",
            "passcodes/_mail_status.html",
            status=status,
            row=row,
            error=error,
            final=FINAL_MAIL,
        )
    )
