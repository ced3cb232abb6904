"""Per-IP rate limits, built on ``limits`` (the engine behind Flask-Limiter).

One limiter per app (memory for a single server, Redis when ``PASSGATE_REDIS_URL`` is set
so several instances share the counts). Views call ``check(name, key)`` where the limit
applies, so a limit can count only what it should (e.g. only invalid reset links).
"""

from __future__ import annotations

from flask import current_app, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from . import ratelimit_store  # noqa: F401 — registers the passgate+sqlite:// storage


class Throttled(TooManyRequests):
    """429 with a Retry-After header."""

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = max(1, int(retry_after))

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


def init_app(app) -> None:
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["passgate_limiter"] = MovingWindowRateLimiter(storage)


def check(name: str, key: str | None = None) -> None:
    """Count one hit against limit ``LIMIT_<NAME>``; raise ``Throttled`` when over."""
    app = current_app
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    limiter = app.extensions["passgate_limiter"]
    ident = key if key is not None else (request.remote_addr or "-")
    for item in parse_many(app.config[f"LIMIT_{name.upper()}"]):
        if not limiter.hit(item, name, ident):
            reset_at, _remaining = limiter.get_window_stats(item, name, ident)
            import time

            raise Throttled(reset_at - time.time())
