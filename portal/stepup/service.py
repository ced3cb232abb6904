"""Step-up re-authentication for sensitive admin actions (ASVS 7.5.3).

A POST whose session has not seen a password entry within ``REAUTH_MINUTES`` answers 401
with a dialog asking for the actor's password, and the action continues after it, with
nothing the admin chose lost:

- with htmx, the dialog posts to ``/admin/reauth``; on success passgate.js replays the
  original request (same element, same target and swap);
- without JavaScript, the full-page form re-posts the original fields (hidden inputs) to
  the same URL with ``reauth_password``, and the action runs in that request.

Views call :func:`challenge` after their permission and reach checks (so someone who may
not act gets 403, never the dialog). Every password entered here goes through the
sign-in throttle and a per-IP limit (issue 11, finding 2).
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, htmx, providers, ratelimit, sessions, settings, throttle

FIELD = "reauth_password"


class Throttled(Exception):
    """The password was not checked: the account (or this device) is in a wait."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def check_password(password: str) -> bool:
    """Verify the actor's password; a failure counts toward the sign-in throttle.

    Raises ``Throttled`` (nothing checked, nothing counted) during a wait.
    """
    ratelimit.check("reauth")
    user = current_user._get_current_object()
    verdict = throttle.verify_password(user, password,
                                       check=providers.for_user(user).check_current)
    if verdict.ok:
        sessions.mark_reauthenticated()
        audit.record("reauth", target=user)
        return True
    if verdict.retry_after is not None:
        audit.record("reauth", outcome="throttled", target=user)
        raise Throttled(verdict.retry_after)
    audit.record("reauth", outcome="failure", target=user)
    return False


throttled_message = throttle.refusal_message


def is_fresh() -> bool:
    """Has this session seen a password entry within ``REAUTH_MINUTES``?"""
    return sessions.recently_authenticated(int(settings.get("REAUTH_MINUTES")))


def challenge():
    """None when the action may go ahead (a recent password entry, or the right password
    sent with this very request); otherwise the 401 (or 429) step-up response.

    Call it *after* the permission and reach checks, so that someone who may not act at all
    gets 403, never the password dialog.
    """
    if is_fresh():
        return None
    error, status = None, 401
    if FIELD in request.form:
        try:
            if check_password(request.form[FIELD]):
                return None
            error = _("That password is not correct.")
        except Throttled as exc:
            error, status = throttled_message(exc.retry_after), 429
    fields = [(k, v) for k, v in request.form.items(multi=True)
              if k not in (FIELD, "csrf_token")]
    template = "admin/_reauth.html" if htmx.is_htmx() else "admin/reauth.html"
    response = current_app.make_response((render_template(
        template, fields=fields, action=request.path, error=error), status))
    return htmx.ask_reauth(response)


def fresh_required(view):
    """Decorator form of :func:`challenge` (for views whose access is checked before)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        refusal = challenge()
        if refusal is not None:
            return refusal
        return view(*args, **kwargs)

    return wrapper
