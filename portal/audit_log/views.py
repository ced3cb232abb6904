"""Audit log screens: the filtered, paginated log and its CSV export.

Both URLs answer GET only (the log is append-only), so any other method gets 405.
"""

from __future__ import annotations

from flask import Response, request, stream_with_context, url_for

from .. import audit as audit_log
from .. import htmx, settings
from ..access.guard import requires
from ..admin import bp
from ..models import User
from . import labels, service
from .export import export_rows

FILTER_ARGS = ("actor", "target", "action", "outcome", "date_from", "date_to")


def _render(actor, filters, page, status=200):
    """The page (plain request) or the results fragment (htmx) for ``filters``."""
    kept = {k: request.args[k] for k in FILTER_ARGS if request.args.get(k)}
    actions, outcomes = service.choices(actor)
    return htmx.render(
        "admin/audit.html",
        "admin/_audit_results.html",
        status=status,
        f=filters,
        result=page,
        actions=actions,
        outcomes=outcomes,
        args=request.args,
        labels=labels,
        tz=settings.timezone().key,
        page_url=lambda n: url_for("admin.audit", **kept, page=n),
        export_url=url_for("admin.audit_export", **kept),
    )


def _filtered(actor):
    """The filters of the query string, and the answer when they cannot be read (the page
    again with the errors, 422, no events) or None."""
    filters = service.parse_filters(request.args)
    refused = (
        _render(actor, filters, service.Page([], 0, 1, 1), status=422) if filters.errors else None
    )
    return filters, refused


@bp.get("/audit")
@requires("audit.read")
def audit(actor: User):
    filters, refused = _filtered(actor)
    if refused is not None:
        return refused
    return _render(actor, filters, service.page_of(actor, filters))


@bp.get("/audit/export.csv")
@requires("audit.read")
def audit_export(actor: User):
    filters, refused = _filtered(actor)
    if refused is not None:
        return refused
    # Who took a copy of the log, and of what, is itself worth knowing.
    audit_log.record(
        "audit.export",
        actor=actor,
        detail={k: request.args[k] for k in FILTER_ARGS if request.args.get(k)},
    )
    response = Response(stream_with_context(export_rows(actor, filters)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
