"""Numeric passcodes (F19, seed 001): a second credential kind beside the password.

- ``policy``: the rules (digits, length, no runs or repeats, nothing personal);
- ``service``: set/change, an administrator's reset, mailing it, the verify check;
- ``apikeys``: the keys another system uses; ``api``: ``POST /api/passcode/verify``;
- ``views`` (the account page), ``admin_views`` (Reset passcode), ``bulk`` and
  ``bulk_views`` (bulk Reset passcodes), ``settings_views`` (settings and API keys).
"""

from flask import Blueprint

from ..security import csrf

bp = Blueprint("passcodes", __name__)

from . import admin_views, bulk_views, settings_views, views  # noqa: E402,F401
from .api import bp as api_bp  # noqa: E402


def init_app(app) -> None:
    """Register the pages and the API (key-authenticated, so exempt from CSRF)."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
