from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# users: list, edit, reset, bulk, import/export; audit_views: audit log; settings_views: settings
from . import (  # noqa: F401
    audit_views,
    overview,
    settings_views,
    teams,
    views,
)
