from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField

from ..forms import (
    NewPasswordForm,
    current_password_field,
    identifier_field,
    password_checklist,
    secret_field,
)
from ..messages import lazy
from .service import directory_enabled

PROVIDERS = [("identity", _l("Passgate account")), ("sso", _l("Organisation directory (SSO)"))]


class AccountNameForm(FlaskForm):
    """Names an account: username or email, and which kind of account when a directory is
    configured (otherwise the choice is not offered: a Passgate account)."""

    identifier = identifier_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not directory_enabled():
            del self.provider

    def account(self) -> tuple[str, str]:
        """(identifier, provider) as typed and chosen."""
        provider = self.provider.data if "provider" in self else "identity"
        return self.identifier.data.strip(), provider


class LoginForm(AccountNameForm):
    password = secret_field(
        _l("Password"), lazy("PASSWORD_REQUIRED"), keep=False, autocomplete="current-password"
    )
    provider = SelectField(_l("Sign in with"), choices=PROVIDERS, default="identity")


class ChangePasswordForm(NewPasswordForm):
    current_password = current_password_field()

    def refused(self, user, field: str, messages: list[str]):
        """``messages`` under the current password, or under the new one and its
        confirmation (``field``); the checklist of what is typed now."""
        if field == "current_password":
            self.current_password.errors.extend(messages)
            return password_checklist(user, self.password.data, self.confirm.data)
        return self.sent_back(user, messages)
