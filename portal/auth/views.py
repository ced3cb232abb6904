"""Sign-in, sign-out, change of one's own password, the live policy check, health."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from .. import access, accounts, audit, ratelimit, sessions
from ..db import database, write
from ..forms import attach_password_errors, password_checklist
from ..messages import text
from ..models import ResetToken, User
from .forms import ChangePasswordForm, LoginForm, LogoutForm
from .password_change import Refusal, change_own_password
from .service import authenticate, directory_enabled

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-origin relative paths; anything else goes home (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("auth.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return url_for("auth.home")
    return target


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
    if not directory_enabled():
        del form.provider
    if request.method != "POST":
        return render_template(
            "auth/login.html", form=form, signed_out=request.args.get("signed_out") == "1"
        )
    ratelimit.check("login")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422
    # bcrypt runs outside any transaction; the throttle/audit writes and the new session
    # are short write transactions of their own.
    result = authenticate(
        form.identifier.data.strip(),
        form.password.data,
        form.provider.data if "provider" in form else "identity",
    )
    if not result.ok:
        return render_template(
            "auth/login.html",
            form=form,
            error=text(result.refusal_key),
            retry_minutes=result.retry_minutes,
        ), 401
    with write():
        sessions.start(result.user)
    if result.user.must_change:
        return redirect(url_for("auth.change_password"), 303)
    return redirect(safe_next(request.args.get("next")), 303)


@bp.post("/logout")
def logout():
    LogoutForm().validate_on_submit()  # CSRFProtect has already refused a bad token
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
    if refusal.field == "current_password":
        form.current_password.errors.extend(refusal.messages)
    else:
        attach_password_errors(form, refusal.messages)
    # The form back with its errors, what was typed and a checklist that matches it.
    evaluation = password_checklist(user, form.password.data, form.confirm.data)
    return render_template(
        "auth/change_password.html", evaluation=evaluation, **page
    ), refusal.status


@bp.post("/password/check")
def policy_check():
    """Live checklist as the user types (htmx); the same validator as on submit."""
    ratelimit.check("policy_check")
    user = _subject()
    evaluation = password_checklist(
        user, request.form.get("password", ""), request.form.get("confirm")
    )
    return render_template("_policy.html", evaluation=evaluation, live=True)


def _subject() -> User | None:
    """Whose password is being typed: an admin's target (if within reach), the signed-in
    user, or the owner of the reset link in this session."""
    if not current_user.is_authenticated:
        return _reset_user()
    actor = current_user._get_current_object()
    target_id = request.form.get("for_user", "")
    if target_id.isdigit():
        target = User.get_or_none(User.id == int(target_id))
        if target is not None and access.can(actor, "users.update", target):
            return target
    return actor


def _reset_user() -> User | None:
    token_hash = session.get("reset_token_hash")
    if not token_hash:
        return None
    token = ResetToken.get_or_none(ResetToken.token_hash == token_hash)
    return token.user if token else None
