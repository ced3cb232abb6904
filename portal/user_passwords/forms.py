"""Forms of the secret actions: the reason of a reset (a password or a passcode), an
admin-typed password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Optional

from ..forms import (
    MaxLength,
    attach_password_errors,
    confirm_field,
    new_password_field,
    password_checklist,
)
from ..models import User
from . import service


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

    def save(self, actor: User, user: User) -> bool:
        """Set the typed password if the form, the policy and then the directory accept
        it; otherwise False, with their errors under the fields."""
        if not self.validate_on_submit():
            return False
        errors = service.try_set_password(
            actor, user, self.password.data, self.confirm.data, bool(self.must_change.data)
        )
        attach_password_errors(self, errors)
        return not errors

    def checklist(self, user: User):
        """The policy checklist for what was typed (no tick left from an earlier state)."""
        return password_checklist(user, self.password.data, self.confirm.data)
