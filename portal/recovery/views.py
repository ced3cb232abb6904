"""Forgotten password: ask for a link, land on it, set a new password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale

from .. import accounts, links, ratelimit
from ..forms import NewPasswordForm
from ..link_pages import LinkPage
from ..messages import text
from . import service
from .forms import ForgotForm

bp = Blueprint("recovery", __name__, url_prefix="/password")
RESET = LinkPage(
    "reset_token_hash", links.PASSWORD_KINDS, "recovery/invalid.html", "recovery.link_invalid"
)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotForm()
    if request.method != "POST":
        return render_template("recovery/forgot.html", form=form)
    ratelimit.check("forgot")
    if not form.validate_on_submit():
        return render_template("recovery/forgot.html", form=form), 422
    identifier, provider = form.account()
    language, ip = str(get_locale() or "en"), request.remote_addr or ""
    service.request_recovery(identifier, provider, language, ip, request.user_agent.string or "")
    return redirect(url_for("recovery.sent"), 303)


@bp.get("/forgot/sent")
def sent():
    return render_template("recovery/sent.html")


@bp.get("/reset/<token>")
def landing(token: str):
    """The mailed link (``link_pages``: it never consumes the token)."""
    return RESET.land(token, "recovery.reset")


@bp.route("/reset", methods=["GET", "POST"])
def reset():
    state = RESET.state()
    if not state.valid:
        return RESET.invalid()
    form = NewPasswordForm()
    page = {"form": form, "policy": accounts.current_policy(), **service.link_facts(state)}
    if request.method != "POST":
        return render_template("recovery/reset.html", **page)
    valid = form.validate_on_submit()
    errors = service.finish(state, form.password.data, form.confirm.data) if valid else []
    if errors is None:  # another request used the link first
        return RESET.invalid(audited=False)
    if errors or form.errors:
        evaluation = form.sent_back(state.user, errors)
        return render_template("recovery/reset.html", evaluation=evaluation, **page), 422
    RESET.forget()
    flash(text("PASSWORD_RESET_DONE"), "success")
    return redirect(url_for("auth.login"), 303)
