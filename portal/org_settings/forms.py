"""The organisation settings form: every editable setting, validated on the server.

Ranges follow NIST SP 800-63B-4 and the security checklist's recommended defaults:
mailed links live at most 24 h, the hard lock comes at no more than 100 failures, and a
minimum length below 15 draws a warning (NIST requires 15 for single-factor passwords).
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, StopValidation, ValidationError
from wtforms.widgets import TextInput

from ..forms import MaxLength, required_text_field
from ..messages import lazy

END_OF_DAY = "end-of-day"

# Offered in the time-zone list; any other IANA name can be typed.
COMMON_ZONES = (
    "UTC",
    "Europe/Paris",
    "Europe/London",
    "Europe/Brussels",
    "Europe/Luxembourg",
    "Europe/Zurich",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Lisbon",
    "Europe/Dublin",
    "America/Montreal",
    "America/Toronto",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "Africa/Casablanca",
    "Africa/Dakar",
    "Africa/Abidjan",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
)

_DIGITS = re.compile(r"[0-9]{1,9}")


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def is_time_zone(name: str) -> bool:
    """An IANA zone name that zoneinfo can load (no paths, no made-up names)."""
    if name not in known_zones():
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


class WholeNumberField(IntegerField):
    """An integer field with our own translated message; the typed text is kept on error.

    A text input (``inputmode=numeric``) rather than ``type=number``, so that what was typed
    is shown back exactly as typed.
    """

    widget = TextInput()

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip()
        if raw == "":
            self.data = None
            return
        if not _DIGITS.fullmatch(raw):
            self.data = None
            raise ValueError(lazy("WHOLE_NUMBER"))
        self.data = int(raw)


def between(low: int, high: int):
    """Required whole number within [low, high], with a message that gives the range."""

    def check(form, field):
        if field.errors:  # not a number: already said so
            raise StopValidation()
        if field.data is None or not low <= field.data <= high:
            raise ValidationError(lazy("NUMBER_RANGE", low=low, high=high))

    return check


def number_field(label, low: int, high: int) -> WholeNumberField:
    """A required whole number within [low, high]."""
    return WholeNumberField(label, validators=[between(low, high)])


def lifetime_fields(label, minutes_label) -> tuple[RadioField, WholeNumberField]:
    """How long a mailed link lives: a number of minutes (the second field), or until the
    end of its day."""
    mode = RadioField(
        label,
        default="minutes",
        choices=[
            ("minutes", _l("A number of minutes")),
            (END_OF_DAY, _l("Until midnight of the day it was sent")),
        ],
    )
    return mode, WholeNumberField(minutes_label)


class SettingsForm(FlaskForm):
    org_name = required_text_field(
        _l("Organisation name"), _l("Enter the organisation's name."), 64
    )
    timezone = StringField(
        _l("Time zone"),
        validators=[InputRequired(message=_l("Enter a time zone.")), MaxLength(64)],
        render_kw={"list": "timezones", "autocomplete": "off", "spellcheck": "false"},
    )
    default_language = SelectField(
        _l("Default language"), choices=[("en", "English"), ("fr", "Français")]
    )

    password_min_length = number_field(_l("Minimum length"), 6, 128)
    password_max_length = number_field(_l("Maximum length"), 6, 128)
    password_require_upper = BooleanField(_l("At least one uppercase letter"))
    password_require_lower = BooleanField(_l("At least one lowercase letter"))
    password_require_digit = BooleanField(_l("At least one digit"))
    password_require_symbol = BooleanField(_l("At least one symbol"))
    password_history = number_field(_l("Previous passwords that cannot be reused"), 0, 24)
    password_max_age_days = number_field(_l("Maximum password age (days, 0 = never)"), 0, 3650)

    reset_link_mode, reset_link_minutes = lifetime_fields(
        _l("Recovery link lifetime"), _l("Minutes (recovery link)")
    )
    invite_link_mode, invite_link_minutes = lifetime_fields(
        _l("Invitation link lifetime"), _l("Minutes (invitation link)")
    )
    invite_reminder_hours = number_field(
        _l("Invitation reminder (hours before it expires, 0 = none)"), 0, 168
    )
    temp_password_ttl_hours = number_field(_l("Temporary password lifetime (hours)"), 1, 168)

    lockout_free_failures = number_field(_l("Failed sign-ins before a wait"), 1, 20)
    lockout_base_seconds = number_field(_l("First wait (seconds)"), 1, 3600)
    lockout_max_seconds = number_field(_l("Longest wait (seconds)"), 1, 86400)
    lockout_hard_limit = number_field(_l("Failed sign-ins before the account is locked"), 5, 100)
    reauth_minutes = number_field(
        _l("Re-enter password for sensitive actions after (minutes)"), 0, 60
    )
    admin_alerts = BooleanField(
        _l(
            "Email the other administrators when an administrator's "
            "password is reset or set, or their account is locked"
        )
    )

    def validate_timezone(self, field):
        if field.data and not is_time_zone(field.data.strip()):
            raise ValidationError(_l("Unknown time zone. Use a name such as Europe/Paris or UTC."))

    def validate_password_max_length(self, field):
        low = self.password_min_length.data
        if _in(field.data, 6, 128) and _in(low, 6, 128) and field.data < low:
            raise ValidationError(_l("The maximum must not be smaller than the minimum."))

    def validate_reset_link_minutes(self, field):
        _link_minutes(
            self.reset_link_mode.data,
            field,
            5,
            1440,
            _l("A recovery link lives at most 24 hours: enter a number of minutes from 5 to 1440."),
        )

    def validate_invite_link_minutes(self, field):
        _link_minutes(
            self.invite_link_mode.data,
            field,
            5,
            10080,
            _l(
                "An invitation link lives at most 7 days: enter a number of minutes from 5 to "
                "10080."
            ),
        )

    def validate_lockout_max_seconds(self, field):
        base = self.lockout_base_seconds.data
        if _in(field.data, 1, 86400) and _in(base, 1, 3600) and field.data < base:
            raise ValidationError(_l("The longest wait must not be shorter than the first wait."))

    def validate_lockout_hard_limit(self, field):
        free = self.lockout_free_failures.data
        if _in(field.data, 5, 100) and _in(free, 1, 20) and field.data <= free:
            raise ValidationError(_l("The lock must come after the free failed sign-ins."))


def _in(value: int | None, low: int, high: int) -> bool:
    """A valid number in range (cross-field checks stay quiet until both sides are valid)."""
    return value is not None and low <= value <= high


def _link_minutes(mode: str, field, low: int, high: int, message) -> None:
    """Minutes are needed only when the lifetime is a number of minutes (bounded, with a
    message that says the bound: issue 11, finding 7)."""
    if mode == END_OF_DAY:
        field.errors[:] = []  # whatever is in the unused box does not matter
        raise StopValidation()
    if field.errors:  # not a number: already said so
        raise StopValidation()
    if field.data is None or not low <= field.data <= high:
        raise ValidationError(message)
