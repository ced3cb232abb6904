"""Effective organisation settings: configuration defaults overlaid by the ``setting`` table.

Read once per request (cached on ``flask.g``) so a change made on the settings screen is
used immediately by every form and every instance.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g, has_request_context

from .config import LINK_LIMITS
from .db import database
from .models import Setting, utcnow

# Keys an administrator can change from the settings screen.
EDITABLE = (
    "ORG_NAME",
    "TIMEZONE",
    "DEFAULT_LANGUAGE",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_REQUIRE_UPPER",
    "PASSWORD_REQUIRE_LOWER",
    "PASSWORD_REQUIRE_DIGIT",
    "PASSWORD_REQUIRE_SYMBOL",
    "PASSWORD_HISTORY",
    "PASSWORD_MAX_AGE_DAYS",
    "TEMP_PASSWORD_TTL_HOURS",
    "RESET_LINK_TTL",
    "INVITE_LINK_TTL",
    "LOCKOUT_FREE_FAILURES",
    "LOCKOUT_BASE_SECONDS",
    "LOCKOUT_MAX_SECONDS",
    "LOCKOUT_HARD_LIMIT",
    "REAUTH_MINUTES",
    "ADMIN_ALERTS",
    "INVITE_REMINDER_HOURS",
    "PASSCODES_ENABLED",
    "PASSCODE_LENGTH",
)


# The table is still read on every request (so a change made by any process or instance
# is used at once), but with a prepared statement instead of a peewee query (building the
# SQL cost about 0.5 ms a page), and the JSON of a given set of rows is decoded once.
_SELECT = 'SELECT "key", "value" FROM "setting"'
_decoded: dict[tuple, dict] = {}


def _stored() -> dict:
    """The rows of the ``setting`` table, decoded ({key: value}); do not modify."""
    rows = tuple(tuple(row) for row in database.execute_sql(_SELECT).fetchall())
    decoded = _decoded.get(rows)
    if decoded is None:
        decoded = {key: json.loads(value) for key, value in rows}
        if len(_decoded) >= 16:  # a few recent versions are enough
            _decoded.clear()
        _decoded[rows] = decoded
    return decoded


def current() -> dict:
    """The effective settings as a dict keyed like the configuration."""
    request_bound = has_request_context()
    if request_bound and "passgate_settings" in g:
        return g.passgate_settings
    config = current_app.config
    values = {key: config[key] for key in EDITABLE}
    for key, value in _stored().items():
        if key in values:
            values[key] = value
    if request_bound:
        g.passgate_settings = values
    return values


_MISSING = object()


def get(key: str, default=_MISSING):
    """The one way to read a setting: the organisation's value (stored from the settings
    screen) for the keys an administrator may change, otherwise the configuration
    (defaults → ``instance/passgate.cfg`` → ``PASSGATE_*``)."""
    if key in EDITABLE:
        return current()[key]
    if default is _MISSING:
        return current_app.config[key]
    return current_app.config.get(key, default)


def save(changes: dict) -> None:
    """Store changed settings (validated by the caller)."""
    for key, value in changes.items():
        if key not in EDITABLE:
            raise KeyError(key)
        (
            Setting.insert(key=key, value=json.dumps(value), updated_at=utcnow())
            .on_conflict(
                conflict_target=[Setting.key],
                update={Setting.value: json.dumps(value), Setting.updated_at: utcnow()},
            )
            .execute()
        )
    if has_request_context():
        g.pop("passgate_settings", None)


def timezone(values: dict | None = None) -> ZoneInfo:
    name = (values or current())["TIMEZONE"]
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def link_expiry(kind: str, now: datetime | None = None) -> datetime:
    """Expiry (naive UTC) of a mailed link of ``kind`` ("reset" or "invite").

    The setting is a number of minutes or ``end-of-day``: midnight at the end of the day
    the link was sent, in the organisation's time zone (CPOMS behaviour).
    """
    values = current()
    key = "RESET_LINK_TTL" if kind == "reset" else "INVITE_LINK_TTL"
    raw = str(values[key])
    now = now or utcnow()
    if raw == "end-of-day":
        tz = timezone(values)
        local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
        return midnight.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    low, high, _words = LINK_LIMITS[key]
    try:
        minutes = int(raw)
    except ValueError:
        minutes = low
    # Whatever was stored (an older version, a hand edit), never beyond the bound.
    return now + timedelta(minutes=min(max(minutes, low), high))


def temp_password_expiry(now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(hours=int(current()["TEMP_PASSWORD_TTL_HOURS"]))
