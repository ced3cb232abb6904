"""Reset & Unlock (seed 000), emailing the temporary password, admin-typed passwords
(seeds 001-003). The temporary password exists only in the response that shows it."""

from __future__ import annotations

from flask import abort, request

from .. import accounts, htmx, providers
from ..access.guard import requires, target
from ..admin import bp
from ..forms import EmptyForm, attach_password_errors, password_checklist
from ..messages import text
from ..models import OutboxMail, User
from ..users.outcome import done, list_changed
from . import service
from .forms import ResetForm, SetPasswordForm

FINAL_MAIL = ("sent", "failed")


def _secret(response):
    """Secrets on screen: never stored, never pushed into the browser history."""
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


def _confirm(user: User, form: ResetForm, status: int = 200):
    return htmx.render(
        "admin/user_reset_confirm.html",
        "admin/_reset_confirm.html",
        status=status,
        user=user,
        form=form,
        in_dialog=htmx.is_htmx(),
    )


@bp.get("/users/<int:user_id>/reset")
@requires("users.update")
def reset_confirm(actor: User, user: User):
    return _confirm(user, ResetForm())


@bp.post("/users/<int:user_id>/reset")
@requires("users.update", fresh=True)
def reset(actor: User, user: User):
    form = ResetForm()
    if not form.validate_on_submit():
        return _confirm(user, form, 422)
    try:
        temp = service.reset_and_unlock(actor, user, form.reason.data or "")
    except providers.PasswordRejected as exc:
        form.reason.errors = [*form.reason.errors, exc.message]
        return _confirm(user, form, 422)
    response = htmx.render(
        "admin/user_reset_result.html",
        "admin/_reset_result.html",
        user=User.get_by_id(user.id),
        temp=temp,
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
    )
    return _secret(list_changed(response))


@bp.post("/users/<int:user_id>/reset/email")
@requires("users.update")
def reset_email(actor: User, user: User):
    """Send email: the form carries the password back; it is mailed only if it is still
    the user's current, unexpired temporary password."""
    if not user.email:
        return _mail_fragment(None, 422, text("NO_EMAIL"))
    row = service.email_temporary_password(actor, user, request.form.get("password", ""))
    if row is None:
        return _mail_fragment(None, 422, text("TEMP_PASSWORD_GONE"))
    return _mail_fragment(row)


@bp.get("/users/mail/<int:mail_id>")
@requires("users.update")
def mail_status(actor: User, mail_id: int):
    """Polled by the Send email status (every 2 s) until the mail is sent or failed."""
    row = service.mail_status(mail_id)
    if row is None or row.user_id is None:
        abort(404)
    target(actor, row.user_id)  # only mail about a user within reach
    return _mail_fragment(row)


def _mail_fragment(row: OutboxMail | None, status: int = 200, error: str | None = None):
    return _secret(
        htmx.render(
            "admin/user_mail_status.html",
            "admin/_reset_mail_status.html",
            status=status,
            row=row,
            error=error,
            final=FINAL_MAIL,
        )
    )


def _password_page(user: User, form: SetPasswordForm, status: int = 200, **extra):
    page = htmx.render(
        "admin/user_password.html",
        "admin/_user_password.html",
        status=status,
        user=user,
        form=form,
        policy=accounts.current_policy(),
        in_dialog=htmx.is_htmx(),
        **extra,
    )
    return _secret(page) if status != 200 else page


@bp.route("/users/<int:user_id>/password", methods=["GET"])
@requires("users.update")
def set_password_form(actor: User, user: User):
    return _password_page(user, SetPasswordForm())


@bp.post("/users/<int:user_id>/password")
@requires("users.update", fresh=True)
def set_password(actor: User, user: User):
    form = SetPasswordForm()
    if form.validate_on_submit():
        errors = service.try_set_password(
            actor, user, form.password.data, form.confirm.data, bool(form.must_change.data)
        )
        if not errors:
            return _password_set(user, bool(form.must_change.data))
        attach_password_errors(form, errors)
    return _password_page(
        user, form, 422, evaluation=password_checklist(user, form.password.data, form.confirm.data)
    )


def _password_set(user: User, must_change: bool):
    if not htmx.is_htmx():
        return done(text("PASSWORD_SET", name=user.display_name), user)
    response = htmx.render(
        "admin/_user_password_set.html",
        "admin/_user_password_set.html",
        user=user,
        must_change=must_change,
    )
    return _secret(list_changed(response))
