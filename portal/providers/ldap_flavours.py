"""What differs between directories: OpenLDAP (ppolicy overlay, Password Modify) and
Active Directory (``unicodePwd``); how a refused password is explained."""

from __future__ import annotations

import ldap3
from flask_babel import gettext as _

from .base import AccountState, PasswordRejected

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
PPOLICY_CONTROL = (PPOLICY_OID, False, None)

# LDAP result codes (RFC 4511)
SUCCESS = 0
INVALID_CREDENTIALS = 49
CONSTRAINT_VIOLATION = 19
INSUFFICIENT_ACCESS = 50
UNWILLING = 53
NO_SUCH_ATTRIBUTE = 16
NO_SUCH_OBJECT = 32


def ppolicy_error(controls: dict | None) -> int | None:
    """The error code of a ppolicy response control (draft-behera-ldap-password-policy):
    SEQUENCE { warning [0] OPTIONAL, error [1] ENUMERATED OPTIONAL }."""
    if not controls or PPOLICY_OID not in controls:
        return None
    value = controls[PPOLICY_OID].get("value") or b""
    if len(value) < 2 or value[0] != 0x30:
        return None
    pos, end = 2, 2 + value[1]
    while pos + 1 < min(end, len(value)):
        tag, length = value[pos], value[pos + 1]
        body = value[pos + 2 : pos + 2 + length]
        if tag == 0x81 and body:
            return int.from_bytes(body, "big")
        pos += 2 + length
    return None


def rejection(result: dict) -> PasswordRejected:
    """A directory refusal as a message for the user (never a raw LDAP result code)."""
    code = ppolicy_error(result.get("controls"))
    text = (result.get("message") or "").lower()
    if code == 8 or "history" in text:
        return PasswordRejected(
            _(
                "The directory refused this password: you have used it "
                "before. Choose a different one."
            ),
            "in_history",
        )
    if code == 7 or "too young" in text:
        return PasswordRejected(
            _(
                "The directory does not allow another change yet: the "
                "password was changed too recently. Try again later."
            ),
            "too_young",
        )
    if code == 6 or "too short" in text or "not long enough" in text:
        return PasswordRejected(
            _("The directory refused this password: it is too short for the directory's rules."),
            "too_short",
        )
    if code in (3, 4) or result.get("result") in (INSUFFICIENT_ACCESS, UNWILLING):
        return PasswordRejected(
            _("The directory does not allow this password change. Ask your administrator."),
            "not_allowed",
        )
    return PasswordRejected(
        _(
            "The directory refused this password (its rules on length, "
            "complexity or reuse). Choose a different one."
        ),
        "quality",
    )


# --- flavours --------------------------------------------------------------------------


def ad_password(password: str) -> bytes:
    """``unicodePwd`` value: the password in double quotes, UTF-16-LE (MS-ADTS 3.1.1.3.1.5)."""
    return f'"{password}"'.encode("utf-16-le")


class OpenLDAP:
    state_attributes = ["pwdReset", "pwdAccountLockedTime"]

    def state(self, raw: dict) -> AccountState:
        reset = [v.upper() for v in raw.get("pwdReset", [])]
        return AccountState(
            must_change=b"TRUE" in reset, locked=bool(raw.get("pwdAccountLockedTime"))
        )

    def change_own(self, conn, dn: str, current: str, new: str) -> dict:
        conn.extend.standard.modify_password(dn, current, new, controls=[PPOLICY_CONTROL])
        return conn.result

    def admin_set(self, conn, dn: str, new: str) -> dict:
        conn.extend.standard.modify_password(dn, None, new, controls=[PPOLICY_CONTROL])
        return conn.result

    def flags(self, *, must_change: bool) -> dict:
        # ppolicy may set pwdReset itself (pwdMustChange): say explicitly what we want.
        return {
            "pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"] if must_change else [])],
            "pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])],
        }

    def unlock(self) -> dict:
        return {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]}


class ActiveDirectory:
    state_attributes = ["pwdLastSet", "lockoutTime", "userAccountControl"]

    def state(self, raw: dict) -> AccountState:
        def number(name):
            values = raw.get(name) or [b"0"]
            try:
                return int(values[0])
            except ValueError:
                return 0

        return AccountState(
            must_change=bool(raw.get("pwdLastSet")) and number("pwdLastSet") == 0,
            locked=number("lockoutTime") > 0,
            disabled=bool(number("userAccountControl") & 2),
        )

    @staticmethod
    def own_change(current: str, new: str) -> dict:
        """A user's own change: delete the old value and add the new one, in one modify."""
        return {
            "unicodePwd": [
                (ldap3.MODIFY_DELETE, [ad_password(current)]),
                (ldap3.MODIFY_ADD, [ad_password(new)]),
            ]
        }

    @staticmethod
    def admin_change(new: str) -> dict:
        """An administrator's reset: replace (needs the Reset Password right)."""
        return {"unicodePwd": [(ldap3.MODIFY_REPLACE, [ad_password(new)])]}

    def change_own(self, conn, dn: str, current: str, new: str) -> dict:
        conn.modify(dn, self.own_change(current, new))
        result = dict(conn.result)
        # ERROR_INVALID_PASSWORD (0x56): the old value did not match.
        if result.get("result") == CONSTRAINT_VIOLATION and "00000056" in (
            result.get("message") or ""
        ):
            result["wrong_current"] = True
        return result

    def admin_set(self, conn, dn: str, new: str) -> dict:
        conn.modify(dn, self.admin_change(new))
        return conn.result

    def flags(self, *, must_change: bool) -> dict:
        # pwdLastSet: 0 = must change at next logon; -1 = "now" (clears it).
        return {
            "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0" if must_change else "-1"])],
            "lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])],
        }

    def unlock(self) -> dict:
        return {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]}


FLAVOURS = {"openldap": OpenLDAP, "ad": ActiveDirectory}
