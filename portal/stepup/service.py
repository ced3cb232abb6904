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

from flask import current_app, render_template, request
from flask_login import current_user

from .. import audit, htmx, providers, ratelimit, sessions, settings, throttle
from ..messages import text

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
    verdict = throttle.verify_password(user, password, check=providers.for_user(user).check_current)
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
            error = text("WRONG_PASSWORD")
        except Throttled as exc:
            error, status = throttled_message(exc.retry_after), 429
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in (FIELD, "csrf_token")]
    template = "admin/_reauth.html" if htmx.is_htmx() else "admin/reauth.html"
    response = current_app.make_response(
        (render_template(template, fields=fields, action=request.path, error=error), status)
    )
    return htmx.ask_reauth(response)


def typed_refusal(needed: bool, *, ask: str, wrong: str) -> str | None:
    """Step-up for a form that carries its own password field (the CSV import): None when
    it may go ahead (not ``needed``, fresh, or the right password typed with this very
    request), otherwise what to say (message keys ``ask`` and ``wrong``)."""
    if not needed or is_fresh():
        return None
    if not request.form.get(FIELD):
        return text(ask)
    try:
        return None if check_password(request.form[FIELD]) else text(wrong)
    except Throttled as exc:
        return throttled_message(exc.retry_after)
