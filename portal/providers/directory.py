"""``sso`` accounts: the password lives in the organisation's LDAP directory (ldap3).

Two flavours, chosen by ``LDAP_FLAVOUR``:

- ``openldap`` (OpenLDAP with the ppolicy overlay, LLDAP, 389-DS…): changes use the
  Password Modify extended operation (RFC 3062), so the server hashes the password with
  its own scheme and applies its policy; the ppolicy response control says why a password
  was refused. Must-change is ``pwdReset: TRUE``; the lock is ``pwdAccountLockedTime``.
- ``ad`` (Active Directory, Samba AD): ``unicodePwd`` holds the quoted password in
  UTF-16-LE; a user's own change is one modify that deletes the old value and adds the
  new one, an administrator's is a replace. Must-change is ``pwdLastSet=0``; the lock is
  ``lockoutTime``.

Every network call has a timeout (``LDAP_TIMEOUT``). Unreachable, slow or a refused
service bind raise ``DirectoryUnavailable`` (503 page, audited), never a wrong-password
answer. No database transaction is open while this module talks to the directory.
"""

from __future__ import annotations

import math
import secrets
import ssl
from dataclasses import dataclass

import ldap3
from flask import current_app
from flask_babel import gettext as _
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from .. import accounts, audit, passwords
from ..db import database
from ..models import User, fold
from .base import (
    AccountState,
    DirectoryUnavailable,
    PasswordRejected,
    Profile,
    Provider,
    Verification,
    WrongPassword,
)

# Local rows of directory accounts carry this marker instead of a hash until Passgate
# itself sets their password: it never verifies (bcrypt refuses it), and the row does not
# look like a pending invitation.
DIRECTORY_HASH = "!directory"

# ldap3 wraps socket trouble in LDAPException subclasses; plain OSErrors are caught too.
NETWORK_ERRORS = (LDAPException, OSError)

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
PPOLICY_CONTROL = (PPOLICY_OID, False, None)

# LDAP result codes
SUCCESS = 0
INVALID_CREDENTIALS = 49
CONSTRAINT_VIOLATION = 19
INSUFFICIENT_ACCESS = 50
UNWILLING = 53
NO_SUCH_ATTRIBUTE = 16
NO_SUCH_OBJECT = 32


@dataclass(frozen=True)
class Settings:
    url: str
    start_tls: bool
    bind_dn: str
    bind_password: str
    user_base: str
    user_filter: str
    attr_username: str
    attr_email: str
    attr_first_name: str
    attr_last_name: str
    attr_team: str
    flavour: str
    timeout: float

    @classmethod
    def from_config(cls, cfg) -> Settings:
        return cls(
            url=cfg["LDAP_URL"], start_tls=bool(cfg["LDAP_START_TLS"]),
            bind_dn=cfg["LDAP_BIND_DN"], bind_password=cfg["LDAP_BIND_PASSWORD"] or "",
            user_base=cfg["LDAP_USER_BASE"],
            user_filter=cfg["LDAP_USER_FILTER"] or "(objectClass=inetOrgPerson)",
            attr_username=cfg["LDAP_ATTR_USERNAME"], attr_email=cfg["LDAP_ATTR_EMAIL"],
            attr_first_name=cfg["LDAP_ATTR_FIRST_NAME"], attr_last_name=cfg["LDAP_ATTR_LAST_NAME"],
            attr_team=cfg["LDAP_ATTR_TEAM"] or "", flavour=cfg["LDAP_FLAVOUR"],
            timeout=float(cfg["LDAP_TIMEOUT"]),
        )

    @property
    def team_is_group_base(self) -> bool:
        """``LDAP_ATTR_TEAM`` names a DN (groups below it) rather than an attribute."""
        return "=" in self.attr_team


# --- password policy answers -----------------------------------------------------------

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
        body = value[pos + 2:pos + 2 + length]
        if tag == 0x81 and body:
            return int.from_bytes(body, "big")
        pos += 2 + length
    return None


def rejection(result: dict) -> PasswordRejected:
    """A directory refusal as a message for the user (never a raw LDAP result code)."""
    code = ppolicy_error(result.get("controls"))
    text = (result.get("message") or "").lower()
    if code == 8 or "history" in text:
        return PasswordRejected(_("The directory refused this password: you have used it "
                                  "before. Choose a different one."), "in_history")
    if code == 7 or "too young" in text:
        return PasswordRejected(_("The directory does not allow another change yet: the "
                                  "password was changed too recently. Try again later."),
                                "too_young")
    if code == 6 or "too short" in text or "not long enough" in text:
        return PasswordRejected(_("The directory refused this password: it is too short "
                                  "for the directory's rules."), "too_short")
    if code in (3, 4) or result.get("result") in (INSUFFICIENT_ACCESS, UNWILLING):
        return PasswordRejected(_("The directory does not allow this password change. "
                                  "Ask your administrator."), "not_allowed")
    return PasswordRejected(_("The directory refused this password (its rules on length, "
                              "complexity or reuse). Choose a different one."), "quality")


# --- flavours --------------------------------------------------------------------------

def ad_password(password: str) -> bytes:
    """``unicodePwd`` value: the password in double quotes, UTF-16-LE (MS-ADTS 3.1.1.3.1.5)."""
    return f'"{password}"'.encode("utf-16-le")


class OpenLDAP:
    state_attributes = ["pwdReset", "pwdAccountLockedTime"]

    def state(self, raw: dict) -> AccountState:
        reset = [v.upper() for v in raw.get("pwdReset", [])]
        return AccountState(must_change=b"TRUE" in reset,
                            locked=bool(raw.get("pwdAccountLockedTime")))

    def change_own(self, conn, dn: str, current: str, new: str) -> dict:
        conn.extend.standard.modify_password(dn, current, new, controls=[PPOLICY_CONTROL])
        return conn.result

    def admin_set(self, conn, dn: str, new: str) -> dict:
        conn.extend.standard.modify_password(dn, None, new, controls=[PPOLICY_CONTROL])
        return conn.result

    def flags(self, *, must_change: bool) -> dict:
        # ppolicy may set pwdReset itself (pwdMustChange): say explicitly what we want.
        return {"pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"] if must_change else [])],
                "pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]}

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

        return AccountState(must_change=bool(raw.get("pwdLastSet")) and number("pwdLastSet") == 0,
                            locked=number("lockoutTime") > 0,
                            disabled=bool(number("userAccountControl") & 2))

    @staticmethod
    def own_change(current: str, new: str) -> dict:
        """A user's own change: delete the old value and add the new one, in one modify."""
        return {"unicodePwd": [(ldap3.MODIFY_DELETE, [ad_password(current)]),
                               (ldap3.MODIFY_ADD, [ad_password(new)])]}

    @staticmethod
    def admin_change(new: str) -> dict:
        """An administrator's reset: replace (needs the Reset Password right)."""
        return {"unicodePwd": [(ldap3.MODIFY_REPLACE, [ad_password(new)])]}

    def change_own(self, conn, dn: str, current: str, new: str) -> dict:
        conn.modify(dn, self.own_change(current, new))
        result = dict(conn.result)
        # ERROR_INVALID_PASSWORD (0x56): the old value did not match.
        if result.get("result") == CONSTRAINT_VIOLATION and "00000056" in (result.get("message") or ""):
            result["wrong_current"] = True
        return result

    def admin_set(self, conn, dn: str, new: str) -> dict:
        conn.modify(dn, self.admin_change(new))
        return conn.result

    def flags(self, *, must_change: bool) -> dict:
        # pwdLastSet: 0 = must change at next logon; -1 = "now" (clears it).
        return {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0" if must_change else "-1"])],
                "lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]}

    def unlock(self) -> dict:
        return {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]}


FLAVOURS = {"openldap": OpenLDAP, "ad": ActiveDirectory}


# --- the directory client --------------------------------------------------------------

@dataclass
class Entry:
    profile: Profile
    state: AccountState


class Directory:
    """Stateless client: one short connection per operation, every call bounded."""

    def __init__(self, settings: Settings, server=None, strategy=ldap3.SYNC):
        self.s = settings
        self.flavour = FLAVOURS[settings.flavour]()
        self._server = server
        self._strategy = strategy

    # connections
    def server(self):
        if self._server is None:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)
            self._server = ldap3.Server(self.s.url, use_ssl=self.s.url.lower().startswith("ldaps:"),
                                        tls=tls, get_info=ldap3.NONE,
                                        connect_timeout=self.s.timeout)
        return self._server

    def connect(self, dn: str, password: str, operation: str):
        """An open connection bound as ``dn``, or None if the directory refused the
        credentials (invalidCredentials & co). Network trouble raises DirectoryUnavailable."""
        # auto_referrals off: credentials are never replayed to a host named by a referral.
        conn = ldap3.Connection(self.server(), user=dn, password=password,
                                client_strategy=self._strategy, raise_exceptions=False,
                                auto_referrals=False,
                                receive_timeout=math.ceil(self.s.timeout), auto_bind=ldap3.AUTO_BIND_NONE)
        try:
            conn.open()
            if self.s.start_tls:
                conn.start_tls()
            if conn.bind():
                return conn
            code = conn.result.get("result")
        except NETWORK_ERRORS as exc:
            _close(conn)
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
        _close(conn)
        if code in (INVALID_CREDENTIALS, UNWILLING, INSUFFICIENT_ACCESS, NO_SUCH_OBJECT, 48, 50):
            return None
        raise DirectoryUnavailable(f"bind result {code}", operation)

    def service(self, operation: str):
        conn = self.connect(self.s.bind_dn, self.s.bind_password, operation)
        if conn is None:
            raise DirectoryUnavailable("service bind refused", operation)
        return conn

    # reads
    def attributes(self) -> list[str]:
        names = [self.s.attr_username, self.s.attr_email, self.s.attr_first_name,
                 self.s.attr_last_name, *self.flavour.state_attributes]
        if self.s.attr_team and not self.s.team_is_group_base:
            names.append(self.s.attr_team)
        return [n for n in names if n]

    def _search(self, conn, condition: str, operation: str, limit: int = 2) -> list[dict]:
        query = f"(&{self.s.user_filter}{condition})"
        try:
            conn.search(self.s.user_base, query, search_scope=ldap3.SUBTREE,
                        attributes=self.attributes(), size_limit=limit,
                        time_limit=max(int(self.s.timeout), 1))
        except NETWORK_ERRORS as exc:
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
        code = conn.result.get("result")
        if code not in (SUCCESS, 4, NO_SUCH_OBJECT):  # 4 = sizeLimitExceeded
            raise DirectoryUnavailable(f"search result {code}", operation)
        return [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]

    def find(self, identifier: str, operation: str, conn=None) -> Entry | None:
        """The one entry whose username or email attribute equals ``identifier``."""
        value = escape_filter_chars(identifier.strip())
        if not value:
            return None
        condition = f"(|({self.s.attr_username}={value})({self.s.attr_email}={value}))"
        own = conn is None
        conn = conn or self.service(operation)
        try:
            found = self._search(conn, condition, operation)
            if len(found) != 1:  # none, or ambiguous: never guess
                return None
            return self.entry(conn, found[0], operation)
        finally:
            if own:
                _close(conn)

    def all_entries(self, operation: str = "sync") -> list[Entry]:
        conn = self.service(operation)
        try:
            entries = []
            try:
                pages = conn.extend.standard.paged_search(
                    self.s.user_base, self.s.user_filter, search_scope=ldap3.SUBTREE,
                    attributes=self.attributes(), paged_size=500, generator=True)
                for row in pages:
                    if row.get("type") == "searchResEntry":
                        entries.append(self.entry(conn, row, operation))
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, operation) from None
            if conn.result.get("result") not in (SUCCESS, None):
                raise DirectoryUnavailable(f"search result {conn.result.get('result')}", operation)
            return entries
        finally:
            _close(conn)

    def entry(self, conn, row: dict, operation: str) -> Entry:
        attrs = row.get("attributes") or {}
        raw = row.get("raw_attributes") or {}

        def first(name):
            if not name:
                return None
            value = attrs.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            return str(value).strip() if value not in (None, "") else None

        team = first(self.s.attr_team) if self.s.attr_team and not self.s.team_is_group_base \
            else self.group_of(conn, row["dn"], first(self.s.attr_username), operation)
        profile = Profile(dn=row["dn"], username=first(self.s.attr_username) or "",
                          email=first(self.s.attr_email),
                          first_name=(first(self.s.attr_first_name) or "")[:64],
                          last_name=(first(self.s.attr_last_name) or "")[:64],
                          team=(team or "")[:64] or None)
        state_raw = {k: raw.get(k) or [] for k in self.flavour.state_attributes}
        # ldap3 keys raw attributes case-insensitively only in some versions: look both ways
        for key, value in raw.items():
            for name in self.flavour.state_attributes:
                if key.lower() == name.lower():
                    state_raw[name] = value
        return Entry(profile, self.flavour.state(state_raw))

    def group_of(self, conn, dn: str, username: str | None, operation: str) -> str | None:
        """With ``LDAP_ATTR_TEAM`` set to a DN: the first group below it the user is in."""
        if not self.s.team_is_group_base:
            return None
        member = escape_filter_chars(dn)
        uid = escape_filter_chars(username or "")
        query = (f"(|(&(objectClass=groupOfNames)(member={member}))"
                 f"(&(objectClass=groupOfUniqueNames)(uniqueMember={member}))"
                 f"(&(objectClass=posixGroup)(memberUid={uid})))")
        try:
            conn.search(self.s.attr_team, query, search_scope=ldap3.SUBTREE, attributes=["cn"],
                        size_limit=1, time_limit=max(int(self.s.timeout), 1))
        except NETWORK_ERRORS as exc:
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
        for row in conn.response or []:
            cn = (row.get("attributes") or {}).get("cn")
            if cn:
                return cn[0] if isinstance(cn, list) else str(cn)
        return None

    # password checks and writes
    def bind_check(self, dn: str | None, password: str, operation: str) -> bool:
        """Bind as the user. Without a DN, a DN that cannot exist (same round trip)."""
        if not password:
            return False  # an empty password would be an anonymous bind (RFC 4513 5.1.2)
        if dn is None:
            dn = f"{self.s.attr_username}=passgate-{secrets.token_hex(8)},{self.s.user_base}"
        conn = self.connect(dn, password, operation)
        if conn is None:
            return False
        _close(conn)
        return True

    def change_own(self, dn: str, current: str, new: str) -> None:
        conn = self.connect(dn, current, "password.change") if current else None
        if conn is None:
            raise WrongPassword()
        try:
            try:
                result = self.flavour.change_own(conn, dn, current, new)
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "password.change") from None
        finally:
            _close(conn)
        self._check_write(result, "password.change")

    def admin_set(self, dn: str, new: str, *, must_change: bool) -> None:
        conn = self.service("password.set")
        try:
            try:
                result = self.flavour.admin_set(conn, dn, new)
                self._check_write(result, "password.set")
                conn.modify(dn, self.flavour.flags(must_change=must_change))
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "password.set") from None
            if conn.result.get("result") not in (SUCCESS, NO_SUCH_ATTRIBUTE):
                raise DirectoryUnavailable(f"modify result {conn.result.get('result')}",
                                           "password.set")
        finally:
            _close(conn)

    def unlock(self, dn: str) -> None:
        conn = self.service("unlock")
        try:
            try:
                conn.modify(dn, self.flavour.unlock())
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "unlock") from None
            if conn.result.get("result") not in (SUCCESS, NO_SUCH_ATTRIBUTE):
                raise DirectoryUnavailable(f"modify result {conn.result.get('result')}", "unlock")
        finally:
            _close(conn)

    def _check_write(self, result: dict, operation: str) -> None:
        code = result.get("result")
        if code == SUCCESS:
            return
        if result.get("wrong_current") or code == INVALID_CREDENTIALS:
            raise WrongPassword()
        if code in (CONSTRAINT_VIOLATION, INSUFFICIENT_ACCESS, UNWILLING):
            raise rejection(result)
        raise DirectoryUnavailable(f"write result {code}", operation)


def _close(conn) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real answer  # nosec B110
        pass


# --- the provider ----------------------------------------------------------------------

class DirectoryProvider(Provider):
    name = "sso"
    remote = True

    def __init__(self, directory: Directory):
        self.directory = directory

    @classmethod
    def from_app(cls) -> DirectoryProvider:
        return cls(Directory(Settings.from_config(current_app.config)))

    def lookup(self, identifier: str) -> User | None:
        user = accounts.find(identifier)
        return user if user is not None and user.provider == self.name else None

    def verify(self, identifier: str, password: str, user: User | None) -> Verification:
        # The same bcrypt work as a local sign-in, then one search and one bind whether
        # or not the entry exists: neither the answer nor its timing tells them apart.
        passwords.verify_password(password, None)
        found = self.directory.find(identifier, "login")
        matches = self.directory.bind_check(found.profile.dn if found else None, password, "login")
        if found is None:
            return Verification(user=user, matches=False)
        return Verification(user=user, matches=matches, profile=found.profile, state=found.state)

    def adopt(self, verification: Verification) -> User | None:
        if verification.profile is None:
            return None
        return upsert(verification.profile, verification.state)

    def _dn(self, user: User) -> str:
        found = self.directory.find(user.username, "lookup")
        if found is None:
            raise DirectoryUnavailable("entry not found", "lookup")
        return found.profile.dn

    def check_current(self, user: User, password: str) -> bool:
        found = self.directory.find(user.username, "password.change")
        return self.directory.bind_check(found.profile.dn if found else None, password,
                                         "password.change") and found is not None

    def change_password(self, user: User, current: str, new: str) -> None:
        self.directory.change_own(self._dn(user), current, new)

    def set_password(self, user: User, new: str, *, must_change: bool) -> None:
        self.directory.admin_set(self._dn(user), new, must_change=must_change)

    def unlock(self, user: User) -> None:
        self.directory.unlock(self._dn(user))

    def state(self, user: User) -> AccountState:
        found = self.directory.find(user.username, "state")
        return found.state if found else AccountState(exists=False)

    def owned_fields(self) -> tuple[str, ...]:
        owned = ("username", "email", "first_name", "last_name")
        return (*owned, "team_id") if self.directory.s.attr_team else owned

    def find_account(self, identifier: str) -> User | None:
        found = self.directory.find(identifier, "lookup")
        if found is None:
            return None
        with database.atomic():
            return upsert(found.profile, found.state)


def upsert(profile: Profile, state: AccountState | None, *, actor: User | None = None,
           counts: dict | None = None) -> User | None:
    """Create or update the local row of a directory entry (no network; short).

    Returns None when the username belongs to a local (``identity``) account: the two are
    never merged.
    """
    username = profile.username
    try:
        username = accounts.clean_username(username)
    except accounts.AccountError:
        return None
    key = fold(username)
    user = User.get_or_none(User.username_key == key)
    if user is not None and user.provider != "sso":
        _count(counts, "conflicts")
        audit.record("directory.conflict", outcome="failure", target=user,
                     detail={"reason": "local_account_with_same_username"})
        return None
    email = None
    if profile.email:
        try:
            email = accounts.clean_email(profile.email)
        except accounts.AccountError:
            email = None
    if email:
        clash = User.get_or_none(((User.email_key == fold(email)) | (User.username_key == fold(email)))
                                 & (User.id != (user.id if user else 0)))
        if clash is not None:
            email = None  # another account owns this address: keep the directory user mail-less
    team = accounts.ensure_team(profile.team) if profile.team else None
    values = {
        "username": username, "email": email, "first_name": profile.first_name,
        "last_name": profile.last_name,
    }
    if current_app.config.get("LDAP_ATTR_TEAM"):
        values["team"] = team.id if team else None
    if user is None:
        user = User.create(
            username_key=key, email_key=fold(email) if email else None,
            first_name_key=fold(profile.first_name) or "",
            last_name_key=fold(profile.last_name) or "", provider="sso",
            password_hash=DIRECTORY_HASH, security_stamp=accounts.new_stamp(),
            must_change=bool(state and state.must_change), **values)
        audit.record("user.create", actor=actor, target=user,
                     detail={"source": "directory"})
        _count(counts, "created")
        return user
    old = {"username": user.username, "email": user.email, "first_name": user.first_name,
           "last_name": user.last_name, "team": user.team_id}
    changes = {k: [old[k], v] for k, v in values.items() if old[k] != v}
    fields = dict(values)
    fields.update(email_key=fold(email) if email else None,
                  first_name_key=fold(profile.first_name) or "",
                  last_name_key=fold(profile.last_name) or "")
    if state is not None and bool(state.must_change) != user.must_change:
        fields["must_change"] = bool(state.must_change)
        if not state.must_change:
            fields["temp_password_expires_at"] = None
    if "email" in changes:
        fields["security_stamp"] = accounts.new_stamp()
    if changes or "must_change" in fields:
        User.update(**fields).where(User.id == user.id).execute()
        user = User.get_by_id(user.id)
    if changes:
        audit.record("user.update", actor=actor, target=user,
                     detail={"changed": changes, "source": "directory"})
    _count(counts, "updated" if changes or "must_change" in fields else "unchanged")
    return user


def _count(counts: dict | None, key: str) -> None:
    if counts is not None:
        counts[key] = counts.get(key, 0) + 1
