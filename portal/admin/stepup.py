"""Step-up re-authentication for sensitive admin actions (ASVS 7.5.3).

A decorated POST whose session has not seen a password entry within ``REAUTH_MINUTES``
answers 401 with a dialog asking for the actor's password, and the action continues
after it, with nothing the admin chose lost:

- with htmx, the dialog posts to ``/admin/reauth``; on success passgate.js replays the
  original request (same element, same target and swap);
- without JavaScript, the full-page form re-posts the original fields (hidden inputs) to
  the same URL with ``reauth_password``, and the action runs in that request.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit, htmx, providers, sessions, settings, throttle
from . import bp

FIELD = "reauth_password"


def _check_password(password: str) -> bool:
    """Verify the actor's password; a failure counts toward their throttle (B3)."""
    user = current_user._get_current_object()
    if providers.for_user(user).check_current(user, password):  # the directory for sso
        sessions.mark_reauthenticated()
        audit.record("reauth", target=user)
        return True
    throttle.save_failure(user, throttle.Rules.from_settings(settings.current(),
                                                             current_app.config))
    audit.record("reauth", outcome="failure", target=user)
    return False


@bp.post("/reauth")
@login_required
def reauth():
    """The htmx dialog's target: confirm the password, then the page replays the action."""
    if _check_password(request.form.get(FIELD, "")):
        response = current_app.make_response(("", 200))
        response.headers["HX-Reauthenticated"] = "true"
        return response
    return render_template("admin/_reauth.html", fields=[], action=request.path,
                           error=_("That password is not correct.")), 422


def fresh_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        minutes = int(settings.current()["REAUTH_MINUTES"])
        if sessions.recently_authenticated(minutes):
            return view(*args, **kwargs)
        error = None
        if FIELD in request.form:
            if _check_password(request.form[FIELD]):
                return view(*args, **kwargs)
            error = _("That password is not correct.")
        fields = [(k, v) for k, v in request.form.items(multi=True)
                  if k not in (FIELD, "csrf_token")]
        template = "admin/_reauth.html" if htmx.is_htmx() else "admin/reauth.html"
        response = current_app.make_response((render_template(
            template, fields=fields, action=request.path, error=error), 401))
        if htmx.is_htmx():
            response.headers["HX-Retarget"] = "body"
            response.headers["HX-Reswap"] = "beforeend"
            response.headers["HX-Reauth"] = "true"  # passgate.js remembers what to replay
        return response

    return wrapper
