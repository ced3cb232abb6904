from flask import Blueprint

bp = Blueprint("recovery", __name__, url_prefix="/password")

from . import views  # noqa: F401
