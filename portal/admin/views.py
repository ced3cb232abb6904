"""Administration (user list, audit): see the admin issue. Access is checked per request."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user, login_required

from .. import access
from . import bp


@bp.get("/users")
@login_required
def users():
    if not access.can(current_user, "users.read"):
        abort(403)
    return render_template("admin/users.html")
