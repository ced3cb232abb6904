"""Response headers, cross-site request refusal, CSRF and the forced-change gate."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from . import htmx, http_input, settings

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

# Reachable while a temporary password must be replaced (everything else redirects).
FORCED_CHANGE_ALLOWED = {
    "auth.change_password",
    "auth.logout",
    "auth.policy_check",
    "auth.healthz",
    "static",
    # "this wasn't me" must work whoever is signed in in this browser
    "account.not_me_landing",
    "account.not_me",
    "account.not_me_done",
}


def init_app(app) -> None:
    http_input.init_app(app)
    csrf.init_app(app)
    app.before_request(refuse_cross_site)
    app.before_request(forced_change_gate)
    app.after_request(set_headers)


def refuse_cross_site():
    """Defence in depth behind CSRF tokens: refuse unsafe cross-site requests (Fetch Metadata)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site == "cross-site":
        abort(403)
    origin = request.headers.get("Origin")
    if site is None and origin and origin != "null":
        if urlsplit(origin).netloc not in (request.host, urlsplit(settings.get("BASE_URL")).netloc):
            abort(403)
    return


def forced_change_gate():
    """A user holding a temporary password may only change it (or sign out)."""
    if request.endpoint in FORCED_CHANGE_ALLOWED or request.endpoint is None:
        return None
    if current_user.is_authenticated and current_user.must_change:
        target = url_for("auth.change_password")
        if htmx.is_htmx():
            return htmx.redirect(target)
        return redirect(target)
    return None


def set_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Referrer-Policy", "same-origin")
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if settings.get("SECURE"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint != "static":
        # Every page is personal or part of an auth flow: never store it anywhere.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    headers.pop("Server", None)
    return response
