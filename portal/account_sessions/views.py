"""Routes: the user's own sessions (/account/sessions, blueprint ``account_sessions``) and,
on the admin blueprint, ending one session of a user (administrators, and managers within
reach) from the user's page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import access, htmx
from ..access.guard import requires
from ..admin import bp as admin_bp
from ..messages import text
from ..models import User
from . import service

bp = Blueprint("account_sessions", __name__)


@bp.app_template_global("sessions_of")
def sessions_of(user: User) -> list[service.SessionView]:
    """For the admin user page (its view has already checked the reach)."""
    return service.list_for(user)


# What ``service.end_one`` said: True ended, None no such session, False the caller's own.
ENDED = {
    True: ("SESSION_ENDED", "success", 200),
    None: ("SESSION_GONE", "error", 404),
    False: ("SESSION_IS_CURRENT", "error", 400),
}


def _own(message: str | None = None, kind: str = "success", status: int = 200):
    """The page (or, for htmx, the list region) with an optional message."""
    me: User = current_user._get_current_object()
    if not htmx.is_htmx() and message and status < 400:
        flash(message, kind)  # no JavaScript: back to the page (POST-redirect-GET)
        return redirect(url_for("account_sessions.page"), 303)
    rows = service.list_for(me)
    page = {"owner": me, "rows": rows, "admin_view": False, "notice": message, "kind": kind}
    return htmx.render("account_sessions/page.html", "account_sessions/_list.html", status, **page)


@bp.get("/account/sessions")
@login_required
def page():
    return _own()


@bp.post("/account/sessions/<handle>/end")
@login_required
def end(handle: str):
    me: User = current_user._get_current_object()
    key, kind, status = ENDED[service.end_one(me, me, handle)]
    return _own(text(key), kind, status)


@bp.post("/account/sessions/end-others")
@login_required
def end_others():
    count = service.end_others(current_user._get_current_object())
    return _own(text("OTHER_SESSIONS_ENDED", num=count) if count else text("NO_OTHER_SESSIONS"))


@admin_bp.post("/users/<int:user_id>/sessions/<handle>/end")
@requires("users.update", fresh=True)
def user_session_end(actor: User, user: User, handle: str):
    """End one session of a user (users.update within reach; a recent password entry)."""
    ended = service.end_one(actor, user, handle)
    if ended is False:
        abort(400)  # the actor's own browser: that is signing out
    key, kind, status = ENDED[ended]
    message = text(key)
    if not htmx.is_htmx():
        if status == 404:
            abort(404)
        flash(message, kind)
        return redirect(url_for("admin.user_detail", user_id=user.id), 303)
    body = render_template(
        "account_sessions/_list.html",
        owner=user,
        admin_view=True,
        rows=service.list_for(user),
        notice=message,
        kind=kind,
        may_update=access.can(actor, "users.update", user),
    )
    return htmx.vary(make_response(body, status))
