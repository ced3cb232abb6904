"""How easy a password is to guess from its structure (see the comment below); used by
``portal.policy`` for its ``not_common`` and ``not_personal`` rules. Pure functions."""

from __future__ import annotations

from .blocklist import common_passwords
from .guess_patterns import char_bits, pieces

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
# (The pieces are found in portal/guess_patterns.py.)
# A password that interleaves two such descriptions (1q2w3e4r..., a1b2c3...) is also
# priced as its two halves. The result is a rough estimate of log2(attacker's guesses).

# A password is weak if describing it costs fewer than WEAK_BITS (~7e10 guesses: quick
# offline, far beyond any online attack), unless its structure saved little compared with
# brute force (short passwords that a lenient policy allows are the length rule's business,
# not this one's). Below FLOOR_BITS (~1e6 guesses) it is always weak.
WEAK_BITS = 36.0
FLOOR_BITS = 20.0
STRUCTURE_RATIO = 0.6


def _describe(p: str, context: tuple[str, ...] = ()) -> float:
    """Cheapest description of p, in bits (dynamic programming over the pieces above)."""
    n = len(p)
    if n == 0:
        return 0.0
    found = pieces(p, context)
    best = [float("inf")] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        here = best[i]
        best[i + 1] = min(best[i + 1], here + char_bits(p[i]))
        for end, bits in found[i]:
            best[end] = min(best[end], here + bits)
    return best[n]


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
    brute_force = sum(map(char_bits, folded))
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
