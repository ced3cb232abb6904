"""The pieces a password can be described with, and what each costs in bits (log2 of an
attacker's guesses): the tables (keyboard rows, l33t substitutions) and one finder per
kind of piece. ``portal.guessability`` adds them up. Pure functions."""

from __future__ import annotations

import math

from .blocklist import MIN_WORD, common_passwords, word_index

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

_LEET = {"4": "a", "@": "a", "8": "b", "3": "e", "6": "g", "9": "g", "0": "o"}
_LEET.update({"$": "s", "5": "s", "7": "t", "+": "t"})
# "1", "!" and "|" stand for an i or an l: the two readings are tried separately.
_LEET_I = str.maketrans({**_LEET, "1": "i", "!": "i", "|": "i"})
_LEET_L = str.maketrans({**_LEET, "1": "l", "!": "l", "|": "l"})
_ASCII_DIGITS = frozenset("0123456789")
_STEP_DIFFS = frozenset((1, -1, 9, -9))

Pieces = list[list[tuple[int, float]]]  # pieces[i]: (end, bits) ways to describe p[i:end]


def pieces(p: str, context: tuple[str, ...] = ()) -> Pieces:
    """Every way to describe a stretch of ``p`` other than character by character."""
    found: Pieces = [[] for _i in range(len(p))]
    _context_words(p, context, found)
    _blocklist_words(p, found)
    _keyboard_runs(p, found)
    _sequences(p, found)
    _years_and_dates(p, found)
    _repeats(p, found)
    return found


def _context_words(p: str, context: tuple[str, ...], found: Pieces) -> None:
    for token in context:
        at = p.find(token)
        while at >= 0:
            found[at].append((at + len(token), math.log2(len(context) + 1) + 1))
            at = p.find(token, at + 1)


def _blocklist_words(p: str, found: Pieces) -> None:
    """Blocklist words, as typed and after undoing l33t substitutions."""
    n = len(p)
    prefixes, word_bits = word_index()
    words = common_passwords()
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
                    found[i].append((j, word_bits + (1.0 if k else 0.0)))


def _keyboard_runs(p: str, found: Pieces) -> None:
    n = len(p)
    for i in range(n - _MIN_PIECE + 1):  # keyboard rows (a prefix-closed set)
        j = i + _MIN_PIECE
        while j <= n and p[i:j] in _ROW_RUNS:
            found[i].append((j, _BITS_KEYBOARD_START + math.log2(j - i)))
            j += 1


def _sequences(p: str, found: Pieces) -> None:
    """Runs: ascending/descending (step +-1, digits wrap), one repeated character."""
    n = len(p)
    log2 = math.log2
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
                fixed, scale = char_bits(p[i]), 1
            else:  # zxcvbn's sequence estimate: obvious starts are cheaper
                fixed = 0.0
                scale = 4 if p[i] in "az019" else 10 if p[i] in _ASCII_DIGITS else 26
                scale *= 2 if s < 0 else 1
            for e in [*range(i + _MIN_PIECE, min(j, i + _FAN_OUT) + 1), j]:  # from the start
                found[i].append((e, fixed + log2(scale * (e - i))))
            for t in range(i + 1, j - _MIN_PIECE + 1):  # from inside, to the end
                found[t].append((j, fixed + log2(scale * (j - t))))
        k = j


def _years_and_dates(p: str, found: Pieces) -> None:
    n = len(p)
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
                found[s].append((s + 4, _BITS_YEAR))
            for size in (6, 8):
                if s + size <= j and _date_like(p[s : s + size]):
                    found[s].append((s + size, _BITS_DATE))
        i = j


def _repeats(p: str, found: Pieces) -> None:
    """Repeats of earlier text: to the shortest and the longest possible end."""
    log2 = math.log2
    for i in range(1, len(p) - _MIN_PIECE + 1):
        if p.find(p[i : i + _MIN_PIECE], 0, i + _MIN_PIECE - 1) >= 0:
            end = _repeat_end(p, i)
            found[i].append((i + _MIN_PIECE, log2(i) + log2(_MIN_PIECE)))
            found[i].append((end, log2(i) + log2(end - i)))


def char_bits(ch: str) -> float:
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
