"""The account page's forms: each acts only with the current password typed on it (the
step-up for a change of one's recovery channels)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from .. import accounts, messages
from ..forms import current_password_field, required_text_field
from . import service


def address_field(label):
    return required_text_field(
        label,
        messages.lazy("ADDRESS_REQUIRED"),
        254,
        autocomplete="email",
        type="email",
        spellcheck="false",
        autocapitalize="off",
    )


class ReentryForm(FlaskForm):
    current_password = current_password_field()
    action = ""  # what a refused password is audited as

    def password_status(self, user) -> int:
        """200 when the current password is right; else the error status, with the message
        under the field (counted by the sign-in throttle, audited)."""
        error, status = service.check_current_password(
            user, self.current_password.data, self.action
        )
        if error:
            self.current_password.errors.append(error)
        return status


class AddressForm(ReentryForm):
    """A new address (the field named ``address``) and the current password."""

    address = ""  # the address field's name
    kind = ""  # the purpose of the address's confirmation link

    def checked(self, user) -> tuple[str | None, int]:
        """(the clean address, 200), or (None, the error status) with the errors under their
        fields: nothing typed is lost, and a bad address spends no password attempt."""
        if not self.validate_on_submit():
            return None, 422
        field = self[self.address]
        try:
            address = service.new_address(user, field.data)
        except accounts.AccountError as exc:
            field.errors.append(str(exc))
            return None, 422
        status = self.password_status(user)
        return (address if status == 200 else None), status


class EmailChangeForm(AddressForm):
    email = address_field(_l("New email address"))
    address, kind, action = "email", "confirm_email", "email.change_request"


class BackupForm(AddressForm):
    backup_email = address_field(_l("Recovery address"))
    address, kind, action = "backup_email", "confirm_backup", "backup_email.request"


class RemoveBackupForm(ReentryForm):
    action = "backup_email.remove"
