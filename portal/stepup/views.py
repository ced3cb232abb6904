"""The step-up dialog's own endpoint (htmx): confirm the password, then the page replays
the action it interrupted."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import login_required

from .. import htmx
from ..admin import bp
from ..messages import text
from .service import FIELD, Throttled, check_password, throttled_message


@bp.post("/reauth")
@login_required  # anyone signed in may confirm their own password
def reauth():
    """The htmx dialog's target: confirm the password, then the page replays the action."""
    try:
        ok = check_password(request.form.get(FIELD, ""))
    except Throttled as exc:
        return render_template(
            "admin/_reauth.html",
            fields=[],
            action=request.path,
            error=throttled_message(exc.retry_after),
        ), 429
    if ok:
        return htmx.reauthenticated(current_app.make_response(("", 200)))
    return render_template(
        "admin/_reauth.html", fields=[], action=request.path, error=text("WRONG_PASSWORD")
    ), 422
