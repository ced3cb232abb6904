"""portal/tokens.py: 256-bit URL-safe tokens; only SHA-256 digests are stored."""

from __future__ import annotations

import hashlib
import re

from portal import tokens

URLSAFE_43 = re.compile(r"^[A-Za-z0-9_-]{43}$")


def test_token_is_43_url_safe_characters():
    raw, _digest = tokens.new_token()
    assert URLSAFE_43.match(raw)


def test_tokens_are_distinct():
    raws = {tokens.new_token()[0] for _ in range(2000)}
    assert len(raws) == 2000


def test_digest_is_sha256_hex_of_the_token_and_not_the_token():
    raw, digest = tokens.new_token()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == hashlib.sha256(raw.encode()).hexdigest()
    assert digest != raw and raw not in digest
    assert tokens.digest(raw) == digest  # deterministic: a link is looked up by its digest


def test_digest_accepts_any_text_from_a_url():
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.digest("\udcff not/a token é"))
    assert tokens.digest("a") != tokens.digest("A")
