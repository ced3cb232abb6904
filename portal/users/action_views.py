"""Row actions on one user: unlock, disable, enable, end sessions, re-send a link. Reach
first (403), then a recent password entry (step-up)."""

from __future__ import annotations

from flask import Response, abort, flash, render_template
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from .. import access, htmx
from ..admin import bp
from ..forms import EmptyForm
from ..stepup.service import challenge
from . import service
from .outcome import done, list_changed


def _row_action(user_id: int, action):
    """Unlock, disable, enable, end sessions: reach first (403), then a fresh password."""
    actor, user = access.require_target(user_id)
    EmptyForm().validate_on_submit()  # CSRFProtect has already refused a bad token
    refusal = challenge()
    if refusal is not None:
        return refusal
    return action(actor, user)


@bp.post("/users/<int:user_id>/unlock")
@login_required
def user_unlock(user_id: int):
    def act(actor, user):
        service.unlock(actor, user)
        return done(_("%(name)s is unlocked.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/disable")
@login_required
def user_disable(user_id: int):
    def act(actor, user):
        if user.id == actor.id:
            abort(403)
        service.set_disabled(actor, user, True)
        return done(_("%(name)s is disabled and signed out.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/enable")
@login_required
def user_enable(user_id: int):
    def act(actor, user):
        service.set_disabled(actor, user, False)
        return done(_("%(name)s is enabled.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/sessions/end")
@login_required
def user_end_sessions(user_id: int):
    def act(actor, user):
        count = service.end_sessions(actor, user)
        return done(ngettext("Ended %(num)d session of %(name)s.",
                             "Ended %(num)d sessions of %(name)s.", count,
                             name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/resend")
@login_required
def user_resend(user_id: int):
    """A new invitation (no password yet) or recovery link; the pending one stops working."""
    def act(actor, user):
        purpose = service.resend_purpose(user)
        if purpose is None:
            if htmx.is_htmx():
                flash(_("%(name)s cannot receive a link (no email, disabled or a directory "
                        "account).", name=user.display_name), "error")
                response = Response(render_template("admin/_user_done.html"), status=422)
                return list_changed(response)
            abort(422)
        service.resend_link(actor, user, purpose)
        message = (_("A new invitation has been sent to %(email)s; the previous one no longer "
                     "works.", email=user.email) if purpose == "invite" else
                   _("A new recovery link has been sent to %(email)s; any previous one no "
                     "longer works.", email=user.email))
        return done(message, user)
    return _row_action(user_id, act)
