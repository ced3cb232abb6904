"""Step-up re-authentication for sensitive admin actions (ASVS 7.5.3).

A decorated POST whose session has not seen a password entry within ``REAUTH_MINUTES``
answers 401 with a dialog asking for the actor's password. The dialog re-posts the
original form (all its fields, as hidden inputs) to the same URL with one extra field,
``reauth_password``; when that password is right the action goes ahead in that same
request, so nothing the admin chose is lost.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, htmx, passwords, sessions, settings, throttle

FIELD = "reauth_password"


def fresh_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        minutes = int(settings.current()["REAUTH_MINUTES"])
        if sessions.recently_authenticated(minutes):
            return view(*args, **kwargs)
        error = None
        if FIELD in request.form:
            user = current_user._get_current_object()
            if passwords.verify_password(request.form[FIELD], user.password_hash):
                sessions.mark_reauthenticated()
                audit.record("reauth", target=user)
                return view(*args, **kwargs)
            throttle.save_failure(user, throttle.Rules.from_settings(settings.current(),
                                                                     current_app.config))
            audit.record("reauth", outcome="failure", target=user)
            error = _("That password is not correct.")
        fields = [(k, v) for k, v in request.form.items(multi=True)
                  if k not in (FIELD, "csrf_token")]
        template = "admin/_reauth.html" if htmx.is_htmx() else "admin/reauth.html"
        response = current_app.make_response((render_template(
            template, fields=fields, action=request.path, error=error), 401))
        if htmx.is_htmx():
            response.headers["HX-Retarget"] = "body"
            response.headers["HX-Reswap"] = "beforeend"
        return response

    return wrapper
