"""The passcode pages' blueprint (the API has its own, in ``api``); the templates live in
this package's ``templates/passcodes/`` folder."""

from flask import Blueprint

bp = Blueprint("passcodes", __name__, template_folder="templates")
