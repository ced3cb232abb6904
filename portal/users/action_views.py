"""Row actions on one user: unlock, disable, enable, end sessions, re-send a link. Reach
first (403), then a recent password entry (step-up): ``requires(..., fresh=True)``."""

from __future__ import annotations

from flask import Response, abort, flash, render_template

from .. import access, htmx
from ..access.guard import requires
from ..admin import bp
from ..messages import text
from ..models import User
from . import service
from .outcome import done, list_changed


@bp.post("/users/<int:user_id>/unlock")
@requires("users.update", fresh=True)
def user_unlock(actor: User, user: User):
    service.unlock(actor, user)
    return done(text("USER_UNLOCKED", name=user.display_name), user)


@bp.post("/users/<int:user_id>/disable")
@requires("users.update", fresh=True)
def user_disable(actor: User, user: User):
    if not access.may_disable(actor, user):
        abort(403)
    service.set_disabled(actor, user, True)
    return done(text("USER_DISABLED", name=user.display_name), user)


@bp.post("/users/<int:user_id>/enable")
@requires("users.update", fresh=True)
def user_enable(actor: User, user: User):
    service.set_disabled(actor, user, False)
    return done(text("USER_ENABLED", name=user.display_name), user)


@bp.post("/users/<int:user_id>/sessions/end")
@requires("users.update", fresh=True)
def user_end_sessions(actor: User, user: User):
    count = service.end_sessions(actor, user)
    return done(text("SESSIONS_ENDED", num=count, name=user.display_name), user)


@bp.post("/users/<int:user_id>/resend")
@requires("users.update", fresh=True)
def user_resend(actor: User, user: User):
    """A new invitation (no password yet) or recovery link; the pending one stops working."""
    purpose = service.resend_purpose(user)
    if purpose is None:
        if not htmx.is_htmx():
            abort(422)
        flash(text("NO_LINK_POSSIBLE", name=user.display_name), "error")
        return list_changed(Response(render_template("admin/_user_done.html"), status=422))
    service.resend_link(actor, user, purpose)
    return done(
        text("INVITE_RESENT" if purpose == "invite" else "RECOVERY_RESENT", email=user.email), user
    )
