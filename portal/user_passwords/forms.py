"""Forms of the password actions: the reason of a Reset & Unlock, an admin-typed password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Optional

from ..forms import MaxLength, confirm_field, new_password_field


class ResetForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (optional, kept in the audit log)"),
        validators=[MaxLength(500), Optional()],
        render_kw={"rows": 2},
    )


class SetPasswordForm(FlaskForm):
    password = new_password_field(_l("New password"))
    confirm = confirm_field(_l("Confirm new password"))
    must_change = BooleanField(_l("Must change at next sign-in"), default=True)
