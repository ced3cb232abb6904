"""Template globals and filters."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import request
from flask_babel import format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup

from . import messages, settings
from .access import has_permission
from .policy import rules


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A stored (naive UTC) datetime, in the organisation's time zone and the user's language."""
    if value is None:
        return "—"
    tz = settings.timezone()
    local = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    return format_datetime(local.replace(tzinfo=None), fmt) + " " + local.strftime("%Z")


def lang_url(lang: str) -> str:
    """The current URL with ``lang`` set (for the language switcher)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [lang]
    return request.path + "?" + urlencode(args, doseq=True)


def init_app(app) -> None:
    app.jinja_env.filters["localdt"] = local_datetime
    app.jinja_env.globals["lang_url"] = lang_url
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["policy_rules"] = _policy_rules
    app.jinja_env.globals["message"] = messages.text  # a message by key (portal/messages.py)

    @app.context_processor
    def _globals():
        values = settings.current()
        return {
            "org_name": values["ORG_NAME"],
            "current_lang": str(get_locale() or values["DEFAULT_LANGUAGE"]),
            "languages": [("en", "English"), ("fr", "Français")],
            "can": (lambda perm: getattr(current_user, "is_authenticated", False) and _has(perm)),
            "nbsp": Markup("&nbsp;"),
        }


def _policy_rules(policy):
    return rules(policy, confirm=True)  # every form showing the rules has a Confirm field


def _has(perm: str) -> bool:
    return has_permission(current_user, perm)
