"""Usernames and email addresses: what a new or renamed account may be called, and the
one check that no other account already answers to it."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from .messages import text
from .models import User, fold

USERNAME_MAX = 64


class AccountError(ValueError):
    """A user-facing validation error on account data; ``field`` names the input."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def clean_username(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise AccountError("username", _("Enter a username."))
    if len(value) > USERNAME_MAX:
        raise AccountError("username", _("Use at most %(num)d characters.", num=USERNAME_MAX))
    if any(not ch.isprintable() or ch.isspace() for ch in value) or "@" in value:
        raise AccountError(
            "username", _("A username cannot contain spaces, @ or control characters.")
        )
    return value


# --- confusable usernames (issue 11, finding 10; UTS #39) -------------------------------------
#
# Two rules keep a new username from passing for an existing one:
# 1. a safe set (UTS #39 "highly restrictive", Latin only): letters a-z with or without
#    accents, digits and . _ -, so no Cyrillic "а" or Greek "α" beside a Latin "a";
# 2. a skeleton (UTS #39 section 4, with the confusables that remain inside that set:
#    I/1 -> l, O/0 -> o, rn -> m, vv -> w, cl -> d), compared with the stored skeletons of
#    every account: "a1ice" and "AIice" are refused beside "alice".

USERNAME_PUNCTUATION = "._-"
_SKELETON_CHARS = str.maketrans({"I": "l", "1": "l", "O": "o", "0": "o"})
_SKELETON_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def _safe_char(ch: str) -> bool:
    if ch in USERNAME_PUNCTUATION or ("0" <= ch <= "9"):
        return True
    base = unicodedata.normalize("NFD", ch)
    return (
        base[0].isascii()
        and base[0].isalpha()
        and all(unicodedata.category(c) == "Mn" for c in base[1:])
    )


def username_skeleton(username: str) -> str:
    """The UTS #39 skeleton of a username (within the safe set), case-insensitive."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", username))
    text = text.translate(_SKELETON_CHARS).casefold()
    for sequence, replacement in _SKELETON_SEQUENCES:
        text = text.replace(sequence, replacement)
    return unicodedata.normalize("NFC", text)[:128]


def check_new_username(username: str, exclude_id: int | None = None) -> None:
    """Refuse a new (or renamed) username outside the safe set or confusable with another."""
    if not all(_safe_char(ch) for ch in username):
        raise AccountError(
            "username",
            _(
                "Use only letters (a to z, with or without accents), "
                "digits, and the characters . _ - in a username."
            ),
        )
    query = User.select(User.id).where(User.username_skeleton == username_skeleton(username))
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if query.exists():
        raise AccountError("username", text("USERNAME_CONFUSABLE"))


def clean_email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        # No SMTPUTF8: a non-ASCII mailbox name ("inès@…") cannot be delivered by most
        # mail servers (nor by Flask-Mail), so every mail to it would fail. An
        # internationalised domain is kept in its ASCII (punycode) form, which every
        # server delivers to.
        result = validate_email(
            value,
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
            allow_smtputf8=False,
        )
    except EmailNotValidError:
        if not value.split("@")[0].isascii():
            raise AccountError(
                "email",
                _("Use an address without accents or other non-ASCII letters before the @."),
            ) from None
        raise AccountError("email", text("EMAIL_INVALID")) from None
    return result.ascii_email or result.normalized


def check_unique(username: str, email: str | None, exclude_id: int | None = None) -> None:
    """Refuse a username or email that another account already answers to (as its
    username or its email, any case). The unique indexes still decide a race."""
    keys = [fold(username)] + ([fold(email)] if email else [])
    # Another account's recovery address counts too: recovery by that address must name
    # one account (portal/account/).
    query = User.select(User.id, User.username_key, User.email_key, User.backup_email_key).where(
        User.username_key.in_(keys) | User.email_key.in_(keys) | User.backup_email_key.in_(keys)
    )
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    clash = query.first()
    if clash is not None:
        # The username first, as the unique index reports it when the race is lost there.
        taken = (clash.username_key, clash.email_key, clash.backup_email_key)
        field_name = "username" if fold(username) in taken else "email"
        raise AccountError(field_name, text("USER_EXISTS"))
