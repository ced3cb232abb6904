"""Passgate's translation workflow, a thin wrapper around pybabel.

Usage (from the repository root, with the project's virtualenv)::

    python tools/translate.py extract   # portal/**.py + portal/templates/** -> portal/translations/messages.pot
    python tools/translate.py update    # extract, then merge the .pot into every language's .po
    python tools/translate.py compile   # .po -> .mo (the .mo files are committed)
    python tools/translate.py check     # exit 1 if a freshly extracted msgid lacks a French
                                        # translation (empty or fuzzy); prints the missing ones

Typical loop after adding strings: ``update`` → translate the new entries in
``portal/translations/fr/LC_MESSAGES/messages.po`` (and remove their ``#, fuzzy`` flag) →
``compile`` → ``check``. English is the source language: its text is the msgid itself,
so English needs no catalog.

The extraction map is ``babel.cfg``. Keywords are Babel's defaults (``_``, ``gettext``,
``ngettext``, ``lazy_gettext``…) plus ``_l`` (our alias of ``lazy_gettext``). Locations
are written as file names without line numbers so that unrelated edits do not churn
the catalogs. ``TRANSLATORS:`` comments next to a string are carried into the catalog.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "portal" / "translations"
POT = TRANSLATIONS / "messages.pot"
MAPPING = ROOT / "babel.cfg"
DOMAIN = "messages"
LANGUAGES = ("fr",)  # English is the source language (msgids)
EXTRA_KEYWORDS = ("_l", "lazy_gettext")
# portal/messages.py marks plural pairs with N_plural("one", "many") (no translation there).
PLURAL_KEYWORDS = ("N_plural",)
COMMENT_TAGS = ("TRANSLATORS:",)


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _pybabel(*args: str) -> None:
    """Run one pybabel command in-process (same interpreter, no PATH lookup).

    The working directory is the repository root so that locations stay relative.
    """
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(here)


def extract(output: Path = POT) -> Path:
    """Write the message template from the sources.

    The file is only replaced when the messages changed, so that a run that finds
    nothing new leaves the template (and its creation date) untouched.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    fresh = output.with_name(output.name + ".new")
    keywords = [arg for kw in EXTRA_KEYWORDS for arg in ("-k", kw)]
    keywords += [arg for kw in PLURAL_KEYWORDS for arg in ("-k", f"{kw}:1,2")]
    comments = [arg for tag in COMMENT_TAGS for arg in ("-c", tag)]
    try:
        _pybabel(
            "extract",
            "-F",
            str(MAPPING),
            *keywords,
            *comments,
            "--sort-by-file",
            "--add-location=file",
            "--project=Passgate",
            "--version=0.1",
            "--copyright-holder=Passgate contributors",
            "-o",
            str(fresh),
            ".",
        )
        if output.exists() and _body(output) == _body(fresh):
            fresh.unlink()
        else:
            fresh.replace(output)
    finally:
        fresh.unlink(missing_ok=True)
    return output


def _body(path: Path) -> str:
    """A template without its creation date (which changes on every extraction)."""
    return "".join(
        line
        for line in path.read_text(encoding="utf-8").splitlines(True)
        if not line.startswith('"POT-Creation-Date:')
    )


def update() -> None:
    """Extract, then merge the template into each language (creating missing catalogs)."""
    extract()
    for lang in LANGUAGES:
        if not po_path(lang).exists():
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-D", DOMAIN, "-l", lang)
    _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-D", DOMAIN, "--ignore-obsolete")


def compile_all() -> None:
    """Compile every .po into its .mo (fuzzy entries are left out, as gettext expects)."""
    _pybabel("compile", "-d", str(TRANSLATIONS), "-D", DOMAIN, "--statistics")


def source_messages() -> Catalog:
    """A fresh extraction from the sources, in memory (what ``extract`` would write)."""
    with MAPPING.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(MAPPING))
    keywords = dict(DEFAULT_KEYWORDS)
    for kw in EXTRA_KEYWORDS:
        keywords[kw] = None
    for kw in PLURAL_KEYWORDS:
        keywords[kw] = (1, 2)
    catalog = Catalog(project="Passgate")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=keywords,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def load_po(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def missing(lang: str) -> list[str]:
    """Source msgids that have no usable (non-empty, non-fuzzy) translation in ``lang``."""
    translated = load_po(lang) if po_path(lang).exists() else Catalog(locale=lang)
    gaps = []
    for message in source_messages():
        if not message.id:
            continue
        entry = translated.get(message.id, context=message.context)
        strings = entry.string if entry is not None else None
        if isinstance(strings, (list, tuple)):
            ok = all(strings)
        else:
            ok = bool(strings)
        if entry is None or entry.fuzzy or not ok:
            msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
            where = ", ".join(sorted({f"{f}:{n}" for f, n in message.locations}))
            gaps.append(f"{msgid!r}  ({where})")
    return gaps


def check() -> int:
    status = 0
    for lang in LANGUAGES:
        gaps = missing(lang)
        for gap in gaps:
            print(f"[{lang}] missing: {gap}")
        if gaps:
            status = 1
            print(f"[{lang}] {len(gaps)} message(s) without a translation", file=sys.stderr)
        else:
            print(f"[{lang}] complete")
    return status


def main(argv: list[str]) -> int:
    commands = {"extract": extract, "update": update, "compile": compile_all, "check": check}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    result = commands[argv[0]]()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
