from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired

from ..forms import (
    KEEP_VALUE,
    MAX_INPUT,
    MaxLength,
    confirm_field,
    new_password_field,
    no_control_chars,
)
from ..messages import lazy

PROVIDERS = [("identity", _l("Passgate account")), ("sso", _l("Organisation directory (SSO)"))]


class LoginForm(FlaskForm):
    identifier = StringField(
        _l("Username or email"),
        validators=[
            InputRequired(message=_l("Enter your username or email.")),
            MaxLength(254),
            no_control_chars,
        ],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(message=lazy("PASSWORD_REQUIRED")), MaxLength(MAX_INPUT)],
        render_kw={"autocomplete": "current-password"},
    )
    provider = SelectField(_l("Sign in with"), choices=PROVIDERS, default="identity")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(message=_l("Enter your current password.")),
            MaxLength(MAX_INPUT),
        ],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "current-password"},
    )
    password = new_password_field(_l("New password"))
    confirm = confirm_field(_l("Confirm new password"))


class LogoutForm(FlaskForm):
    pass
