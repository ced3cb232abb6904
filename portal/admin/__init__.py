"""The /admin area: one blueprint, so every endpoint keeps its ``admin.*`` name.

Each feature is a package of its own that adds its views to this blueprint when it is
imported (``portal.create_app`` imports them) and keeps its templates in its own
``templates/admin/`` folder, which this blueprint's template loader searches:

- ``users``: the user list (search) and one user: detail, add, edit, row actions
- ``user_passwords``: Reset & Unlock, emailing a temporary password, admin-typed passwords
- ``bulk``: actions on many selected users (jobs, progress, once-only results)
- ``import_export``: the CSV report of the list and the CSV import
- ``teams``: teams and the managers who look after them
- ``overview``: counts and 30 days of activity
- ``audit_log``: the audit log screen and its CSV export
- ``org_settings``: the organisation settings screen
- ``stepup``: re-entering one's password before a sensitive action
"""

from __future__ import annotations

import os

from flask import Blueprint
from jinja2 import ChoiceLoader, FileSystemLoader

FEATURES = (
    "users",
    "user_passwords",
    "bulk",
    "import_export",
    "teams",
    "overview",
    "audit_log",
    "org_settings",
    "stepup",
)
PORTAL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.jinja_loader = ChoiceLoader(
    [FileSystemLoader(os.path.join(PORTAL, name, "templates")) for name in FEATURES]
)
