"""The one place that reads htmx request headers and writes htmx response headers."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Response, render_template, request


def is_htmx() -> bool:
    """A partial request from htmx (a history restore wants the full page)."""
    return request.headers.get("HX-Request") == "true" and not is_history_restore()


def is_history_restore() -> bool:
    return request.headers.get("HX-History-Restore-Request") == "true"


def current_page() -> str | None:
    """The path and query of the page an htmx request came from (None if not sent, or
    not a page of this site: a forged header must not carry "//evil.example" along)."""
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    own = (
        page.netloc in ("", request.host)
        and page.path.startswith("/")
        and not page.path.startswith(("//", "/\\"))
    )
    return page.path + (f"?{page.query}" if page.query else "") if own else None


def vary(response: Response) -> Response:
    """The answer depends on whether htmx asked (caches keep both)."""
    response.headers["Vary"] = "HX-Request"
    return response


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """The fragment for htmx, the full page (which includes the fragment) otherwise."""
    body = render_template(fragment if is_htmx() else page, **context)
    return vary(Response(body, status=status))


def no_push(response: Response) -> Response:
    """Keep this answer out of the browser history (a dialog, a secret on screen)."""
    response.headers["HX-Push-Url"] = "false"
    return response


def retarget(response: Response, target: str, swap: str) -> Response:
    """Put the answer somewhere else than the element that asked (an htmx request only)."""
    if is_htmx():
        response.headers["HX-Retarget"] = target
        response.headers["HX-Reswap"] = swap
    return response


def keep_page(response: Response) -> Response:
    """Swap nothing (an htmx request only): what the user typed stays as it is."""
    if is_htmx():
        response.headers["HX-Reswap"] = "none"
    return response


def ask_reauth(response: Response) -> Response:
    """The step-up dialog, appended to <body>; passgate.js remembers the request to replay."""
    if is_htmx():
        retarget(response, "body", "beforeend")
        response.headers["HX-Reauth"] = "true"
    return response


def reauthenticated(response: Response) -> Response:
    """The step-up dialog succeeded: passgate.js replays the interrupted request."""
    response.headers["HX-Reauthenticated"] = "true"
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
        return navigate(Response("", status=200), location)
    response = Response("", status=303)
    response.headers["Location"] = location
    return response


def navigate(response: Response, location: str) -> Response:
    """Ask htmx to load ``location`` as a whole page."""
    response.headers["HX-Redirect"] = location
    return response
