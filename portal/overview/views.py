"""The overview page (see ``service``)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import format_date

from .. import access
from ..access.guard import requires
from ..admin import bp
from ..models import User
from ..users import labels
from .service import (
    CHART_H,
    CHART_W,
    STATUS_ORDER,
    account_counts,
    activity,
    bars,
    kind_label,
    mail_problems,
)


@bp.get("/overview")
@requires("users.read")
def overview(actor: User):
    days, series = activity(actor)
    failed_mail, recent_failures = mail_problems(actor)
    may_audit = access.has_permission(actor, "audit.read")
    since = days[0].isoformat()

    def audit_url(action):
        return url_for("admin.audit", action=action, date_from=since) if may_audit else None

    return render_template(
        "admin/overview.html",
        counts=account_counts(actor),
        status_order=STATUS_ORDER,
        labels=labels,
        days=days,
        series=series,
        bars=bars,
        chart_w=CHART_W,
        chart_h=CHART_H,
        failed_mail=failed_mail,
        recent_failures=recent_failures,
        audit_url=audit_url,
        since=since,
        day_label=lambda d, fmt="d MMM": format_date(d, fmt),
        kind_label=kind_label,
    )
