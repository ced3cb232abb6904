"""How a change to users is answered: htmx refreshes the list (an event on <body>), a
plain request is redirected with a flash message."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for

from .. import htmx
from ..models import User

# Fired on <body>: the element that asked may be gone (a dialog replaced by the answer).
CHANGED = {"target": "body"}


def done(message: str, user: User | None = None):
    """Success of a row action: htmx gets an empty 200 that refreshes the list; a plain
    request is redirected (303) with a flash message."""
    flash(message, "success")  # htmx: shown by the list when it refreshes
    if htmx.is_htmx():
        response = Response(render_template("admin/_user_done.html"), status=200)
        htmx.vary(response)
        return list_changed(response)
    return redirect(
        url_for("admin.user_detail", user_id=user.id) if user else url_for("admin.users"), 303
    )


def list_changed(response: Response) -> Response:
    """Tell the page (htmx) that users changed: the list refreshes itself."""
    return htmx.trigger(response, "users-changed", CHANGED)
