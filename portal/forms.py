"""Form pieces shared by every blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import InputRequired, Length, ValidationError

MAX_INPUT = 1024  # far above any policy maximum; bounds the work done on garbage


def no_control_chars(form, field):
    """Identifiers and names: refuse CR/LF and other control characters (header injection)."""
    if field.data and any(not ch.isprintable() for ch in field.data):
        raise ValidationError(_l("Remove the control characters from this field."))


def new_password_field(label):
    return PasswordField(label, validators=[InputRequired(message=_l("Enter a password.")),
                                            Length(max=MAX_INPUT)],
                         render_kw={"autocomplete": "new-password"})


def confirm_field(label):
    return PasswordField(label, validators=[InputRequired(message=_l("Enter the password again.")),
                                            Length(max=MAX_INPUT)],
                         render_kw={"autocomplete": "new-password"})
