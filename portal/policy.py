"""Password policy (NIST SP 800-63B-4 defaults): a pure module, no HTTP and no database.

* Length is counted in Unicode code points after NFKC normalisation (:func:`normalize`).
  Every printable character is allowed (spaces, accents, emoji); control characters are not.
* Composition rules (upper/lower/digit/symbol) apply only when the policy enables them.
* ``not_common`` refuses passwords on the bundled blocklist (``data/common-passwords.txt``,
  built by ``tools/build_common_passwords.py``) and passwords that are easy to guess because
  of their structure: a common word padded with digits/symbols, repetition, sequences,
  keyboard rows, dates (see the "guessability" section below; no zxcvbn at runtime).
* ``not_personal`` refuses passwords that become easy to guess once an attacker knows the
  user's name, username, email address, the organisation's name or the product name.

Texts go through Flask-Babel (``_`` / ``ngettext``) when the functions are called, so they
follow the request locale; outside an application context (and in an app without
Flask-Babel) they come back in English. Nothing is translated at import time.

Cost: well under a millisecond for ordinary passwords; the blocklist (~48 000 entries,
under 1 MB in memory, see ``Blocklist``) is read on first use and cached for the life of
the process.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .blocklist import common_passwords  # noqa: F401  (part of this module's API)
from .guessability import check as _check
from .policy_texts import _, _error_text, _keys, _match_text, _rule_text  # noqa: F401

__all__ = [
    "Evaluation",
    "Policy",
    "RuleResult",
    "common_passwords",
    "context_tokens",
    "evaluate",
    "has_control_characters",
    "is_common",
    "normalize",
    "rules",
]

PRODUCT_NAME = "passgate"  # always treated as a context word
MIN_CONTEXT_WORD = 4  # shorter names/fragments are ignored ("al", "bob")


# --------------------------------------------------------------------------- data types


def _as_bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("1", "true", "yes", "on"):
            return True
        if key in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    return bool(value)


def _as_int(value, default: int) -> int:
    return default if value is None or value == "" else int(value)


@dataclass(frozen=True)
class Policy:
    min_length: int = 15  # counted in Unicode code points after NFKC normalisation
    max_length: int = 128  # code points
    require_upper: bool = False
    require_lower: bool = False
    require_digit: bool = False
    require_symbol: bool = False
    history: int = 5  # informational here (history is checked elsewhere with bcrypt)

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError("min_length must be at least 1")
        if self.max_length < self.min_length:
            raise ValueError("max_length must not be smaller than min_length")
        if self.history < 0:
            raise ValueError("history must not be negative")

    @classmethod
    def from_config(cls, cfg: Mapping) -> Policy:
        """Build from a config mapping; missing (or ``None``) keys take the defaults.

        Accepts ints/bools or their string forms ("15", "true"), as stored settings may be
        strings. Raises ``ValueError`` for values that make no sense (max < min, ...).
        """
        d = cls()
        return cls(
            min_length=_as_int(cfg.get("PASSWORD_MIN_LENGTH"), d.min_length),
            max_length=_as_int(cfg.get("PASSWORD_MAX_LENGTH"), d.max_length),
            require_upper=_as_bool(cfg.get("PASSWORD_REQUIRE_UPPER"), d.require_upper),
            require_lower=_as_bool(cfg.get("PASSWORD_REQUIRE_LOWER"), d.require_lower),
            require_digit=_as_bool(cfg.get("PASSWORD_REQUIRE_DIGIT"), d.require_digit),
            require_symbol=_as_bool(cfg.get("PASSWORD_REQUIRE_SYMBOL"), d.require_symbol),
            history=_as_int(cfg.get("PASSWORD_HISTORY"), d.history),
        )


@dataclass(frozen=True)
class RuleResult:
    key: str  # "min_length", "max_length", "upper", "lower", "digit", "symbol",
    #           "not_common", "not_personal", "match"
    text: str  # the rule, in the current locale
    ok: bool | None  # None = not evaluated (empty password, or too long to analyse)


@dataclass(frozen=True)
class Evaluation:
    rules: list[RuleResult]  # the checklist, in display order
    errors: list[str]  # messages for failed rules, in the current locale; empty = acceptable

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- public API


def normalize(password: str) -> str:
    """NFKC-normalise (NIST SP 800-63B); everything else (spaces, case) is kept exactly."""
    return unicodedata.normalize("NFKC", password)


def rules(policy: Policy, *, confirm: bool = False) -> list[RuleResult]:
    """The static checklist (``ok=None``) to print on a form before anything is typed.

    ``confirm=True`` adds the "passwords match" rule, for forms with a confirmation field.
    """
    return [RuleResult(k, _rule_text(k, policy), None) for k in _keys(policy, confirm)]


def has_control_characters(password: str) -> bool:
    """True if the password contains a control character (Cc: C0, DEL, C1) or a lone surrogate."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in password)


def evaluate(
    password: str,
    policy: Policy,
    *,
    context_words: Iterable[str | None] = (),
    confirm: str | None = None,
) -> Evaluation:
    """Check ``password`` against ``policy``; never raises for any ``str`` input.

    ``context_words``: what an attacker may know about the user (username, first/last name,
    email address, organisation name...). ``None``/empty items are ignored; the product
    name "passgate" is always added. ``confirm``: the confirmation field, or ``None`` when
    the form has none (then no "match" rule).
    """
    keys = _keys(policy, confirm is not None)
    if not password:
        return Evaluation(
            [RuleResult(k, _rule_text(k, policy), None) for k in keys], [_("Enter a password.")]
        )

    pw = normalize(password)
    length = len(pw)
    results: dict[str, bool | None] = {
        "min_length": length >= policy.min_length,
        "max_length": length <= policy.max_length,
    }
    if policy.require_upper:
        results["upper"] = any(ch.isupper() for ch in pw)
    if policy.require_lower:
        results["lower"] = any(ch.islower() for ch in pw)
    if policy.require_digit:
        results["digit"] = any(ch.isdigit() for ch in pw)
    if policy.require_symbol:
        results["symbol"] = any(not ch.isalpha() and not ch.isdigit() for ch in pw)

    if length > policy.max_length:
        # Too long to be worth analysing (and bounds the work done per request).
        results["not_common"] = results["not_personal"] = None
    else:
        folded = pw.casefold()
        tokens = tuple(sorted(t for t in context_tokens(context_words) if t in folded))
        common, personal = _check(folded, tokens)
        results["not_common"] = not common
        results["not_personal"] = not personal

    if confirm is not None:
        results["match"] = pw == normalize(confirm)

    errors = []
    if has_control_characters(pw):
        errors.append(_("Passwords cannot contain control characters."))
    errors += [_error_text(k, policy) for k in keys if results[k] is False]
    return Evaluation(
        [
            RuleResult(
                k, _match_text(results[k]) if k == "match" else _rule_text(k, policy), results[k]
            )
            for k in keys
        ],
        errors,
    )


def mismatch_message() -> str:
    """The error shown when the confirmation differs (placed under the Confirm field)."""
    return _error_text("match", None)


def with_pending_match(evaluation: Evaluation) -> Evaluation:
    """Add a not-yet-evaluated "match" line (the confirmation field is still empty)."""
    if any(r.key == "match" for r in evaluation.rules):
        return evaluation
    return Evaluation(
        [*evaluation.rules, RuleResult("match", _match_text(None), None)], evaluation.errors
    )


def is_common(password: str) -> bool:
    """True if the password is on the blocklist or easy to guess from its structure alone."""
    return _check(normalize(password).casefold(), ())[0]


def context_tokens(words: Iterable[str | None]) -> set[str]:
    """Casefolded words of 4+ characters derived from the context (plus "passgate").

    Each item is used whole, split at "@", and split into its runs of letters and of digits
    (so "alice.smith@example.test" gives "alice.smith@example.test", "alice.smith",
    "example.test", "alice", "smith", "example", "test"); "Anne Marie" also gives "annemarie".
    """
    tokens = {PRODUCT_NAME}
    for word in words:
        if not word:
            continue
        word = normalize(str(word)).casefold().strip()
        parts = {word, *word.split("@")}
        runs = re.findall(r"[^\W\d_]+|\d+", word)
        parts.update(runs)
        if "@" not in word:
            parts.add("".join(runs))
        tokens.update(p for p in parts if len(p) >= MIN_CONTEXT_WORD)
    return tokens
