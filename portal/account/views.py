"""The account page's address forms: own email change, backup recovery address."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import accounts, audit, messages, providers
from ..models import User, fold
from . import bp, service
from .forms import BackupForm, EmailChangeForm, RemoveBackupForm
from .service import pending


def _submit(user: User, form, field, action: str) -> tuple[str | None, int]:
    """Validate an address form: (the clean address, 200) or (None, error status); the
    errors are attached to the form's fields, nothing typed is lost."""
    if not form.validate_on_submit():
        return None, 422
    try:
        address = accounts.clean_email(field.data)
    except accounts.AccountError as exc:
        field.errors.append(str(exc))
        return None, 422
    if fold(address) in (user.email_key, user.backup_email_key):
        field.errors.append(messages.text("ADDRESS_ALREADY_YOURS"))
        return None, 422
    error, status = service.check_current_password(user, form.current_password.data)
    if error:
        audit.record(
            action,
            outcome="throttled" if status == 429 else "failure",
            target=user,
            detail={"reason": "bad_current_password"},
        )
        form.current_password.errors.append(error)
        return None, status
    return address, 200


@bp.route("/email", methods=["GET", "POST"])
@login_required
def email():
    user: User = current_user._get_current_object()
    form = EmailChangeForm()
    # A directory account's address comes from the directory (every sync would undo it).
    managed = providers.for_user(user).remote

    def page(status=200):
        return render_template(
            "account/email.html", form=form, managed=managed, pending=pending(user, "confirm_email")
        ), status

    if request.method != "POST":
        return page()
    if managed:
        abort(403)
    address, status = _submit(user, form, form.email, "email.change_request")
    if address is None:
        return page(status)
    service.request_email_change(user, address)
    flash(messages.text("EMAIL_CONFIRMATION_SENT", address=address), "success")
    return redirect(url_for("account.email"), 303)


@bp.route("/recovery", methods=["GET", "POST"])
@login_required
def recovery():
    user: User = current_user._get_current_object()
    form, remove = BackupForm(), RemoveBackupForm(prefix="remove")

    def page(status=200):
        return render_template(
            "account/recovery.html",
            form=form,
            remove=remove,
            pending=pending(user, "confirm_backup"),
        ), status

    if request.method != "POST":
        return page()
    address, status = _submit(user, form, form.backup_email, "backup_email.request")
    if address is None:
        return page(status)
    service.request_backup(user, address)
    flash(messages.text("BACKUP_CONFIRMATION_SENT", address=address), "success")
    return redirect(url_for("account.recovery"), 303)


@bp.post("/recovery/remove")
@login_required
def remove_backup():
    user: User = current_user._get_current_object()
    form, remove = BackupForm(formdata=None), RemoveBackupForm(prefix="remove")
    if not remove.validate_on_submit():
        status = 422
    else:
        error, status = service.check_current_password(user, remove.current_password.data)
        if error is None:
            service.remove_backup(user)
            flash(messages.text("BACKUP_REMOVED"), "success")
            return redirect(url_for("account.recovery"), 303)
        audit.record(
            "backup_email.remove",
            outcome="failure",
            target=user,
            detail={"reason": "bad_current_password"},
        )
        remove.current_password.errors.append(error)
    return render_template(
        "account/recovery.html", form=form, remove=remove, pending=pending(user, "confirm_backup")
    ), status
