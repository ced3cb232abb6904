"""Labels of the user list (roles, statuses, providers), translated once per request."""

from __future__ import annotations

from flask import g, has_app_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..models import ROLE_LABELS, User

STATUS_LABELS = {
    "active": _l("Active"),
    "locked": _l("Locked"),
    "waiting": _l("Sign-in paused"),
    "disabled": _l("Disabled"),
    "must_change": _l("Must change password"),
    "invited": _l("Invitation pending"),
}
# The list's status filter: every status, plus accounts nobody has signed in with yet.
FILTER_LABELS = {**STATUS_LABELS, "never": _l("Never signed in")}
PROVIDER_LABELS = {"identity": _l("Passgate"), "sso": _l("Directory (SSO)")}


def _text(table: dict, name: str) -> str:
    """The label of ``name`` in the request's language. A list page shows three labels per
    row and Flask-Babel resolves the catalog anew for each (about 15 µs), so each label
    is translated once per request and locale."""
    value = table.get(name)
    if value is None:
        return name
    if not has_app_context():
        return str(value)
    memo = g.setdefault("_passgate_labels", {})
    key = (str(get_locale()), id(value))
    text = memo.get(key)
    if text is None:
        text = memo[key] = str(value)
    return text


def role_label(name: str) -> str:
    return _text(ROLE_LABELS, name)


def status_label(name: str) -> str:
    return _text(STATUS_LABELS, name)


def user_status(user: User) -> str:
    """The list's status: ``User.status``, with a short self-clearing sign-in wait told
    apart from a lock only an administrator or a password reset lifts."""
    status = user.status
    if status == "locked" and not user.hard_locked:
        return "waiting"
    return status


def provider_label(name: str) -> str:
    return _text(PROVIDER_LABELS, name)
