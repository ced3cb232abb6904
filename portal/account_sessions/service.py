"""Listing and ending the sessions of an account.

A session is shown by a *handle*: a digest of its row's id hash, so a page never carries
anything that could be turned back into the cookie, and a handle means nothing outside the
account it belongs to. The user agent is reduced to a coarse browser and system name.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import audit, sessions, settings
from ..db import write
from ..models import User, UserSession, utcnow

# (pattern, name) in order: the first match wins (Edge and Opera also say "Chrome", Chrome
# also says "Safari").
BROWSERS = (
    (r"Edg(?:e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"SamsungBrowser/", "Samsung Internet"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/", "Chrome"),
    (r"Chromium/", "Chromium"),
    (r"Safari/", "Safari"),
    (r"curl/", "curl"),
)
SYSTEMS = (
    (r"Windows", "Windows"),
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Android", "Android"),
    (r"CrOS", "ChromeOS"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"Linux|X11", "Linux"),
)
_BROWSERS = [(re.compile(p), name) for p, name in BROWSERS]
_SYSTEMS = [(re.compile(p), name) for p, name in SYSTEMS]


def describe(user_agent: str) -> tuple[str | None, str | None]:
    """(browser, system) named coarsely from a User-Agent header; None when unknown."""
    ua = user_agent or ""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(ua)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(ua)), None)
    return browser, system


def handle_of(id_hash: str) -> str:
    return hashlib.sha256(b"passgate session handle:" + id_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SessionView:
    handle: str
    browser: str | None
    system: str | None
    ip: str
    signed_in: datetime
    last_seen: datetime
    current: bool


def _live(user: User):
    """The user's sessions still within the idle and absolute limits."""
    now = utcnow()
    idle = timedelta(minutes=settings.get("SESSION_IDLE_MINUTES"))
    absolute = timedelta(hours=settings.get("SESSION_ABSOLUTE_HOURS"))
    return UserSession.select().where(
        (UserSession.user == user.id)
        & (UserSession.last_seen_at >= now - idle)
        & (UserSession.created_at >= now - absolute)
    )


def _current_hash() -> str | None:
    row = sessions.current_row()
    return row.id_hash if row is not None else None


def list_for(user: User) -> list[SessionView]:
    """Active sessions of ``user``: this browser's first, then the most recently seen."""
    mine = _current_hash()
    views = []
    for row in _live(user):
        browser, system = describe(row.user_agent)
        views.append(
            SessionView(
                handle_of(row.id_hash),
                browser,
                system,
                row.ip,
                row.created_at,
                row.last_seen_at,
                row.id_hash == mine,
            )
        )
    views.sort(key=lambda v: (not v.current, -v.last_seen.timestamp()))
    return views


def _find(user: User, handle: str) -> UserSession | None:
    for row in _live(user):
        if handle_of(row.id_hash) == handle:
            return row
    return None


def end_one(actor: User, user: User, handle: str) -> bool | None:
    """End one session of ``user``. None: no such session (already ended, or not theirs);
    False: it is the caller's own current session (signing out does that)."""
    row = _find(user, handle)
    if row is None:
        return None
    if row.id_hash == _current_hash():
        return False
    browser, system = describe(row.user_agent)
    with write():
        ended = UserSession.delete().where(UserSession.id_hash == row.id_hash).execute()
        if ended:
            action = "session.end" if actor.id == user.id else "admin.end_session"
            audit.record(
                action,
                actor=actor,
                target=user,
                detail={"session_ip": row.ip, "browser": browser or "", "system": system or ""},
            )
    return bool(ended) or None


def end_others(user: User) -> int:
    """End every session of ``user`` but this browser's; returns how many ended."""
    mine = _current_hash()
    with write():
        query = UserSession.delete().where(UserSession.user == user.id)
        if mine:
            query = query.where(UserSession.id_hash != mine)
        count = query.execute()
        audit.record("session.end_others", actor=user, target=user, detail={"sessions": count})
    return count
