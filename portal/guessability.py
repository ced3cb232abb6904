"""How easy a password is to guess from its structure (see the comment below); used by
``portal.policy`` for its ``not_common`` and ``not_personal`` rules. Pure functions."""

from __future__ import annotations

import math

from .blocklist import MIN_WORD, common_passwords, word_index

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
_MIN_WORD = MIN_WORD
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
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "~!@#$%^&*()_+",
    "qwertyuiop{}|",
    'asdfghjkl:"',
    "zxcvbnm<>?",
    # AZERTY (FR), unshifted and shifted
    "²&é\"'(-è_çà)=",
    "azertyuiop^$",
    "qsdfghjklmù*",
    "<wxcvbn,;:!",
    "1234567890°+",
    "azertyuiop¨£",
    "qsdfghjklm%µ",
    ">wxcvbn?./§",
    # QWERTZ (DE/CH)
    "qwertzuiopü+",
    "asdfghjklöä#",
    "<yxcvbnm,.-",
    # numeric keypad
    "789",
    "456",
    "123",
    "741",
    "852",
    "963",
    "/*-",
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

_LEET_I = str.maketrans(
    {
        "4": "a",
        "@": "a",
        "8": "b",
        "3": "e",
        "6": "g",
        "9": "g",
        "1": "i",
        "!": "i",
        "|": "i",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
    }
)
_LEET_L = str.maketrans(
    {
        "4": "a",
        "@": "a",
        "8": "b",
        "3": "e",
        "6": "g",
        "9": "g",
        "1": "l",
        "!": "l",
        "|": "l",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
    }
)
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
    prefixes, word_bits = word_index()
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
            longest = prefixes.get(v[i : i + _MIN_WORD])
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
            if p[s : s + 2] in ("19", "20"):
                pieces[s].append((s + 4, _BITS_YEAR))
            for size in (6, 8):
                if s + size <= j and _date_like(p[s : s + size]):
                    pieces[s].append((s + size, _BITS_DATE))
        i = j

    # repeats of earlier text: to the shortest and the longest possible end
    for i in range(1, n - _MIN_PIECE + 1):
        if p.find(p[i : i + _MIN_PIECE], 0, i + _MIN_PIECE - 1) >= 0:
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


def check(folded: str, tokens: tuple[str, ...]) -> tuple[bool, bool]:
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
