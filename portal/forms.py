"""Form pieces shared by every blueprint."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import InputRequired, Length, ValidationError
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


# Password fields keep what was typed when the form comes back with an error (the page is
# answered with Cache-Control: no-store, like every page): retyping everything because one
# field was wrong is what makes people pick short passwords.
KEEP_VALUE = PasswordInput(hide_value=False)


def new_password_field(label):
    return PasswordField(
        label,
        validators=[InputRequired(message=_l("Enter a password.")), MaxLength(MAX_INPUT)],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "new-password"},
    )


def confirm_field(label):
    return PasswordField(
        label,
        validators=[InputRequired(message=_l("Enter the password again.")), MaxLength(MAX_INPUT)],
        widget=KEEP_VALUE,
        render_kw={"autocomplete": "new-password"},
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
