from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from .. import messages
from ..forms import KEEP_VALUE, MAX_INPUT, MaxLength, no_control_chars


def current_password_field():
    return PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(message=_l("Enter your current password.")),
            MaxLength(MAX_INPUT),
        ],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "current-password"},
    )


def address_field(label):
    return StringField(
        label,
        validators=[
            InputRequired(message=messages.lazy("ADDRESS_REQUIRED")),
            MaxLength(254),
            no_control_chars,
        ],
        render_kw={
            "autocomplete": "email",
            "type": "email",
            "spellcheck": "false",
            "autocapitalize": "off",
        },
    )


class EmailChangeForm(FlaskForm):
    email = address_field(_l("New email address"))
    current_password = current_password_field()


class BackupForm(FlaskForm):
    backup_email = address_field(_l("Recovery address"))
    current_password = current_password_field()


class RemoveBackupForm(FlaskForm):
    current_password = current_password_field()


class ActionForm(FlaskForm):
    """A button that acts (confirm an address, "this wasn't me"): CSRF only."""
