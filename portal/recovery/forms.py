from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired

from ..auth.forms import PROVIDERS
from ..forms import MaxLength, confirm_field, new_password_field, no_control_chars


class ForgotForm(FlaskForm):
    identifier = StringField(
        _l("Username or email"),
        validators=[
            InputRequired(message=_l("Enter your username or email.")),
            MaxLength(254),
            no_control_chars,
        ],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    provider = SelectField(_l("Account type"), choices=PROVIDERS, default="identity")


class ResetForm(FlaskForm):
    password = new_password_field(_l("New password"))
    confirm = confirm_field(_l("Confirm new password"))
