from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# users: list, edit, reset, bulk, import/export; audit_views: audit log; settings_views: settings
from . import views  # noqa: E402,F401
from . import audit_views, settings_views  # noqa: E402,F401
