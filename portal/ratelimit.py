"""Per-IP rate limits: moving windows, in the syntax of ``limits`` (Flask-Limiter's engine).

Views call ``check(name, key)`` where the limit applies, so a limit can count only what it
should (e.g. only invalid reset links).

Storage: by default a small SQLite file in the instance folder that every process of one
server shares (``portal/ratelimit_store.py``); on that path the ``limits`` package is not
imported, because importing it costs every server process about 3.4 MB (``limits.aio``
pulls in asyncio): its string syntax, keys and moving-window check are reproduced below.
With Redis (``PASSGATE_REDIS_URL``: several servers share counts) or any other storage
URI, ``limits`` does the work (imported then).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from .ratelimit_store import SCHEME, SQLiteStorage


class Throttled(TooManyRequests):
    """429 with a Retry-After header."""

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = max(1, int(retry_after))

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


# The rate-limit string syntax of ``limits`` (limits.util), e.g. "20 per minute;300 per
# day", "10 per 15 minutes", "5/second".
_SEPARATORS = re.compile(r"[,;|]{1}")
_SINGLE = re.compile(
    r"""
    \s*([0-9]+)
    \s*(/|\s*per\s*)
    \s*([0-9]+)?
    \s*([a-z]+)
    \s*
    """,
    re.IGNORECASE | re.VERBOSE,
)
_MANY = re.compile(
    rf"^{_SINGLE.pattern}(:?{_SEPARATORS.pattern}{_SINGLE.pattern})*$", re.IGNORECASE | re.VERBOSE
)
_SECONDS = {
    "day": 86400,
    "month": 86400 * 30,
    "year": 86400 * 30 * 12,
    "hour": 3600,
    "minute": 60,
    "second": 1,
}


@dataclass(frozen=True)
class Limit:
    """``amount`` hits per ``multiples`` × ``granularity`` (like limits.RateLimitItem)."""

    amount: int
    multiples: int
    granularity: str

    @property
    def expiry(self) -> int:
        return _SECONDS[self.granularity] * self.multiples

    def key_for(self, *identifiers: str) -> str:
        """The same key as limits' ``RateLimitItem.key_for`` (counts survive a switch)."""
        parts = [*map(str, identifiers), str(self.amount), str(self.multiples), self.granularity]
        return "LIMITER/" + "/".join(parts)


@lru_cache(maxsize=64)
def parse_many(spec: str) -> tuple[Limit, ...]:
    """Parse like ``limits.parse_many``; ValueError when the string is not valid."""
    if not (isinstance(spec, str) and _MANY.match(spec)):
        raise ValueError(f"couldn't parse rate limit string '{spec}'")
    limits = []
    for part in _SEPARATORS.split(spec):
        match = _SINGLE.match(part)
        if not match:
            continue
        amount, _per, multiples, unit = match.groups()
        names = [n for n in _SECONDS if unit.lower() in (n, n + "s")]
        if not names:
            raise ValueError(f"no granularity matched for {unit}")
        limits.append(Limit(int(amount), (int(multiples) if multiples else 0) or 1, names[0]))
    return tuple(limits)


class _SQLiteWindows:
    """Moving windows straight on the shared SQLite storage (no ``limits`` import)."""

    parse = staticmethod(parse_many)

    def __init__(self, uri: str):
        self.storage = SQLiteStorage(uri)

    def hit(self, limit: Limit, *identifiers: str) -> bool:
        return self.storage.acquire_entry(limit.key_for(*identifiers), limit.amount, limit.expiry)

    def reset_at(self, limit: Limit, *identifiers: str) -> float:
        start, _count = self.storage.get_moving_window(
            limit.key_for(*identifiers), limit.amount, limit.expiry
        )
        return start + limit.expiry


class _LimitsWindows:
    """``limits``' moving-window limiter over any storage it knows (Redis, memory…)."""

    def __init__(self, uri: str):
        from limits import parse_many as parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.parse = parse
        self.limiter = MovingWindowRateLimiter(storage_from_string(uri))

    def hit(self, item, *identifiers: str) -> bool:
        return self.limiter.hit(item, *identifiers)

    def reset_at(self, item, *identifiers: str) -> float:
        return self.limiter.get_window_stats(item, *identifiers)[0]


def init_app(app) -> None:
    uri = app.config["RATELIMIT_STORAGE_URI"]
    windows = _SQLiteWindows(uri) if uri.startswith(SCHEME + "://") else _LimitsWindows(uri)
    app.extensions["passgate_limiter"] = windows


def check(name: str, key: str | None = None) -> None:
    """Count one hit against limit ``LIMIT_<NAME>``; raise ``Throttled`` when over."""
    app = current_app
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    windows = app.extensions["passgate_limiter"]
    ident = key if key is not None else (request.remote_addr or "-")
    for item in windows.parse(app.config[f"LIMIT_{name.upper()}"]):
        if not windows.hit(item, name, ident):
            raise Throttled(windows.reset_at(item, name, ident) - time.time())
