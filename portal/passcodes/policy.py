"""The passcode rules (F19): digits only, the organisation's exact length, no run such as
1234 or 4321, no repeat such as 1111 or 1212, nothing taken from the account itself.

``problems`` is pure (unit-tested without an app); ``evaluate`` adds the texts of the
checklist shown on every passcode form, in the current language. The same function
decides on submit, so the checklist and the server never disagree.

The account holds no phone number, extension or birthday (``portal.models.User``), so the
personal digits are those of the username, the email address and the account ID; a
caller that knows more (a phone number, a birthday) passes it in ``context`` and
``date_forms`` turns a date into the digit strings people make of it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from ..messages import N_

MIN_LENGTH = 4
MAX_LENGTH = 12
MAX_RUN = 3  # a run of 4 digits in a row (up, down, or the same) is refused
MIN_CONTEXT_DIGITS = 4  # shorter digit groups of the username or ID are ignored
RULES = ("digits", "length", "no_sequence", "no_repeat", "not_personal", "match")
_GROUPS = re.compile(r"[0-9]+")


def normalize(passcode: str) -> str:
    """NFKC, so full-width digits typed on a phone keyboard count as digits; spaces go."""
    return unicodedata.normalize("NFKC", passcode or "").replace(" ", "")


def _longest_step_run(code: str, step: int) -> int:
    """Length of the longest stretch where each digit is the previous one plus ``step``
    (mod 10: 7890 and 2109 count as runs)."""
    best = run = 1
    for a, b in zip(code, code[1:], strict=False):
        run = run + 1 if (int(b) - int(a)) % 10 == step % 10 else 1
        best = max(best, run)
    return best


def is_sequence(code: str) -> bool:
    """An ascending or descending run of more than ``MAX_RUN`` digits (1234, 98765, 7890)."""
    return any(_longest_step_run(code, step) > MAX_RUN for step in (1, -1))


def is_repeat(code: str) -> bool:
    """The same digit more than ``MAX_RUN`` times in a row (1111, 500007), or a pattern
    repeated to fill the passcode (1212, 123123, 12121)."""
    if _longest_step_run(code, 0) > MAX_RUN:
        return True
    return len(code) >= MIN_LENGTH and any(
        all(code[i] == code[i + p] for i in range(len(code) - p))
        for p in range(1, len(code) // 2 + 1)
    )


def context_digits(values: Iterable[object]) -> list[str]:
    """The digit groups of the account's own data (username, email, ID, phone…)."""
    groups: list[str] = []
    for value in values:
        if value is None or value == "":
            continue
        text = date_forms(value) if isinstance(value, date) else _GROUPS.findall(str(value))
        groups += [g for g in text if len(g) >= MIN_CONTEXT_DIGITS]
    return groups


def date_forms(day: date) -> list[str]:
    """The digit strings people make of a date (a birthday): 1987, 0312, 1203, 031287…"""
    d, m, y, yy = f"{day.day:02d}", f"{day.month:02d}", f"{day.year:04d}", f"{day.year % 100:02d}"
    return [y, d + m, m + d, d + m + yy, m + d + yy, yy + m + d, d + m + y, m + d + y, y + m + d]


def is_personal(code: str, context: Iterable[str]) -> bool:
    """Contains a digit group of the account (or is part of one)."""
    return any(group in code or code in group for group in context)


def problems(passcode: str, length: int, context: Iterable[str] = ()) -> list[str]:
    """The keys of the rules ``passcode`` breaks (empty list: acceptable)."""
    code = normalize(passcode)
    if not code.isascii() or not code.isdigit():
        return ["digits"]
    failed = [] if len(code) == length else ["length"]
    if is_sequence(code):
        failed.append("no_sequence")
    if is_repeat(code):
        failed.append("no_repeat")
    if is_personal(code, list(context)):
        failed.append("not_personal")
    return failed


@dataclass(frozen=True)
class Rule:
    key: str
    text: str
    ok: bool | None  # None: nothing typed yet


@dataclass(frozen=True)
class Evaluation:
    rules: list[Rule]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


# Each rule's line of the checklist, and its error on submit (translated when shown).
TEXTS = {
    "digits": (N_("Only digits (0 to 9)"), N_("Use digits only (0 to 9).")),
    "length": (N_("Exactly %(num)d digits"), N_("Use exactly %(num)d digits.")),
    "no_sequence": (
        N_("No run of digits going up or down, such as 1234 or 4321"),
        N_("Avoid runs of digits going up or down, such as 1234 or 4321."),
    ),
    "no_repeat": (
        N_("No repeated digit or pattern, such as 1111 or 1212"),
        N_("Avoid repeated digits or patterns, such as 1111 or 1212."),
    ),
    "not_personal": (
        N_("Not taken from your username, email address or account ID"),
        N_("Do not use digits from your username, email address or account ID."),
    ),
    "match": (N_("Both entries match"), N_("The two passcodes do not match.")),
}


def rule_text(key: str, length: int) -> str:
    return _(TEXTS[key][0], num=length)


def error_text(key: str, length: int) -> str:
    return _(TEXTS[key][1], num=length)


def evaluate(
    passcode: str, length: int, context: Iterable[str] = (), confirm: str | None = None
) -> Evaluation:
    """The checklist for what is typed now, and the errors that refuse it."""
    typed = bool(passcode)
    failed = set(problems(passcode, length, context)) if typed else set(RULES)
    if confirm is not None and normalize(confirm) != normalize(passcode):
        failed.add("match")
    keys = [k for k in RULES if k != "match" or confirm is not None]
    rules = [Rule(k, rule_text(k, length), (k not in failed) if typed else None) for k in keys]
    errors = [error_text(k, length) for k in keys if k in failed] if typed else []
    return Evaluation(rules, errors)
