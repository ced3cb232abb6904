"""How a change to users is answered: htmx refreshes the list (an event on <body>), a
plain request is redirected with a flash message; a new account shows its outcome."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for

from .. import htmx, providers
from ..forms import EmptyForm
from ..messages import text
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


def created(user: User, temp: str | None):
    """A new account: its temporary password shown once (kept out of the history), or the
    invitation sent; the list refreshes."""
    ctx = {
        "user": user,
        "temp": temp,
        "in_dialog": htmx.is_htmx(),
        "created": True,
        "form": EmptyForm(),
        "from_directory": providers.for_user(user).remote,
    }
    if temp:
        response = htmx.render("admin/user_reset_result.html", "admin/_reset_result.html", **ctx)
        htmx.no_push(response)
    else:
        response = htmx.render("admin/user_created.html", "admin/_user_created.html", **ctx)
    return list_changed(response)


def saved(user: User, changes: dict):
    """An edit: what it changed, or that nothing did."""
    user = User.get_by_id(user.id)
    return done(
        text("USER_SAVED", name=user.display_name) if changes else text("USER_UNCHANGED"), user
    )
