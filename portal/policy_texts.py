"""The password policy's texts (rules, errors, the match line), translated when they are
asked for: in English outside an application context or without Flask-Babel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import gettext as _babel_gettext
from flask_babel import ngettext as _babel_ngettext

from .messages import text

if TYPE_CHECKING:
    from .policy import Policy

# --------------------------------------------------------------------------- i18n helpers
# Named like the Babel default keywords so that ``pybabel extract`` finds the messages.


def _(message: str, **variables) -> str:
    try:
        return _babel_gettext(message, **variables)
    except KeyError:  # an app context whose app has no Flask-Babel extension
        return message % variables if variables else message


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    try:
        return _babel_ngettext(singular, plural, num, **variables)
    except KeyError:
        variables.setdefault("num", num)
        return (singular if num == 1 else plural) % variables


def _match_text(ok: bool | None) -> str:
    """The "match" line reads true in every state (a cross next to "The two passwords
    match." read as its opposite)."""
    if ok is False:
        return _("The two passwords do not match yet")
    if ok:
        return _("The two passwords match")
    return _("Typed the same way in both fields")


def _rule_text(key: str, policy: Policy) -> str:
    return _texts(key, policy)[0]


def _error_text(key: str, policy: Policy | None) -> str:
    return _texts(key, policy)[1]


def _texts(key: str, policy: Policy | None) -> tuple[str, str]:
    """(the rule as the checklist lists it, the error when a password breaks it)."""
    if key in ("min_length", "max_length"):
        return _length_texts(key, policy)
    if key == "upper":
        return _("At least one uppercase letter"), _("Add at least one uppercase letter.")
    if key == "lower":
        return _("At least one lowercase letter"), _("Add at least one lowercase letter.")
    if key == "digit":
        return _("At least one digit"), _("Add at least one digit.")
    if key == "symbol":
        return (
            _("At least one symbol or space (a character that is not a letter or digit)"),
            _("Add at least one symbol or space (a character that is not a letter or digit)."),
        )
    if key == "not_common":
        return _("Not a common password or an easily guessed pattern"), _(
            "This password is too common or too easy to guess. Avoid common words with a "
            "few digits or symbols added, repeated text, sequences and keyboard patterns."
        )
    if key == "not_personal":
        return (
            _("Not based on your name, username, email address or the organisation's name"),
            _("Do not use your name, username, email address or the organisation's name."),
        )
    if key == "match":
        return _("Typed the same way in both fields"), text("PASSWORDS_DIFFER")
    raise KeyError(key)


def _length_texts(key: str, policy: Policy) -> tuple[str, str]:
    if key == "min_length":
        num = policy.min_length
        return (
            ngettext("At least %(num)d character", "At least %(num)d characters", num),
            ngettext("Use at least %(num)d character.", "Use at least %(num)d characters.", num),
        )
    num = policy.max_length
    return (
        ngettext("At most %(num)d character", "At most %(num)d characters", num),
        ngettext("Use at most %(num)d character.", "Use at most %(num)d characters.", num),
    )


def _keys(policy: Policy, with_confirm: bool) -> list[str]:
    keys = ["min_length", "max_length"]
    for key, enabled in (
        ("upper", policy.require_upper),
        ("lower", policy.require_lower),
        ("digit", policy.require_digit),
        ("symbol", policy.require_symbol),
    ):
        if enabled:
            keys.append(key)
    keys += ["not_common", "not_personal"]
    if with_confirm:
        keys.append("match")
    return keys
