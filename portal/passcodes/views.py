"""The account page's passcode: set or change one's own (current password required), the
live checklist, and the gate that sends the holder of a temporary passcode here first."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import htmx, ratelimit
from ..models import User
from . import service
from .blueprint import bp
from .forms import PasscodeForm

# Reachable while a temporary passcode waits to be replaced.
GATE_ALLOWED = {
    "passcodes.account",
    "passcodes.check",
    "auth.logout",
    "auth.change_password",
    "auth.policy_check",
    "auth.healthz",
    "static",
}


@bp.before_app_request
def temporary_passcode_gate():
    """A signed-in user holding an administrator's temporary passcode replaces it first
    (after a forced password change, whose gate runs before this one)."""
    if (
        request.endpoint in GATE_ALLOWED
        or request.endpoint is None
        or request.blueprint == "passcode_api"
    ):
        return None
    if not current_user.is_authenticated or current_user.must_change or not service.enabled():
        return None
    row = service.get(current_user)
    if row is None or not row.temporary:
        return None
    target = url_for("passcodes.account")
    return htmx.redirect(target) if htmx.is_htmx() else redirect(target)


def _render(user: User, form: PasscodeForm, status: int = 200, evaluation=None):
    facts = service.account_facts(user, evaluation)
    return render_template("passcodes/account.html", form=form, **facts), status


@bp.route("/account/passcode", methods=["GET", "POST"])
@login_required
def account():
    if not service.enabled():
        abort(404)
    user: User = current_user._get_current_object()
    form = PasscodeForm()
    if request.method != "POST":
        return _render(user, form)
    ratelimit.check("password_change")
    evaluation = service.evaluate(user, form.passcode.data or "", form.confirm.data or "")
    refusal = (
        service.change_refusal(user, form.current_password.data, evaluation)
        if form.validate_on_submit()
        else service.Refusal(422)
    )
    if refusal is not None:
        refusal.attach(form)
        return _render(user, form, refusal.status, evaluation)
    service.change_own(user, form.passcode.data)
    flash(_("Your passcode has been saved."), "success")
    return redirect(url_for("auth.home"), 303)


@bp.post("/account/passcode/check")
@login_required
def check():
    """The live checklist as the user types (htmx); the same rules as on submit."""
    if not service.enabled():
        abort(404)
    ratelimit.check("policy_check")
    confirm = request.form.get("confirm")
    evaluation = service.evaluate(
        current_user._get_current_object(), request.form.get("passcode", ""), confirm or None
    )
    return render_template("passcodes/_rules.html", evaluation=evaluation)


@bp.app_template_global()
def passcodes_enabled() -> bool:
    """For the hooks in other pages (account, user list, user detail)."""
    return service.enabled()


@bp.app_template_global()
def passcode_of(user: User):
    return service.get(user)
