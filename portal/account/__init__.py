"""Account care (issue 10): own email change and backup recovery address, each confirmed
by a mailed link; "this wasn't me" links from recovery mails and change notices."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from . import link_views, views  # noqa: E402,F401
