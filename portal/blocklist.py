"""The bundled blocklist of common passwords (``data/common-passwords.txt``, built by
``tools/build_common_passwords.py``): a compact read-only set, loaded once per process."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
MIN_WORD = 4  # shorter words cost less to brute-force than to look up


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
def word_index() -> tuple[dict[str, int], float]:
    """(first 4 characters -> longest entry starting with them, bits per dictionary word)."""
    words = common_passwords()
    longest: dict[str, int] = {}
    for w in words:
        if len(w) >= MIN_WORD:
            key = w[:MIN_WORD]
            if len(w) > longest.get(key, 0):
                longest[key] = len(w)
    return longest, math.log2(len(words))
