#!/usr/bin/env python3
"""Build ``portal/data/common-passwords.txt``, the blocklist read by ``portal.policy``.

Usage (from the project root, with zxcvbn installed in the *build* environment only;
it is not a runtime dependency of Passgate)::

    .venv/bin/python tools/build_common_passwords.py            # writes the file
    .venv/bin/python tools/build_common_passwords.py --check    # exit 1 if the file is stale

Source: the frequency lists shipped with the ``zxcvbn`` Python package (4.5.0,
``zxcvbn/frequency_lists.py``), which come from leaked-password corpora, Wikipedia,
TV/film subtitles and US census name lists.

Output format: UTF-8, one entry per line, every entry NFKC-normalised and casefolded
(exactly what ``portal.policy`` compares against), sorted by code point, no duplicates,
no empty lines. The file must stay under 1 MB.

What goes in:

1. **Leaked passwords** -- every entry of zxcvbn's ``passwords`` list (30 000 entries,
   all lengths). Short entries matter: the runtime check decomposes a password into
   pieces and looks each piece up, so ``password`` inside ``password1234567`` is found.
2. **Common words and names** (entries of 4+ letters only; shorter words are cheaper to
   brute-force than to look up): the 5 000 most frequent ``english_wikipedia`` and
   ``us_tv_and_film`` words, the 2 000 most frequent ``surnames``, the 1 000 most frequent
   ``male_names`` and ``female_names``.
3. **Synthetic long entries** (>= 15 characters) that a "minimum 15 characters" policy
   would otherwise have to judge on structure alone:

   - for each of the 1 200 most common leaked passwords made of 4-14 characters that
     contain a letter (the "bases"): ``base`` + ascending digits up to 15 characters
     (``password1234567``), ``base`` + ``!`` up to 15 characters (``password!!!!!!!``),
     and ``base`` repeated until it reaches 15 characters (``passwordpassword``);
   - digit runs of 15-20 characters, ascending and descending, from every start digit
     (``123456789012345``, ``987654321098765``);
   - keyboard walks of 15+ characters on QWERTY, AZERTY and QWERTZ layouts: whole rows
     chained (``qwertyuiopasdfg...``), digits+row, and column/zig-zag walks
     (``1q2w3e4r5t6y7u8i``, ``1qaz2wsx3edc4rfv``);
   - a short list of common phrases (``iloveyouforever``, ``thisismypassword``, ...).

Synthetic entries are a safety net: ``portal.policy`` also recognises these shapes
structurally (sequences, repetition, keyboard rows, padding), so they need not be
exhaustive.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "portal" / "data" / "common-passwords.txt"
MAX_BYTES = 1_000_000
LONG = 15  # the default minimum length; synthetic entries are at least this long

WORD_LISTS = {  # list name -> how many of the most frequent entries to take
    "english_wikipedia": 5000,
    "us_tv_and_film": 5000,
    "surnames": 2000,
    "male_names": 1000,
    "female_names": 1000,
}
BASES = 1200

KEYBOARD_ROWS = {
    "qwerty": ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
    "azerty": ["1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"],
    "qwertz": ["1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"],
}

PHRASES = [
    "iloveyouforever",
    "iloveyousomuch",
    "iloveyouverymuch",
    "iloveyoubaby",
    "thisismypassword",
    "thisisapassword",
    "thisismynewpassword",
    "mypasswordisthis",
    "mynewpassword",
    "mysecretpassword",
    "changeme",
    "changemenow",
    "changethispassword",
    "letmeinplease",
    "letmein",
    "opensesame",
    "passwordpassword",
    "secretpassword",
    "supersecretpassword",
    "welcometomyworld",
    "welcome",
    "administrator",
    "adminadmin",
    "qwertyqwerty",
    "trustnoone",
    "thequickbrownfox",
    "thequickbrownfoxjumpsoverthelazydog",
    "loremipsumdolorsitamet",
    "motdepasse",
    "monmotdepasse",
    "jetaime",
    "jetaimeatoutjamais",
    "bonjour",
    "soleil",
    "azerty",
    "doudou",
    "chouchou",
    "loulou",
    "nicolas",
    "marseille",
    "iamthebest",
    "whatever",
    "nevergiveup",
    "godisgood",
    "jesusislord",
    "happybirthday",
    "goodmorning",
    "helloworld",
    "hellokitty",
    "starwars",
    "harrypotter",
    "liverpoolfc",
]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _digits_run(start: int, length: int, step: int) -> str:
    return "".join(str((start + step * k) % 10) for k in range(length))


def _keyboard_walks() -> set[str]:
    walks: set[str] = set()
    for rows in KEYBOARD_ROWS.values():
        letters = "".join(rows[1:])
        everything = "".join(rows)
        for chain in (
            letters,
            everything,
            rows[0] + rows[1],
            rows[1] + rows[0],
            letters[::-1],
            rows[1] + rows[2] + rows[3][::-1],
        ):
            for end in range(LONG, len(chain) + 1):
                walks.add(chain[:end])
        top, row1, row2, row3 = rows
        # zig-zag between two rows: 1q2w3e..., q1w2e3..., qawsedrf...
        for a, b in ((top, row1), (row1, top), (row1, row2), (row2, row3)):
            zig = "".join(x + y for x, y in zip(a, b, strict=False))
            for end in range(LONG, len(zig) + 1):
                walks.add(zig[:end])
        # columns: 1qaz2wsx3edc..., zaq1xsw2cde3...
        cols = ["".join(r[k] for r in rows if k < len(r)) for k in range(len(top))]
        down = "".join(cols)
        up = "".join(c[::-1] for c in cols)
        for chain in (down, up):
            for end in range(LONG, len(chain) + 1):
                walks.add(chain[:end])
    return walks


def build() -> list[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS as lists

    entries: set[str] = set()
    passwords = [_norm(p) for p in lists["passwords"]]
    entries.update(passwords)

    for name, top in WORD_LISTS.items():
        entries.update(w for w in map(_norm, lists[name][:top]) if len(w) >= 4 and w.isalpha())

    bases = [p for p in passwords if 4 <= len(p) < LONG and any(c.isalpha() for c in p)]
    bases = list(dict.fromkeys(bases))[:BASES]
    synthetic: set[str] = set()
    for base in bases:
        pad = LONG - len(base)
        synthetic.add(base + _digits_run(1, pad, 1))
        synthetic.add(base + "!" * pad)
        synthetic.add(base * -(-LONG // len(base)))
    for start in range(10):
        for step in (1, -1):
            for length in range(LONG, 21):
                synthetic.add(_digits_run(start, length, step))
    synthetic.update(_keyboard_walks())
    for phrase in PHRASES:
        phrase = _norm(phrase)
        synthetic.add(phrase)
        if len(phrase) < LONG:
            synthetic.add(phrase + _digits_run(1, LONG - len(phrase), 1))
            synthetic.add(phrase + "!" * (LONG - len(phrase)))
    entries.update(synthetic)

    entries.discard("")
    return sorted(entries)


def render(entries: list[str]) -> bytes:
    return ("\n".join(entries) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is not up to date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    entries = build()
    data = render(entries)
    if len(data) >= MAX_BYTES:
        print(f"error: {len(data)} bytes, the list must stay under {MAX_BYTES}", file=sys.stderr)
        return 1
    long_entries = sum(1 for e in entries if len(e) >= LONG)
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != data:
            print(f"{args.output} is stale; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.output}: up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(
        f"wrote {args.output}: {len(entries)} entries ({long_entries} of {LONG}+ characters), "
        f"{len(data)} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
