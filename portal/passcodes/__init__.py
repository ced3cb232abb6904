"""Numeric passcodes (F19, seed 001): a second credential kind beside the password.

- ``policy``: the rules (digits, length, no runs or repeats, nothing personal);
- ``service``: set/change, an administrator's reset, mailing it, the verify check;
- ``apikeys``: the keys another system uses; ``api``: ``POST /api/passcode/verify``;
- ``views`` (the account page), ``admin_views`` (Reset passcode), ``bulk_views``
  (bulk Reset passcodes), ``settings_views`` (settings and API keys); the kind of secret
  ``kind.PASSCODE`` gives the shared screens of a temporary secret their words.
"""

from ..security import csrf
from . import admin_views, bulk_views, settings_views, views  # noqa: F401  (their routes)
from .api import bp as api_bp
from .blueprint import bp


def init_app(app) -> None:
    """Register the pages and the API (key-authenticated, so exempt from CSRF)."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
