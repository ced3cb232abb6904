"""Form pieces shared by every blueprint: the field factories (one shape per kind of
input), the new-password form and its checklist, the CSRF-only form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import PasswordInput

from . import accounts, policy
from .messages import lazy

MAX_INPUT = 1024  # far above any policy maximum; bounds the work done on garbage


class MaxLength(Length):
    """``Length(max=…)`` that never renders ``maxlength``: a browser silently cuts pasted
    text at that length (a 500-character name became 64 characters and was saved), so
    the server says what is too long instead (422, nothing typed lost)."""

    def __init__(self, max: int, message=None):
        super().__init__(max=max, message=message or lazy("TOO_LONG"))
        self.field_flags = {}


def no_control_chars(form, field):
    """Identifiers and names: refuse CR/LF and other control characters (header injection)."""
    if field.data and any(not ch.isprintable() for ch in field.data):
        raise ValidationError(lazy("CONTROL_CHARS"))


def required_text_field(label, message, max_length: int, *, strip=False, **render_kw):
    """A required one-line name, identifier or address: bounded, no control characters.
    ``strip``: blank (spaces only) counts as missing. ``render_kw``: the input's attributes."""
    required = (DataRequired if strip else InputRequired)(message=message)
    return StringField(
        label,
        validators=[required, MaxLength(max_length), no_control_chars],
        render_kw=render_kw or None,
    )


def identifier_field():
    """Username or email: how an account is named at sign-in and in a recovery request."""
    return required_text_field(
        _l("Username or email"),
        _l("Enter your username or email."),
        254,
        autocomplete="username",
        autofocus=True,
    )


# Password fields keep what was typed when the form comes back with an error (the page is
# answered with Cache-Control: no-store, like every page): retyping everything because one
# field was wrong is what makes people pick short passwords.
KEEP_VALUE = PasswordInput(hide_value=False)


def secret_field(label, message, *, max_length: int = MAX_INPUT, keep=True, **render_kw):
    """A required password-type input (``keep``: shown back after an error)."""
    return PasswordField(
        label,
        validators=[InputRequired(message=message), MaxLength(max_length)],
        widget=KEEP_VALUE if keep else PasswordInput(),
        render_kw=render_kw,
    )


def new_password_field(label):
    return secret_field(label, _l("Enter a password."), autocomplete="new-password")


def confirm_field(label):
    return secret_field(label, _l("Enter the password again."), autocomplete="new-password")


def current_password_field():
    """The current password, typed again before a change of one's own account."""
    return secret_field(
        _l("Current password"),
        _l("Enter your current password."),
        autocomplete="current-password",
    )


def password_checklist(user, password: str | None, confirm: str | None):
    """The policy checklist for what is typed now (live, and on a form sent back with an
    error, so no tick is left from an earlier state)."""
    evaluation = policy.evaluate(
        password or "",
        accounts.current_policy(),
        context_words=accounts.context_words(user),
        confirm=confirm or None,
    )
    return evaluation if confirm else policy.with_pending_match(evaluation)


def attach_password_errors(form, errors: list[str]) -> None:
    """Policy errors under the new password; a mismatch under the confirmation field."""
    mismatch = str(policy.mismatch_message())
    form.password.errors = [*form.password.errors, *[e for e in errors if e != mismatch]]
    if mismatch in errors:
        form.confirm.errors = [*form.confirm.errors, mismatch]


class EmptyForm(FlaskForm):
    """CSRF only (row actions, plain POST buttons)."""


class NewPasswordForm(FlaskForm):
    """A new password and its confirmation (recovery, the change of one's own)."""

    password = new_password_field(_l("New password"))
    confirm = confirm_field(_l("Confirm new password"))

    def sent_back(self, user, errors: list[str]):
        """The form refused: ``errors`` under their fields (see ``attach_password_errors``),
        and the checklist of what is typed now, for the page that shows it again."""
        attach_password_errors(self, errors)
        return password_checklist(user, self.password.data, self.confirm.data)
