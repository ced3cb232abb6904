"""Organisation settings: between the form and ``portal.settings``.

Values are stored with the types of the configuration defaults (int, bool, str; link
lifetimes as a string of minutes or ``"end-of-day"``), so every reader of
``settings.current()`` sees the same thing whether a value comes from the configuration
or from the ``setting`` table. Saving takes effect on the next read, i.e. at once.
"""

from __future__ import annotations

from .. import audit, settings
from ..db import write
from ..messages import text
from ..models import User
from .forms import END_OF_DAY, SettingsForm

# form field -> setting key (links are handled separately: mode + minutes)
FIELDS = {
    "org_name": "ORG_NAME",
    "timezone": "TIMEZONE",
    "default_language": "DEFAULT_LANGUAGE",
    "password_min_length": "PASSWORD_MIN_LENGTH",
    "password_max_length": "PASSWORD_MAX_LENGTH",
    "password_require_upper": "PASSWORD_REQUIRE_UPPER",
    "password_require_lower": "PASSWORD_REQUIRE_LOWER",
    "password_require_digit": "PASSWORD_REQUIRE_DIGIT",
    "password_require_symbol": "PASSWORD_REQUIRE_SYMBOL",
    "password_history": "PASSWORD_HISTORY",
    "password_max_age_days": "PASSWORD_MAX_AGE_DAYS",
    "temp_password_ttl_hours": "TEMP_PASSWORD_TTL_HOURS",
    "lockout_free_failures": "LOCKOUT_FREE_FAILURES",
    "lockout_base_seconds": "LOCKOUT_BASE_SECONDS",
    "lockout_max_seconds": "LOCKOUT_MAX_SECONDS",
    "lockout_hard_limit": "LOCKOUT_HARD_LIMIT",
    "reauth_minutes": "REAUTH_MINUTES",
    "admin_alerts": "ADMIN_ALERTS",
    "invite_reminder_hours": "INVITE_REMINDER_HOURS",
}
LINKS = {"reset_link": "RESET_LINK_TTL", "invite_link": "INVITE_LINK_TTL"}
BOOLEAN_KEYS = {k for k in FIELDS.values() if "REQUIRE" in k} | {"ADMIN_ALERTS"}
TEXT_KEYS = {"ORG_NAME", "TIMEZONE", "DEFAULT_LANGUAGE", "RESET_LINK_TTL", "INVITE_LINK_TTL"}
DEFAULT_LINK_MINUTES = {"reset_link": 30, "invite_link": 4320}


def typed(key: str, value):
    """A setting value in its canonical type (configuration values may be strings)."""
    if key in BOOLEAN_KEYS:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if key in TEXT_KEYS:
        return str(value)
    return int(value)


def initial(values: dict) -> dict:
    """The form's data for the effective settings ``values``."""
    data = {name: typed(key, values[key]) for name, key in FIELDS.items()}
    for name, key in LINKS.items():
        raw = str(values[key])
        if raw == END_OF_DAY:
            data[f"{name}_mode"] = END_OF_DAY
            data[f"{name}_minutes"] = DEFAULT_LINK_MINUTES[name]
        else:
            data[f"{name}_mode"] = "minutes"
            data[f"{name}_minutes"] = int(raw)
    return data


def submitted(form: SettingsForm) -> dict:
    """The setting values of a validated form."""
    values = {key: typed(key, getattr(form, name).data) for name, key in FIELDS.items()}
    values["ORG_NAME"] = values["ORG_NAME"].strip()
    values["TIMEZONE"] = values["TIMEZONE"].strip()
    for name, key in LINKS.items():
        if getattr(form, f"{name}_mode").data == END_OF_DAY:
            values[key] = END_OF_DAY
        else:
            values[key] = str(getattr(form, f"{name}_minutes").data)
    return values


def changed(old: dict, new: dict) -> dict[str, list]:
    """{key: [old, new]} for the keys whose value differs."""
    return {
        key: [typed(key, old[key]), value]
        for key, value in new.items()
        if typed(key, old[key]) != value
    }


def save(actor: User, new: dict) -> dict[str, list]:
    """Store what changed and audit it as ``settings.update``; returns the changes."""
    changes = changed(settings.current(), new)
    if changes:
        with write():
            settings.save({key: pair[1] for key, pair in changes.items()})
            audit.record("settings.update", actor=actor, detail=changes)
    return changes


def warnings(min_length: int | None, max_length: int | None) -> dict[str, str]:
    """Allowed but weaker than recommended: field name -> advice."""
    out = {}
    if min_length is not None and min_length < 15:
        out["password_min_length"] = text("WEAK_MIN_LENGTH")
    if max_length is not None and max_length < 64:
        out["password_max_length"] = text("WEAK_MAX_LENGTH")
    return out
