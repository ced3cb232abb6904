"""The account page's address forms: own email change, backup recovery address."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import messages, providers
from ..models import User
from . import bp, service
from .forms import AddressForm, BackupForm, EmailChangeForm, RemoveBackupForm


def _address_page(form: AddressForm, template: str, ask: Callable, sent: str, **page):
    """An address form: the page, or once an address checks out, ``ask`` (mail it a
    confirmation link) and back to the page with the message ``sent``."""
    user: User = current_user._get_current_object()
    status = 200
    if request.method == "POST":
        address, status = form.checked(user)
        if address is not None:
            ask(user, address)
            flash(messages.text(sent, address=address), "success")
            return redirect(url_for(request.endpoint), 303)
    pending = service.pending(user, form.kind)
    return render_template(template, form=form, pending=pending, **page), status


@bp.route("/email", methods=["GET", "POST"])
@login_required
def email():
    # A directory account's address comes from the directory (every sync would undo it).
    managed = providers.for_user(current_user).remote
    if managed and request.method == "POST":
        abort(403)
    form, ask, sent = EmailChangeForm(), service.request_email_change, "EMAIL_CONFIRMATION_SENT"
    return _address_page(form, "account/email.html", ask, sent, managed=managed)


@bp.route("/recovery", methods=["GET", "POST"])
@login_required
def recovery():
    form, remove = BackupForm(), RemoveBackupForm(prefix="remove")
    ask, sent = service.request_backup, "BACKUP_CONFIRMATION_SENT"
    return _address_page(form, "account/recovery.html", ask, sent, remove=remove)


@bp.post("/recovery/remove")
@login_required
def remove_backup():
    user: User = current_user._get_current_object()
    remove = RemoveBackupForm(prefix="remove")
    status = remove.password_status(user) if remove.validate_on_submit() else 422
    if status == 200:
        service.remove_backup(user)
        flash(messages.text("BACKUP_REMOVED"), "success")
        return redirect(url_for("account.recovery"), 303)
    pending = service.pending(user, "confirm_backup")
    form = BackupForm(formdata=None)
    return render_template(
        "account/recovery.html", form=form, remove=remove, pending=pending
    ), status
