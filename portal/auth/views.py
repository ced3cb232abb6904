"""Sign-in, sign-out, change of one's own password, the live policy check, health."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from .. import accounts, audit, ratelimit, sessions
from ..db import database, write
from ..forms import EmptyForm, password_checklist
from ..messages import text
from ..models import User
from .forms import ChangePasswordForm, LoginForm
from .password_change import Refusal, change_own_password
from .service import authenticate, destination, password_owner

bp = Blueprint("auth", __name__)


@bp.get("/")
@login_required
def home():
    return render_template("auth/home.html")


@bp.get("/healthz")
def healthz():
    database.execute_sql("SELECT 1")
    return {"status": "ok"}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method != "POST":
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if request.method != "POST":
        signed_out = request.args.get("signed_out") == "1"
        return render_template("auth/login.html", form=form, signed_out=signed_out)
    ratelimit.check("login")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422
    identifier, provider = form.account()
    result = authenticate(identifier, form.password.data, provider)  # no transaction open
    if not result.ok:
        error, retry_minutes = text(result.refusal_key), result.retry_minutes
        page = {"form": form, "error": error, "retry_minutes": retry_minutes}
        return render_template("auth/login.html", **page), 401
    with write():  # the new session: a short transaction of its own
        sessions.start(result.user)
    return redirect(destination(result.user, request.args.get("next")), 303)


@bp.post("/logout")
def logout():
    EmptyForm().validate_on_submit()  # CSRFProtect has already refused a bad token
    if current_user.is_authenticated:
        audit.record("logout", target=current_user._get_current_object())
    sessions.end()
    response = redirect(url_for("auth.login", signed_out=1), 303)
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():
    user: User = current_user._get_current_object()
    form = ChangePasswordForm()
    page = {"form": form, "policy": accounts.current_policy()}
    if request.method != "POST":
        return render_template("auth/change_password.html", **page)
    ratelimit.check("password_change")
    refusal = (
        change_own_password(user, form.current_password.data, form.password.data, form.confirm.data)
        if form.validate_on_submit()
        else Refusal(422, "password", [])
    )
    if refusal is None:
        flash(text("PASSWORD_CHANGED"), "success")
        return redirect(url_for("auth.home"), 303)
    # The form back with its errors, what was typed and a checklist that matches it.
    evaluation = form.refused(user, refusal.field, refusal.messages)
    return render_template(
        "auth/change_password.html", evaluation=evaluation, **page
    ), refusal.status


@bp.post("/password/check")
def policy_check():
    """Live checklist as the user types (htmx); the same validator as on submit."""
    ratelimit.check("policy_check")
    actor = current_user._get_current_object() if current_user.is_authenticated else None
    owner = password_owner(actor, request.form.get("for_user", ""), session.get("reset_token_hash"))
    password, confirm = request.form.get("password", ""), request.form.get("confirm")
    evaluation = password_checklist(owner, password, confirm)
    return render_template("_policy.html", evaluation=evaluation, live=True)
