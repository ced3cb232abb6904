"""Audit log screens: the filtered, paginated log and its CSV export.

Both URLs answer GET only (the log is append-only), so any other method gets 405.
"""

from __future__ import annotations

from flask import Response, request, stream_with_context

from .. import audit as audit_log
from .. import htmx
from ..access.guard import requires
from ..admin import bp
from ..models import User
from . import service
from .export import export_rows


def _render(actor: User, filters: service.AuditFilter):
    """The page (plain request) or the results fragment (htmx); filters that cannot be
    read: the page again with the errors, 422, no events."""
    ctx = service.screen(actor, filters, request.args)
    status = 422 if filters.errors else 200
    return htmx.render("admin/audit.html", "admin/_audit_results.html", status=status, **ctx)


@bp.get("/audit")
@requires("audit.read")
def audit(actor: User):
    return _render(actor, service.parse_filters(request.args))


@bp.get("/audit/export.csv")
@requires("audit.read")
def audit_export(actor: User):
    filters = service.parse_filters(request.args)
    if filters.errors:
        return _render(actor, filters)
    # Who took a copy of the log, and of what, is itself worth knowing.
    audit_log.record("audit.export", actor=actor, detail=service.kept_args(request.args))
    response = Response(stream_with_context(export_rows(actor, filters)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
