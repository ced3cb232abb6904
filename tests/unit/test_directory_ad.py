"""The Active Directory flavour (``unicodePwd``) and the ppolicy answer parser.

No real AD or Samba here: the modify requests are checked as built, then applied to
ldap3's in-memory MOCK_SYNC directory (which enforces that a MODIFY_DELETE names the
value actually stored, as AD does for a user's own change).
"""

from __future__ import annotations

import ldap3
import pytest

from portal.providers import DirectoryUnavailable, WrongPassword
from portal.providers.directory import (
    PPOLICY_OID,
    ActiveDirectory,
    Directory,
    Settings,
    ad_password,
    ppolicy_error,
    rejection,
)

BASE = "ou=people,dc=school,dc=test"
DN = f"cn=Dora Lefevre,{BASE}"
SERVICE = "cn=passgate,cn=Users,dc=school,dc=test"


def settings(**extra) -> Settings:
    values = dict(
        url="ldap://ad.school.test",
        start_tls=False,
        bind_dn=SERVICE,
        bind_password="service pw",
        user_base=BASE,
        user_filter="(objectClass=user)",
        attr_username="sAMAccountName",
        attr_email="mail",
        attr_first_name="givenName",
        attr_last_name="sn",
        attr_team="",
        flavour="ad",
        timeout=2.0,
    )
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def ad():
    server = ldap3.Server("ad.school.test", get_info=ldap3.NONE)
    directory = Directory(settings(), server=server, strategy=ldap3.MOCK_SYNC)
    seed = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC)
    seed.strategy.add_entry(SERVICE, {"objectClass": ["user"], "userPassword": "service pw"})
    seed.strategy.add_entry(
        DN,
        {
            "objectClass": ["user"],
            "sAMAccountName": "dora",
            "mail": "dora@school.test",
            "givenName": "Dora",
            "sn": "Lefevre",
            "userPassword": "old password 1",
            "unicodePwd": ad_password("old password 1"),
            "pwdLastSet": "133000000000000000",
            "lockoutTime": "133000000000000001",
            "userAccountControl": "512",
        },
    )
    return directory, seed


def stored(seed, *attributes) -> dict:
    seed.bind()
    seed.search(DN, "(objectClass=*)", search_scope=ldap3.BASE, attributes=list(attributes))
    return seed.response[0]["raw_attributes"]


def test_password_encoding_is_quoted_utf16le():
    assert ad_password("Pa€ss") == '"Pa€ss"'.encode("utf-16-le")
    assert ad_password("ab")[:2] == b'"\x00' and ad_password("ab")[-2:] == b'"\x00'


def test_own_change_is_delete_old_then_add_new():
    changes = ActiveDirectory.own_change("old one", "new one")
    assert changes == {
        "unicodePwd": [
            (ldap3.MODIFY_DELETE, [ad_password("old one")]),
            (ldap3.MODIFY_ADD, [ad_password("new one")]),
        ]
    }


def test_admin_change_is_a_replace_and_flags():
    assert ActiveDirectory.admin_change("temp") == {
        "unicodePwd": [(ldap3.MODIFY_REPLACE, [ad_password("temp")])]
    }
    flavour = ActiveDirectory()
    assert flavour.flags(must_change=True) == {
        "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])],
        "lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])],
    }
    assert flavour.flags(must_change=False)["pwdLastSet"] == [(ldap3.MODIFY_REPLACE, ["-1"])]
    assert flavour.unlock() == {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]}


def test_state_from_ad_attributes():
    flavour = ActiveDirectory()
    state = flavour.state(
        {"pwdLastSet": [b"0"], "lockoutTime": [b"1337"], "userAccountControl": [b"514"]}
    )
    assert state.must_change and state.locked and state.disabled
    state = flavour.state(
        {"pwdLastSet": [b"133"], "lockoutTime": [b"0"], "userAccountControl": [b"512"]}
    )
    assert not (state.must_change or state.locked or state.disabled)
    assert not flavour.state({}).must_change  # attribute not readable: not "must change"


def test_find_and_user_change_against_the_mock(ad, ctx):
    directory, seed = ad
    entry = directory.find("DORA@school.test", "login")
    assert entry.profile.dn == DN and entry.profile.username == "dora"
    assert entry.state.locked and not entry.state.must_change
    assert directory.bind_check(DN, "old password 1", "login")
    assert not directory.bind_check(DN, "wrong", "login")
    directory.change_own(DN, "old password 1", "new password 2")
    assert stored(seed, "unicodePwd")["unicodePwd"] == [ad_password("new password 2")]


def test_user_change_with_a_wrong_current_password_sends_nothing(ad, ctx):
    directory, seed = ad
    with pytest.raises(WrongPassword):
        directory.change_own(DN, "not the password", "new password 2")
    assert stored(seed, "unicodePwd")["unicodePwd"] == [ad_password("old password 1")]


def test_admin_set_replaces_and_sets_must_change_and_unlocks(ad, ctx):
    directory, seed = ad
    directory.admin_set(DN, "temporary 3", must_change=True)
    raw = stored(seed, "unicodePwd", "pwdLastSet", "lockoutTime")
    assert raw["unicodePwd"] == [ad_password("temporary 3")]
    assert raw["pwdLastSet"] == [b"0"] and raw["lockoutTime"] == [b"0"]
    directory.admin_set(DN, "chosen by user 4", must_change=False)
    assert stored(seed, "pwdLastSet")["pwdLastSet"] == [b"-1"]


def test_unlock_and_refused_service_account(ad, ctx):
    directory, seed = ad
    directory.unlock(DN)
    assert stored(seed, "lockoutTime")["lockoutTime"] == [b"0"]
    broken = Directory(
        settings(bind_password="nope"), server=directory.server(), strategy=ldap3.MOCK_SYNC
    )
    with pytest.raises(DirectoryUnavailable):
        broken.unlock(DN)


def test_ppolicy_control_parsing_and_messages(ctx):
    def answer(code):
        value = bytes([0x30, 3, 0x81, 1, code])
        return {PPOLICY_OID: {"value": value}}

    assert ppolicy_error(answer(8)) == 8 and ppolicy_error(answer(6)) == 6
    # A warning ([0], constructed) before the error is skipped.
    warned = {PPOLICY_OID: {"value": bytes([0x30, 7, 0xA0, 2, 0x80, 0, 0x81, 1, 5])}}
    assert ppolicy_error(warned) == 5
    assert ppolicy_error(None) is None and ppolicy_error({PPOLICY_OID: {"value": b""}}) is None
    assert rejection({"result": 19, "controls": answer(8)}).code == "in_history"
    assert rejection({"result": 19, "controls": answer(7)}).code == "too_young"
    assert rejection({"result": 19, "controls": answer(6)}).code == "too_short"
    assert rejection({"result": 19, "controls": answer(5)}).code == "quality"
    # Active Directory's constraint violation (no control): a generic, clear refusal.
    ad_error = rejection(
        {
            "result": 19,
            "message": "0000052D: Constraint violation - "
            "check_password_restrictions: the password is too short",
        }
    )
    assert ad_error.code == "too_short" and "0000052D" not in ad_error.message
    assert rejection({"result": 53, "message": "0000052D: unwilling"}).code == "not_allowed"


def test_wrong_old_value_answer_from_ad_is_a_wrong_password(ctx):
    result = ActiveDirectory().change_own(_Refusing(), DN, "old", "new")
    assert result["wrong_current"]
    with pytest.raises(WrongPassword):
        Directory(settings())._check_write(result, "password.change")


class _Refusing:
    """What AD answers when the deleted unicodePwd value is not the current password."""

    result = {"result": 19, "message": "00000056: AtrErr: DSID-03190F80, #1:"}

    def modify(self, dn, changes):
        assert changes == ActiveDirectory.own_change("old", "new")
        return False
