"""Passcode forms: one's own passcode, the organisation's passcode settings, a new API key."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired

from ..forms import KEEP_VALUE, MAX_INPUT, MaxLength, no_control_chars
from ..org_settings.forms import WholeNumberField, between
from . import policy


def _passcode_field(label, message):
    return PasswordField(
        label,
        validators=[InputRequired(message=message), MaxLength(64)],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )


class PasscodeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(message=_l("Enter your current password.")),
            MaxLength(MAX_INPUT),
        ],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "current-password"},
    )
    passcode = _passcode_field(_l("New passcode"), _l("Enter a passcode."))
    confirm = _passcode_field(_l("Confirm new passcode"), _l("Enter the passcode again."))


class PasscodeSettingsForm(FlaskForm):
    passcodes_enabled = BooleanField(_l("Users may have a numeric passcode"))
    passcode_length = WholeNumberField(
        _l("Passcode length (digits)"), validators=[between(policy.MIN_LENGTH, policy.MAX_LENGTH)]
    )


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name of the system that will use the key"),
        validators=[
            DataRequired(message=_l("Enter a name for the key.")),
            MaxLength(64),
            no_control_chars,
        ],
        render_kw={"autocomplete": "off"},
    )
