"""Sign-in, sign-out, change of one's own password, the live policy check, health."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, accounts, audit, providers, ratelimit, sessions, throttle
from ..db import database, write
from ..forms import attach_password_errors, password_checklist
from ..models import ResetToken, User
from .forms import ChangePasswordForm, LoginForm, LogoutForm
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
        return render_template("auth/login.html", form=form,
                               signed_out=request.args.get("signed_out") == "1")
    ratelimit.check("login")
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422
    # bcrypt runs outside any transaction; the throttle/audit writes and the new session
    # are short write transactions of their own.
    result = authenticate(form.identifier.data.strip(), form.password.data,
                          form.provider.data if "provider" in form else "identity")
    if result.ok:
        with write():
            sessions.start(result.user)
    if not result.ok:
        if result.temp_expired:
            error = _("Your temporary password has expired. Ask your administrator for a new "
                      "one, or use “Forgotten your password?” below to get a link by email.")
        elif result.retry_after is not None:
            # A wait is running: the password was not what stopped this attempt, so do not
            # call it incorrect; say to wait (the same for every identifier).
            error = _("Sign-in is paused after too many attempts.")
        else:
            error = _("Your username, email or password was incorrect.")
        return render_template("auth/login.html", form=form, error=error,
                               retry_minutes=_minutes(result.retry_after)), 401
    if result.user.must_change:
        return redirect(url_for("auth.change_password"), 303)
    return redirect(safe_next(request.args.get("next")), 303)


def _minutes(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    return max(1, -(-seconds // 60)) if seconds else 0


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
    rules = accounts.current_policy()
    if request.method != "POST":
        return render_template("auth/change_password.html", form=form, policy=rules)
    ratelimit.check("password_change")

    def again(status=422):
        """The form back with its errors, what was typed and a checklist that matches it."""
        return render_template("auth/change_password.html", form=form, policy=rules,
                               evaluation=password_checklist(user, form.password.data,
                                                             form.confirm.data)), status

    if not form.validate_on_submit():
        return again()
    # The sign-in throttle guards this password check too (issue 11, finding 2); the
    # account's provider checks it (the directory for sso accounts).
    source = providers.for_user(user)
    verdict = throttle.verify_password(user, form.current_password.data,
                                       check=source.check_current)
    if verdict.retry_after is not None:
        audit.record("password.change", outcome="throttled", target=user)
        form.current_password.errors.append(throttle.refusal_message(verdict.retry_after))
        return again(429)
    if not verdict.ok:
        return _bad_current(user, form, again)
    check = accounts.check_new_password(user, form.password.data, form.confirm.data)
    if not check.ok:
        attach_password_errors(form, check.errors)
        return again()
    try:  # the directory's own policy answers after Passgate's (outside any transaction)
        source.change_password(user, form.current_password.data, form.password.data)
    except providers.WrongPassword:
        return _bad_current(user, form, again)
    except providers.PasswordRejected as exc:
        audit.record("password.change", outcome="failure", target=user,
                     detail={"reason": "directory_refused", "code": exc.code})
        form.password.errors.append(exc.message)
        return again()
    accounts.replace_password(user, form.password.data, how="change", action="password.change",
                              detail={"forced": True} if user.must_change else None)
    flash(_("Your password has been changed. Your other sessions have been signed out."),
          "success")
    return redirect(url_for("auth.home"), 303)


def _bad_current(user: User, form, again):
    audit.record("password.change", outcome="failure", target=user,
                 detail={"reason": "bad_current_password"})
    form.current_password.errors.append(_("Your current password is not correct."))
    return again()


@bp.post("/password/check")
def policy_check():
    """Live checklist as the user types (htmx); the same validator as on submit."""
    ratelimit.check("policy_check")
    user = _subject()
    evaluation = password_checklist(user, request.form.get("password", ""),
                                    request.form.get("confirm"))
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
