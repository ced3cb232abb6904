"""Reset & Unlock (seed 000), emailing the temporary password, admin-typed passwords
(seeds 001-003). The temporary password exists only in the response that shows it."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, accounts, htmx, providers
from ..admin import bp
from ..forms import EmptyForm, attach_password_errors, password_checklist
from ..models import OutboxMail, User
from ..stepup.service import challenge
from ..users.outcome import done, list_changed
from . import service
from .forms import ResetForm, SetPasswordForm

FINAL_MAIL = ("sent", "failed")


def _no_history(response):
    """Secrets on screen: never stored, never pushed into the browser history."""
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


@bp.get("/users/<int:user_id>/reset")
@login_required
def reset_confirm(user_id: int):
    _actor, user = access.require_target(user_id)
    return htmx.render("admin/user_reset_confirm.html", "admin/_reset_confirm.html", user=user,
                       form=ResetForm(), in_dialog=htmx.is_htmx())


@bp.post("/users/<int:user_id>/reset")
@login_required
def reset(user_id: int):
    actor, user = access.require_target(user_id)  # reach first: 403 before any password dialog
    refusal = challenge()
    if refusal is not None:
        return refusal
    form = ResetForm()
    if not form.validate_on_submit():
        return htmx.render("admin/user_reset_confirm.html", "admin/_reset_confirm.html", status=422,
                           user=user, form=form, in_dialog=htmx.is_htmx())
    try:
        temp = service.reset_and_unlock(actor, user, form.reason.data or "")
    except providers.PasswordRejected as exc:
        form.reason.errors = [*form.reason.errors, exc.message]
        return htmx.render("admin/user_reset_confirm.html", "admin/_reset_confirm.html", status=422,
                           user=user, form=form, in_dialog=htmx.is_htmx())
    user = User.get_by_id(user.id)
    response = htmx.render("admin/user_reset_result.html", "admin/_reset_result.html", user=user,
                           temp=temp, form=EmptyForm(), in_dialog=htmx.is_htmx())
    return _no_history(list_changed(response))


@bp.post("/users/<int:user_id>/reset/email")
@login_required
def reset_email(user_id: int):
    """Send email: the form carries the password back; it is mailed only if it is still
    the user's current, unexpired temporary password."""
    actor, user = access.require_target(user_id)
    EmptyForm().validate_on_submit()
    if not user.email:
        return _mail_fragment(None, 422, _("No email address on file."))
    row = service.email_temporary_password(actor, user, request.form.get("password", ""))
    if row is None:
        return _mail_fragment(None, 422, _("This temporary password is no longer valid. "
                                           "Reset the password again."))
    return _mail_fragment(row)


@bp.get("/users/mail/<int:mail_id>")
@login_required
def mail_status(mail_id: int):
    """Polled by the Send email status (every 2 s) until the mail is sent or failed."""
    access.require("users.update")
    row = service.mail_status(mail_id)
    if row is None or row.user_id is None:
        abort(404)
    access.require_target(row.user_id)  # only mail about a user within reach
    return _mail_fragment(row)


def _mail_fragment(row: OutboxMail | None, status: int = 200, error: str | None = None):
    response = htmx.render("admin/user_mail_status.html", "admin/_reset_mail_status.html", status=status,
                           row=row, error=error, final=FINAL_MAIL)
    return _no_history(response)


@bp.route("/users/<int:user_id>/password", methods=["GET"])
@login_required
def set_password_form(user_id: int):
    _actor, user = access.require_target(user_id)
    return htmx.render("admin/user_password.html", "admin/_user_password.html", user=user,
                       form=SetPasswordForm(), policy=accounts.current_policy(),
                       in_dialog=htmx.is_htmx())


@bp.post("/users/<int:user_id>/password")
@login_required
def set_password(user_id: int):
    actor, user = access.require_target(user_id)  # reach first: 403 before any password dialog
    refusal = challenge()
    if refusal is not None:
        return refusal
    form = SetPasswordForm()
    ctx = {"user": user, "form": form, "policy": accounts.current_policy(),
           "in_dialog": htmx.is_htmx()}
    if form.validate_on_submit():
        check = accounts.check_new_password(user, form.password.data, form.confirm.data)
        if check.ok:
            try:
                service.set_password(actor, user, form.password.data, bool(form.must_change.data))
            except providers.PasswordRejected as exc:
                check.errors.append(exc.message)
        if check.ok:
            if htmx.is_htmx():
                response = htmx.render("admin/_user_password_set.html", "admin/_user_password_set.html",
                                       user=user, must_change=bool(form.must_change.data))
                return _no_history(list_changed(response))
            return done(_("The password of %(name)s has been set.", name=user.display_name), user)
        attach_password_errors(form, check.errors)
    ctx["evaluation"] = password_checklist(user, form.password.data, form.confirm.data)
    return _no_history(htmx.render("admin/user_password.html", "admin/_user_password.html",
                                   status=422, **ctx))
