"""portal/passwords.py: bcrypt over an HMAC pre-hash, dummy hash, temporary passwords."""

from __future__ import annotations

import re
import unicodedata

import pytest

from portal import passwords
from portal.passwords import TEMP_ALPHABET


@pytest.fixture
def appctx(app):
    with app.app_context():
        yield app


def test_hash_is_bcrypt_at_the_test_cost(appctx):
    hashed = passwords.hash_password("violet lantern harbour 1987")
    assert re.match(r"^\$2b\$04\$", hashed)
    assert len(hashed) == 60


def test_salted_hashes_differ(appctx):
    assert passwords.hash_password("same password") != passwords.hash_password("same password")


def test_verify_true_and_false(appctx):
    hashed = passwords.hash_password("violet lantern harbour 1987")
    assert passwords.verify_password("violet lantern harbour 1987", hashed)
    assert not passwords.verify_password("violet lantern harbour 1988", hashed)
    assert not passwords.verify_password("Violet lantern harbour 1987", hashed)  # case counts
    assert not passwords.verify_password("", hashed)


@pytest.mark.parametrize(
    "password",
    [
        "a" * 99 + "b",  # 100 characters: beyond bcrypt's 72 bytes
        "é" * 80 + "z",  # 162 UTF-8 bytes
        "密码" * 30 + "🔑x",
    ],
)
def test_long_and_unicode_passwords_are_verified_in_full(appctx, password):
    hashed = passwords.hash_password(password)
    assert passwords.verify_password(password, hashed)
    assert not passwords.verify_password(password[:-1] + "Q", hashed)  # the last char counts
    # bcrypt alone would see only the first 72 bytes: that prefix must not pass
    assert not passwords.verify_password(password.encode()[:72].decode(errors="ignore"), hashed)


def test_nfd_and_nfc_forms_are_the_same_password(appctx):
    nfc = unicodedata.normalize("NFC", "Crème brûlée à Noël 2026")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert passwords.verify_password(nfd, passwords.hash_password(nfc))
    assert passwords.verify_password(nfc, passwords.hash_password(nfd))


def test_nul_is_significant(appctx):
    hashed = passwords.hash_password("abc\0def")
    assert passwords.verify_password("abc\0def", hashed)
    assert not passwords.verify_password("abc", hashed)
    assert not passwords.verify_password("abcdef", hashed)


def test_no_hash_uses_the_dummy_and_fails(appctx):
    assert passwords.verify_password("anything at all", None) is False
    assert passwords.verify_password("anything at all", "") is False


def test_malformed_hash_fails_without_raising(appctx):
    assert passwords.verify_password("x", "not a bcrypt hash") is False
    assert passwords.verify_password("x", "$2b$04$short") is False


def test_needs_rehash_when_the_cost_differs(make_app, appctx):
    hashed = passwords.hash_password("violet lantern harbour 1987")
    assert not passwords.needs_rehash(hashed)
    assert passwords.needs_rehash("garbage")
    stronger = make_app(BCRYPT_ROUNDS=5)
    with stronger.app_context():
        assert passwords.needs_rehash(hashed)
        assert passwords.verify_password("violet lantern harbour 1987", hashed)  # still valid
        assert passwords.hash_password("x").startswith("$2b$05$")


def test_temporary_password_shape():
    temp = passwords.generate_temporary()
    groups = temp.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4, 4]
    assert all(ch in TEMP_ALPHABET for ch in "".join(groups))
    assert len("".join(groups)) == 20


def test_temporary_alphabet_is_unambiguous_and_large_enough():
    assert not set("0Oo1lI5S2Z8B") & set(TEMP_ALPHABET)
    assert len(set(TEMP_ALPHABET)) == len(TEMP_ALPHABET) >= 45  # 20 chars ≥ 110 bits


def test_temporary_passwords_are_distinct_and_use_the_whole_alphabet():
    temps = [passwords.generate_temporary() for _ in range(300)]
    assert len(set(temps)) == 300
    used = set("".join(temps).replace("-", ""))
    assert used == set(TEMP_ALPHABET)


def test_temporary_password_passes_the_default_policy(app):
    from portal.policy import Policy, evaluate

    with app.test_request_context():
        for _ in range(20):
            assert evaluate(passwords.generate_temporary(), Policy()).ok
