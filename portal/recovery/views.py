"""Forgotten password: ask for a link, land on it, set a new password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale

from .. import accounts, audit, links, ratelimit, tokens
from ..auth.service import directory_enabled
from ..forms import attach_password_errors, password_checklist
from ..messages import text
from ..models import utcnow
from . import service
from .forms import ForgotForm, ResetForm

bp = Blueprint("recovery", __name__, url_prefix="/password")


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    form = ForgotForm()
    if not directory_enabled():
        del form.provider
    if request.method != "POST":
        return render_template("recovery/forgot.html", form=form)
    ratelimit.check("forgot")
    if not form.validate_on_submit():
        return render_template("recovery/forgot.html", form=form), 422
    service.request_recovery(
        form.identifier.data.strip(),
        form.provider.data if "provider" in form else "identity",
        str(get_locale() or "en"),
        request.remote_addr or "",
        request.user_agent.string or "",
    )
    return redirect(url_for("recovery.sent"), 303)


@bp.get("/forgot/sent")
def sent():
    return render_template("recovery/sent.html")


@bp.get("/reset/<token>")
def landing(token: str):
    """The mailed link. It never consumes the token (mail scanners prefetch links): it
    keeps the digest in the session and moves to a token-free URL."""
    ratelimit.check("reset_token")
    session["reset_token_hash"] = tokens.digest(token[:128])
    response = redirect(url_for("recovery.reset"), 302)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/reset", methods=["GET", "POST"])
def reset():
    state = links.lookup(session.get("reset_token_hash"))
    if not state.valid:
        if session.get("reset_token_hash"):
            audit.record("recovery.link_invalid", outcome="failure")
        return render_template("recovery/invalid.html"), 404
    form = ResetForm()
    context = {
        "form": form,
        "user": state.user,
        "policy": accounts.current_policy(),
        "first": state.user.password_hash is None,
        "seconds_left": int((state.token.expires_at - utcnow()).total_seconds()),
    }
    if request.method != "POST":
        return render_template("recovery/reset.html", **context)
    errors = (
        service.finish(state, form.password.data, form.confirm.data)
        if form.validate_on_submit()
        else []
    )
    if errors is None:  # another request used the link first
        return render_template("recovery/invalid.html"), 404
    if errors or form.errors:
        attach_password_errors(form, errors)
        evaluation = password_checklist(state.user, form.password.data, form.confirm.data)
        return render_template("recovery/reset.html", evaluation=evaluation, **context), 422
    session.pop("reset_token_hash", None)
    flash(text("PASSWORD_RESET_DONE"), "success")
    return redirect(url_for("auth.login"), 303)
