"""The overview page (see ``service``)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import format_date

from .. import access
from ..access.guard import requires
from ..admin import bp
from ..models import User
from ..users import labels
from . import service


@bp.get("/overview")
@requires("users.read")
def overview(actor: User):
    ctx = service.page(actor)
    may_audit = access.has_permission(actor, "audit.read")

    def audit_url(action):
        return url_for("admin.audit", action=action, date_from=ctx["since"]) if may_audit else None

    return render_template(
        "admin/overview.html",
        labels=labels,
        audit_url=audit_url,
        day_label=lambda d, fmt="d MMM": format_date(d, fmt),
        **ctx,
    )
