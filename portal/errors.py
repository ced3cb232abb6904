"""Error pages in the user's language, never a traceback."""

from __future__ import annotations

import logging

from flask import current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from . import audit, db
from .settings import EDITABLE

log = logging.getLogger("passgate")

MESSAGES = {
    400: _l("The request could not be understood. Reload the page and try again."),
    401: _l("Please sign in to continue."),
    403: _l("You do not have permission to do that."),
    404: _l("This page does not exist."),
    405: _l("This action is not allowed here."),
    413: _l("What you sent is too large."),
    429: _l("Too many attempts. Please wait a little and try again."),
    500: _l("Something went wrong on our side. Please try again."),
    503: _l("The service is busy right now. Nothing was lost: please try again in a few seconds."),
}
RETRY_AFTER_SECONDS = 5


def render_error(code: int, message=None):
    message = message or MESSAGES.get(code, MESSAGES[500])
    try:
        return render_template("errors/error.html", code=code, error_text=message), code
    except Exception:
        # Before routing (e.g. an untrusted Host header) templates cannot build URLs.
        return f"{code} {message}", code


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        audit.record_refusal("csrf.failure", detail={"path": request.path[:200]})
        return render_error(
            400,
            _l("This form has expired or was sent from elsewhere. Reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 429:
            audit.record_refusal("ratelimit.hit", detail={"path": request.path[:200]})
        if exc.code == 403 and getattr(current_user, "is_authenticated", False):
            audit.record("access.denied", outcome="denied", detail={"path": request.path})
        body, code = render_error(exc.code or 500)
        response = app.make_response((body, code))
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if db.is_unavailable(exc):
            return unavailable(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)


def unavailable(exc: BaseException):
    """The database is busy or unreachable: 503 + Retry-After, in the user's language.

    The failed transaction was rolled back as a whole, so nothing is half-written; the
    page is rendered without touching the database again.
    """
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        type(exc).__name__,
        first_line,
    )
    if not db.is_sqlite():
        db.discard_broken_connections()  # PostgreSQL restarted: reconnect next time
    g.db_unavailable = True
    g._login_user = AnonymousUserMixin()  # no session lookup while rendering the page
    g.passgate_settings = {key: current_app.config[key] for key in EDITABLE}
    body, code = render_error(503)
    response = current_app.make_response((body, code))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
