"""Passcode forms: one's own passcode, the organisation's passcode settings, a new API key."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..forms import current_password_field, required_text_field, secret_field
from ..org_settings.forms import number_field
from . import policy


def _passcode_field(label, message):
    return secret_field(
        label, message, max_length=64, autocomplete="off", inputmode="numeric", spellcheck="false"
    )


class PasscodeForm(FlaskForm):
    current_password = current_password_field()
    passcode = _passcode_field(_l("New passcode"), _l("Enter a passcode."))
    confirm = _passcode_field(_l("Confirm new passcode"), _l("Enter the passcode again."))


class PasscodeSettingsForm(FlaskForm):
    passcodes_enabled = BooleanField(_l("Users may have a numeric passcode"))
    passcode_length = number_field(
        _l("Passcode length (digits)"), policy.MIN_LENGTH, policy.MAX_LENGTH
    )


class ApiKeyForm(FlaskForm):
    name = required_text_field(
        _l("Name of the system that will use the key"),
        _l("Enter a name for the key."),
        64,
        strip=True,
        autocomplete="off",
    )
