"""The one place that reads htmx request headers and writes htmx response headers."""

from __future__ import annotations

import json

from flask import Response, render_template, request


def is_htmx() -> bool:
    """A partial request from htmx (a history restore wants the full page)."""
    return request.headers.get("HX-Request") == "true" and not is_history_restore()


def is_history_restore() -> bool:
    return request.headers.get("HX-History-Restore-Request") == "true"


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """The fragment for htmx, the full page (which includes the fragment) otherwise."""
    body = render_template(fragment if is_htmx() else page, **context)
    response = Response(body, status=status)
    response.headers["Vary"] = "HX-Request"
    return response


def trigger(response: Response, event: str, detail=None) -> Response:
    """Ask the page to fire a client-side event (a list refresh, a toast…)."""
    current = response.headers.get("HX-Trigger")
    events = json.loads(current) if current else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def redirect(location: str) -> Response:
    """Full-page navigation: HX-Redirect for htmx, 303 otherwise."""
    if is_htmx():
        response = Response("", status=200)
        response.headers["HX-Redirect"] = location
        return response
    response = Response("", status=303)
    response.headers["Location"] = location
    return response
