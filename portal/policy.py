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

import math
import re
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _babel_gettext
from flask_babel import ngettext as _babel_ngettext

__all__ = [
    "Evaluation", "Policy", "RuleResult", "common_passwords", "context_tokens", "evaluate",
    "has_control_characters", "is_common", "normalize", "rules",
]

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
PRODUCT_NAME = "passgate"  # always treated as a context word
MIN_CONTEXT_WORD = 4  # shorter names/fragments are ignored ("al", "bob")


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


# --------------------------------------------------------------------------- texts


def _rule_text(key: str, policy: Policy) -> str:
    if key == "min_length":
        return ngettext("At least %(num)d character", "At least %(num)d characters",
                        policy.min_length)
    if key == "max_length":
        return ngettext("At most %(num)d character", "At most %(num)d characters",
                        policy.max_length)
    if key == "upper":
        return _("At least one uppercase letter")
    if key == "lower":
        return _("At least one lowercase letter")
    if key == "digit":
        return _("At least one digit")
    if key == "symbol":
        return _("At least one symbol or space (a character that is not a letter or digit)")
    if key == "not_common":
        return _("Not a common password or an easily guessed pattern")
    if key == "not_personal":
        return _("Not based on your name, username, email address or the organisation's name")
    if key == "match":
        return _("Typed the same way in both fields")
    raise KeyError(key)


def _match_text(ok: bool | None) -> str:
    """The "match" line reads true in every state (a cross next to "The two passwords
    match." read as its opposite)."""
    if ok is False:
        return _("The two passwords do not match yet")
    if ok:
        return _("The two passwords match")
    return _("Typed the same way in both fields")


def _error_text(key: str, policy: Policy) -> str:
    if key == "min_length":
        return ngettext("Use at least %(num)d character.", "Use at least %(num)d characters.",
                        policy.min_length)
    if key == "max_length":
        return ngettext("Use at most %(num)d character.", "Use at most %(num)d characters.",
                        policy.max_length)
    if key == "upper":
        return _("Add at least one uppercase letter.")
    if key == "lower":
        return _("Add at least one lowercase letter.")
    if key == "digit":
        return _("Add at least one digit.")
    if key == "symbol":
        return _("Add at least one symbol or space (a character that is not a letter or digit).")
    if key == "not_common":
        return _("This password is too common or too easy to guess. Avoid common words with a "
                 "few digits or symbols added, repeated text, sequences and keyboard patterns.")
    if key == "not_personal":
        return _("Do not use your name, username, email address or the organisation's name.")
    if key == "match":
        return _("The passwords do not match.")
    raise KeyError(key)


def _keys(policy: Policy, with_confirm: bool) -> list[str]:
    keys = ["min_length", "max_length"]
    for key, enabled in (("upper", policy.require_upper), ("lower", policy.require_lower),
                         ("digit", policy.require_digit), ("symbol", policy.require_symbol)):
        if enabled:
            keys.append(key)
    keys += ["not_common", "not_personal"]
    if with_confirm:
        keys.append("match")
    return keys


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


def evaluate(password: str, policy: Policy, *, context_words: Iterable[str | None] = (),
             confirm: str | None = None) -> Evaluation:
    """Check ``password`` against ``policy``; never raises for any ``str`` input.

    ``context_words``: what an attacker may know about the user (username, first/last name,
    email address, organisation name...). ``None``/empty items are ignored; the product
    name "passgate" is always added. ``confirm``: the confirmation field, or ``None`` when
    the form has none (then no "match" rule).
    """
    keys = _keys(policy, confirm is not None)
    if not password:
        return Evaluation([RuleResult(k, _rule_text(k, policy), None) for k in keys],
                          [_("Enter a password.")])

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
    return Evaluation([RuleResult(k, _match_text(results[k]) if k == "match" else
                                  _rule_text(k, policy), results[k]) for k in keys], errors)


def mismatch_message() -> str:
    """The error shown when the confirmation differs (placed under the Confirm field)."""
    return _error_text("match", None)


def with_pending_match(evaluation: Evaluation) -> Evaluation:
    """Add a not-yet-evaluated "match" line (the confirmation field is still empty)."""
    if any(r.key == "match" for r in evaluation.rules):
        return evaluation
    return Evaluation([*evaluation.rules, RuleResult("match", _match_text(None), None)],
                      evaluation.errors)


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


# --------------------------------------------------------------------------- blocklist


class Blocklist(AbstractSet):
    """A read-only set of the blocklist entries in about 1 MB instead of about 5 MB.

    A frozenset holds one Python string per entry (~48,000 objects plus the table), in
    every server process. Here the entries stay in one bytes object (one entry a line)
    beside two arrays: the entries' string hashes, sorted, and where each entry starts. A
    lookup is a binary search in the hashes (most answers stop there) and, on a match, a
    comparison with the entry itself: membership is exact, never a guess.
    Iterating (tests, tools) decodes the entries again.
    """

    def __init__(self, raw: bytes):
        words = list(dict.fromkeys(w for w in raw.decode("utf-8").split("\n") if w.strip()))
        encoded = [w.encode("utf-8") for w in words]
        starts, at = [], 0
        for e in encoded:
            starts.append(at)
            at += len(e) + 1
        self._lines = b"\n".join(encoded) + b"\n"
        order = sorted(range(len(words)), key=lambda k: hash(words[k]))
        self._hashes = array("q", (hash(words[k]) for k in order))
        self._starts = array("I" if at < 2**32 else "Q", (starts[k] for k in order))

    def __contains__(self, word) -> bool:
        if not isinstance(word, str) or "\n" in word:  # no entry holds a line break
            return False
        hashes, h = self._hashes, hash(word)
        i = bisect_left(hashes, h)
        if i == len(hashes) or hashes[i] != h:
            return False
        wanted = word.encode("utf-8", "surrogatepass") + b"\n"
        lines, n = self._lines, len(hashes)
        while i < n and hashes[i] == h:  # entries whose hashes collide sit side by side
            if lines.startswith(wanted, self._starts[i]):
                return True
            i += 1
        return False

    def __len__(self) -> int:
        return len(self._hashes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines.decode("utf-8").split("\n")[:-1])

    @classmethod
    def _from_iterable(cls, it):  # set operations (a & b, …) give plain frozensets
        return frozenset(it)


@lru_cache(maxsize=1)
def common_passwords() -> Blocklist:
    """The bundled blocklist, loaded once (NFKC-normalised, casefolded entries)."""
    return Blocklist(COMMON_PASSWORDS_FILE.read_bytes())


@lru_cache(maxsize=1)
def _word_index() -> tuple[dict[str, int], float]:
    """(first 4 characters -> longest entry starting with them, bits per dictionary word)."""
    words = common_passwords()
    longest: dict[str, int] = {}
    for w in words:
        if len(w) >= _MIN_WORD:
            key = w[:_MIN_WORD]
            if len(w) > longest.get(key, 0):
                longest[key] = len(w)
    return longest, math.log2(len(words))


# --------------------------------------------------------------------------- guessability
#
# _guess_bits() is a small, cheap version of the zxcvbn idea: find the cheapest way to
# describe the password as a sequence of pieces, each with an estimated number of guesses
# (log2), and add them up. A piece is one of:
#   - a single character, brute-forced (digit 3.3 bits, a-z 4.7, ASCII symbol 5, ...);
#   - a blocklist entry of 4+ characters (log2 of the list size, ~15.5 bits), also after
#     undoing l33t substitutions (p@ssw0rd) for 1 extra bit;
#   - a context word (username, email parts, ...: a few bits);
#   - an ascending/descending run (abcd, 4321, 7890123: digits wrap around);
#   - a run along a keyboard row (QWERTY, AZERTY, QWERTZ, keypad; either direction);
#   - a run of one repeated character (!!!!), a year 1900-2099, a 6/8-digit date;
#   - a repeat of text that appears earlier in the password (log2 of offset and length).
# A password that interleaves two such descriptions (1q2w3e4r..., a1b2c3...) is also
# priced as its two halves. The result is a rough estimate of log2(attacker's guesses).

_BITS_DIGIT = math.log2(10)
_BITS_LOWER = math.log2(26)
_BITS_ASCII_OTHER = math.log2(33)
_BITS_LETTER = math.log2(40)  # accented Latin, Greek, Cyrillic, ...
_BITS_IDEOGRAPH = math.log2(3000)  # CJK and other large scripts
_BITS_OTHER = 8.0  # emoji and other symbols
_BITS_YEAR = math.log2(200)
_BITS_DATE = math.log2(365 * 100)
_BITS_KEYBOARD_START = math.log2(48)
_MIN_PIECE = 3  # shortest sequence/keyboard run/repeat worth describing
_MIN_WORD = 4  # shorter words cost less to brute-force than to look up
_FAN_OUT = 12  # a run described from its start may end anywhere up to this long, or at its end
_MAX_DATE_RUN = 12  # look for years/dates in runs of at most this many digits

# A password is weak if describing it costs fewer than WEAK_BITS (~7e10 guesses: quick
# offline, far beyond any online attack), unless its structure saved little compared with
# brute force (short passwords that a lenient policy allows are the length rule's business,
# not this one's). Below FLOOR_BITS (~1e6 guesses) it is always weak.
WEAK_BITS = 36.0
FLOOR_BITS = 20.0
STRUCTURE_RATIO = 0.6

_KEYBOARD_ROWS = (
    # QWERTY (US), unshifted and shifted
    "`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
    "~!@#$%^&*()_+", "qwertyuiop{}|", 'asdfghjkl:"', "zxcvbnm<>?",
    # AZERTY (FR), unshifted and shifted
    "²&é\"'(-è_çà)=", "azertyuiop^$", "qsdfghjklmù*", "<wxcvbn,;:!",
    "1234567890°+", "azertyuiop¨£", "qsdfghjklm%µ", ">wxcvbn?./§",
    # QWERTZ (DE/CH)
    "qwertzuiopü+", "asdfghjklöä#", "<yxcvbnm,.-",
    # numeric keypad
    "789", "456", "123", "741", "852", "963", "/*-",
)


def _row_runs() -> frozenset[str]:
    """Every 3+ character stretch of a keyboard row, both directions (prefix-closed)."""
    runs = set()
    for row in _KEYBOARD_ROWS:
        for r in (row, row[::-1]):
            for i in range(len(r)):
                for j in range(i + _MIN_PIECE, len(r) + 1):
                    runs.add(r[i:j])
    return frozenset(runs)


_ROW_RUNS = _row_runs()

_LEET_I = str.maketrans({"4": "a", "@": "a", "8": "b", "3": "e", "6": "g", "9": "g", "1": "i",
                         "!": "i", "|": "i", "0": "o", "$": "s", "5": "s", "7": "t", "+": "t"})
_LEET_L = str.maketrans({"4": "a", "@": "a", "8": "b", "3": "e", "6": "g", "9": "g", "1": "l",
                         "!": "l", "|": "l", "0": "o", "$": "s", "5": "s", "7": "t", "+": "t"})
_ASCII_DIGITS = frozenset("0123456789")
_STEP_DIFFS = frozenset((1, -1, 9, -9))


def _char_bits(ch: str) -> float:
    if ch in _ASCII_DIGITS:
        return _BITS_DIGIT
    if "a" <= ch <= "z":
        return _BITS_LOWER
    if ch < "\x80":
        return _BITS_ASCII_OTHER
    if ch.isdigit():
        return _BITS_DIGIT
    if ch.isalpha():
        return _BITS_LETTER if ch < "\u2e80" else _BITS_IDEOGRAPH
    return _BITS_OTHER


def _step(a: str, b: str) -> int:
    """+1/-1 if b follows/precedes a in a simple sequence (digits wrap 9->0), else 0."""
    if a in _ASCII_DIGITS and b in _ASCII_DIGITS:
        d = (ord(b) - ord(a)) % 10
        return 1 if d == 1 else -1 if d == 9 else 0
    d = ord(b) - ord(a)
    if (d == 1 or d == -1) and a.isalpha() and b.isalpha():
        return d
    return 0


def _date_like(s: str) -> bool:
    """DDMMYY, MMDDYY, YYMMDD (6 digits) or DDMMYYYY, MMDDYYYY, YYYYMMDD (8 digits)."""
    def valid(day: str, month: str) -> bool:
        return "01" <= day <= "31" and "01" <= month <= "12"

    if len(s) == 8:
        if s[:2] in ("19", "20") and valid(s[6:], s[4:6]):
            return True
        return s[4:6] in ("19", "20") and (valid(s[:2], s[2:4]) or valid(s[2:4], s[:2]))
    return valid(s[:2], s[2:4]) or valid(s[2:4], s[:2]) or valid(s[4:], s[2:4])


def _describe(p: str, context: tuple[str, ...] = ()) -> float:
    """Cheapest description of p, in bits (dynamic programming over the pieces above)."""
    n = len(p)
    if n == 0:
        return 0.0
    prefixes, word_bits = _word_index()
    words = common_passwords()
    log2 = math.log2
    # pieces[i]: (end, bits) ways to describe p[i:end] other than character by character
    pieces: list[list[tuple[int, float]]] = [[] for _i in range(n)]

    for token in context:  # context words
        at = p.find(token)
        while at >= 0:
            pieces[at].append((at + len(token), log2(len(context) + 1) + 1))
            at = p.find(token, at + 1)

    # blocklist words, as typed and after undoing l33t substitutions
    letters = [0]  # letters[c]: how many letters in p[:c]
    for ch in p:
        letters.append(letters[-1] + ch.isalpha())
    variants = [p]
    for table in (_LEET_I, _LEET_L):
        v = p.translate(table)
        if v not in variants:
            variants.append(v)
    for k, v in enumerate(variants):
        if k:
            # Only substrings that differ from p and whose first 4 characters include a
            # real letter ("p@ss", "b0at"; "1234" is not "izea").
            nxt = n
            first_changed = [n] * n  # first_changed[c]: first substituted position >= c
            for c in range(n - 1, -1, -1):
                if v[c] != p[c]:
                    nxt = c
                first_changed[c] = nxt
        for i in range(n - _MIN_WORD + 1):
            longest = prefixes.get(v[i:i + _MIN_WORD])
            if not longest:
                continue
            first = i + _MIN_WORD
            if k:
                if letters[i + _MIN_WORD] == letters[i]:
                    continue
                first = max(first, first_changed[i] + 1)
            for j in range(first, min(n, i + longest) + 1):
                if v[i:j] in words:
                    pieces[i].append((j, word_bits + (1.0 if k else 0.0)))

    for i in range(n - _MIN_PIECE + 1):  # keyboard rows (a prefix-closed set)
        j = i + _MIN_PIECE
        while j <= n and p[i:j] in _ROW_RUNS:
            pieces[i].append((j, _BITS_KEYBOARD_START + log2(j - i)))
            j += 1

    # runs: ascending/descending (step +-1, digits wrap), one repeated character
    codes = list(map(ord, p))
    steps = [0] * n  # steps[k]: relation between p[k-1] and p[k]
    for k in range(1, n):
        d = codes[k] - codes[k - 1]
        if d in _STEP_DIFFS:
            steps[k] = _step(p[k - 1], p[k])
        elif d == 0:
            steps[k] = 2
    k = 1
    while k < n:
        s = steps[k]
        j = k + 1
        while j < n and steps[j] == s:
            j += 1
        i = k - 1  # p[i:j] is a run with the same step
        if s and j - i >= _MIN_PIECE:
            if s == 2:  # "!!!!": the character, then how many times
                fixed, scale = _char_bits(p[i]), 1
            else:  # zxcvbn's sequence estimate: obvious starts are cheaper
                fixed = 0.0
                scale = 4 if p[i] in "az019" else 10 if p[i] in _ASCII_DIGITS else 26
                scale *= 2 if s < 0 else 1
            for e in [*range(i + _MIN_PIECE, min(j, i + _FAN_OUT) + 1), j]:  # from the start
                pieces[i].append((e, fixed + log2(scale * (e - i))))
            for t in range(i + 1, j - _MIN_PIECE + 1):  # from inside, to the end
                pieces[t].append((j, fixed + log2(scale * (j - t))))
        k = j

    # years and dates
    i = 0
    while i < n:
        if p[i] not in _ASCII_DIGITS:
            i += 1
            continue
        j = i + 1
        while j < n and p[j] in _ASCII_DIGITS:
            j += 1
        for s in range(i, j - 3 if j - i <= _MAX_DATE_RUN else i):
            if p[s:s + 2] in ("19", "20"):
                pieces[s].append((s + 4, _BITS_YEAR))
            for size in (6, 8):
                if s + size <= j and _date_like(p[s:s + size]):
                    pieces[s].append((s + size, _BITS_DATE))
        i = j

    # repeats of earlier text: to the shortest and the longest possible end
    for i in range(1, n - _MIN_PIECE + 1):
        if p.find(p[i:i + _MIN_PIECE], 0, i + _MIN_PIECE - 1) >= 0:
            end = _repeat_end(p, i)
            pieces[i].append((i + _MIN_PIECE, log2(i) + log2(_MIN_PIECE)))
            pieces[i].append((end, log2(i) + log2(end - i)))

    inf = float("inf")
    best = [inf] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        here = best[i]
        best[i + 1] = min(best[i + 1], here + _char_bits(p[i]))
        for end, bits in pieces[i]:
            best[end] = min(best[end], here + bits)
    return best[n]


def _repeat_end(p: str, i: int) -> int:
    """Largest j such that p[i:j] (3+ chars) also starts before i; 0 if none."""
    lo = i + _MIN_PIECE
    n = len(p)
    if lo > n or p.find(p[i:lo], 0, lo - 1) < 0:
        return 0
    hi = n
    if p.find(p[i:hi], 0, hi - 1) >= 0:
        return hi
    while hi - lo > 1:  # p[i:lo] repeats, p[i:hi] does not
        mid = (lo + hi) // 2
        if p.find(p[i:mid], 0, mid - 1) >= 0:
            lo = mid
        else:
            hi = mid
    return lo


def _guess_bits(folded: str, context: tuple[str, ...] = (), enough: float | None = None) -> float:
    """Estimated log2(guesses) for a normalised, casefolded password (see comment above).

    The interleaving check is skipped once the plain estimate is already below ``enough``.
    """
    bits = _describe(folded, context)
    if len(folded) >= 8 and (enough is None or bits >= enough):
        first = _describe(folded[0::2], context) + 1
        if first < bits:
            bits = min(bits, first + _describe(folded[1::2], context))
    return bits


def _weak_limit(folded: str) -> float:
    brute_force = sum(map(_char_bits, folded))
    return max(FLOOR_BITS, min(WEAK_BITS, STRUCTURE_RATIO * brute_force))


def _check(folded: str, tokens: tuple[str, ...]) -> tuple[bool, bool]:
    """(is common, is personal) for a normalised, casefolded password."""
    limit = _weak_limit(folded)
    listed = folded in common_passwords()
    plain = _guess_bits(folded, (), limit)
    common = listed or plain < limit
    personal = False
    if tokens:
        with_context = _guess_bits(folded, tokens, limit)
        # Personal when knowing the user's words is what makes it guessable.
        personal = with_context < plain and with_context < limit
    return common, personal
